// Package recipe turns a CC staging request into the staging task (spec
// bridge.md §2.4) and the task's completion into the response CC gets
// (§2.5, §2.6). It is pure: the handlers do the I/O.
package recipe

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"diego/ccbridge/lifecycle"
	"diego/ccbridge/stager"
	"diego/models"
	"diego/receptor"
)

// Errors a request can fail validation with (§2.4's order).
var (
	ErrMissingLifecycleData = errors.New(stager.MissingLifecycleDataMsg)
	ErrMissingAppID         = errors.New(stager.MissingAppIDMessage)
	ErrMissingAppBits       = errors.New(stager.MissingAppBitsDownloadURI)
	ErrNoCompilerDefined    = errors.New(stager.NoCompilerDefinedMessage)
)

// Config is what the recipe needs from the stager's config.
type Config struct {
	// CallbackURL is staging_task_callback_url: the BBS calls back
	// <CallbackURL>/v1/staging/<guid>/completed.
	CallbackURL string
	// FileServerURL turns a scheme-less lifecycle path into a URL.
	FileServerURL string
	// CCUploaderURL receives the droplet and cache uploads.
	CCUploaderURL string
	// Lifecycles maps "buildpack/<stack>" to a bundle path or URL.
	Lifecycles map[string]string
	// Privileged is diego_privileged_containers.
	Privileged bool
	// SkipCertVerify is passed to the builder.
	SkipCertVerify bool
}

// ParseLifecycles reads the lifecycles config list
// ("<lifecycle>/<stack>:<path-or-url>", split on the first colon).
func ParseLifecycles(entries []string) (map[string]string, error) {
	out := map[string]string{}
	for _, e := range entries {
		name, path, ok := strings.Cut(e, ":")
		if !ok || name == "" || path == "" {
			return nil, fmt.Errorf("lifecycles entry %q is not <lifecycle>/<stack>:<path-or-url>", e)
		}
		out[name] = path
	}
	return out, nil
}

// LifecycleURL is the bundle's download URL: an http(s) value as is, a
// value with no scheme under the file-server's static route.
func LifecycleURL(fileServerURL, value string) (string, error) {
	u, err := url.Parse(value)
	if err != nil {
		return "", fmt.Errorf("lifecycle bundle %q: %w", value, err)
	}
	switch u.Scheme {
	case "http", "https":
		return value, nil
	case "":
		return strings.TrimSuffix(fileServerURL, "/") + "/v1/static/" + strings.TrimPrefix(value, "/"), nil
	}
	return "", fmt.Errorf("%s: %q", stager.UnsupportedLifecycleScheme, value)
}

// BuildpackData decodes and validates a buildpack request's lifecycle data
// (§2.4's validation order).
func BuildpackData(req stager.StagingRequestFromCC) (stager.BuildpackStagingData, error) {
	var data stager.BuildpackStagingData
	if req.LifecycleData == nil || string(*req.LifecycleData) == "null" {
		return data, ErrMissingLifecycleData
	}
	if err := json.Unmarshal(*req.LifecycleData, &data); err != nil {
		return data, fmt.Errorf("lifecycle_data: %w", err)
	}
	if req.AppId == "" {
		return data, ErrMissingAppID
	}
	if data.AppBitsDownloadUri == "" {
		return data, ErrMissingAppBits
	}
	return data, nil
}

// BuildTask builds the staging task for guid (§2.4) in the form the
// receptor takes (§9.0; decision 70: the lifecycle and the buildpacks are
// cached downloads at the head of the Serial).
func (c Config) BuildTask(guid string, req stager.StagingRequestFromCC) (receptor.TaskCreateRequest, error) {
	data, err := BuildpackData(req)
	if err != nil {
		return receptor.TaskCreateRequest{}, err
	}
	bundle, ok := c.Lifecycles[stager.BuildpackLifecycle+"/"+data.Stack]
	if !ok {
		return receptor.TaskCreateRequest{}, ErrNoCompilerDefined
	}
	lifecycleURL, err := LifecycleURL(c.FileServerURL, bundle)
	if err != nil {
		return receptor.TaskCreateRequest{}, err
	}
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = stager.DefaultStagingTimeout
	}
	annotation, err := json.Marshal(stager.StagingTaskAnnotation{
		Lifecycle: stager.BuildpackLifecycle, CompletionCallback: req.CompletionCallback,
	})
	if err != nil {
		return receptor.TaskCreateRequest{}, err
	}

	var actions []*models.Action
	actions = append(actions, models.WrapAction(&models.DownloadAction{
		From: lifecycleURL, To: lifecycle.Dir, CacheKey: "buildpack-" + data.Stack + "-lifecycle", User: "vcap",
	}))
	var keys []string
	for _, bp := range data.Buildpacks {
		keys = append(keys, bp.Key)
		if bp.Name == stager.CustomBuildpack {
			continue
		}
		actions = append(actions, models.WrapAction(&models.DownloadAction{
			Artifact: bp.Name, From: bp.Url, To: lifecycle.BuildpackPath(lifecycle.BuildpacksDir, bp.Key),
			CacheKey: bp.Key, User: "vcap",
		}))
	}
	actions = append(actions, models.WrapAction(&models.DownloadAction{
		Artifact: "app package", From: data.AppBitsDownloadUri, To: lifecycle.BuildDir, User: "vcap",
	}))
	if data.BuildArtifactsCacheDownloadUri != "" {
		actions = append(actions, models.WrapAction(&models.TryAction{Action: models.WrapAction(&models.DownloadAction{
			Artifact: "build artifacts cache", From: data.BuildArtifactsCacheDownloadUri,
			To: lifecycle.BuildArtifactsCacheDir, User: "vcap",
		})}))
	}
	skipDetect := len(data.Buildpacks) == 1 && data.Buildpacks[0].SkipDetect
	env := append(append([]*models.EnvironmentVariable(nil), req.Environment...),
		&models.EnvironmentVariable{Name: "CF_STACK", Value: data.Stack})
	run := &models.RunAction{
		Path: lifecycle.BuilderPath,
		Args: builderArgs(map[string]string{
			"buildArtifactsCacheDir":    lifecycle.BuildArtifactsCacheDir,
			"buildDir":                  lifecycle.BuildDir,
			"buildpackOrder":            strings.Join(keys, ","),
			"buildpacksDir":             lifecycle.BuildpacksDir,
			"outputBuildArtifactsCache": lifecycle.OutputBuildArtifactsCache,
			"outputDroplet":             lifecycle.OutputDroplet,
			"outputMetadata":            lifecycle.OutputMetadata,
			"skipCertVerify":            strconv.FormatBool(c.SkipCertVerify),
			"skipDetect":                strconv.FormatBool(skipDetect),
		}),
		Env:  env,
		User: "vcap",
	}
	// CC always sends file_descriptors; without it, a nofile limit of 0
	// would leave the builder unable to open anything.
	if req.FileDescriptors > 0 {
		nofile := uint64(req.FileDescriptors)
		run.ResourceLimits = &models.ResourceLimits{Nofile: &nofile}
	}
	actions = append(actions, models.WrapAction(&models.EmitProgressAction{
		Action:       models.WrapAction(run),
		StartMessage: "Staging...", SuccessMessage: "Staging complete", FailureMessagePrefix: "Staging failed",
	}))
	uploads := []*models.Action{models.WrapAction(&models.UploadAction{
		Artifact: "droplet", From: lifecycle.OutputDroplet,
		To:   c.uploadURL("droplet", req.AppId, "cc-droplet-upload-uri", data.DropletUploadUri, timeout),
		User: "vcap",
	}), models.WrapAction(&models.TryAction{Action: models.WrapAction(&models.UploadAction{
		Artifact: "build artifacts cache", From: lifecycle.OutputBuildArtifactsCache,
		To:   c.uploadURL("build_artifacts", req.AppId, "cc-build-artifacts-upload-uri", data.BuildArtifactsCacheUploadUri, timeout),
		User: "vcap",
	})})}
	actions = append(actions, models.WrapAction(&models.EmitProgressAction{
		Action:       models.WrapAction(&models.ParallelAction{Actions: uploads}),
		StartMessage: "Uploading droplet, build artifacts cache...", SuccessMessage: "Uploading complete",
		FailureMessagePrefix: "Uploading failed",
	}))
	action := models.WrapAction(&models.TimeoutAction{
		Action:    models.WrapAction(&models.SerialAction{Actions: actions}),
		TimeoutMs: (time.Duration(timeout) * time.Second).Milliseconds(),
	})
	action.SetDeprecatedTimeoutNs()

	return receptor.TaskCreateRequest{
		TaskGuid:              guid,
		Domain:                stager.StagingDomain,
		RootFS:                "preloaded:" + data.Stack,
		MemoryMB:              int32(req.MemoryMB),
		DiskMB:                int32(req.DiskMB),
		CPUWeight:             stager.StagingCPUWeight,
		LogGuid:               req.LogGuid,
		LogSource:             stager.StagingLogSource,
		MetricsGuid:           req.LogGuid,
		ResultFile:            lifecycle.OutputMetadata,
		CompletionCallbackURL: strings.TrimSuffix(c.CallbackURL, "/") + "/v1/staging/" + guid + "/completed",
		Annotation:            string(annotation),
		EgressRules:           req.EgressRules,
		EnvironmentVariables:  []*models.EnvironmentVariable{{Name: "LANG", Value: "en_US.UTF-8"}},
		Privileged:            c.Privileged,
		Action:                action,
	}, nil
}

// uploadURL is <cc_uploader_url>/v1/<kind>/<app>?<key>=<cc uri>&timeout=<secs>,
// the query encoded with sorted keys.
func (c Config) uploadURL(kind, appID, key, ccURI string, timeout int) string {
	q := url.Values{key: {ccURI}, "timeout": {strconv.Itoa(timeout)}}
	return strings.TrimSuffix(c.CCUploaderURL, "/") + "/v1/" + kind + "/" + url.PathEscape(appID) + "?" + q.Encode()
}

// builderArgs writes every flag as -name=value in lexical order (§8.1).
func builderArgs(flags map[string]string) []string {
	names := make([]string, 0, len(flags))
	for n := range flags {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, "-"+n+"="+flags[n])
	}
	return out
}

// Response is the staging response for a completed staging task (§2.5):
// the builder's result.json verbatim, or a sanitised error.
func Response(cb *models.TaskCallbackResponse) (stager.StagingResponseForCC, error) {
	if cb.GetFailed() {
		e := Sanitize(cb.GetFailureReason())
		return stager.StagingResponseForCC{Error: &e}, nil
	}
	result := cb.GetResult()
	if !json.Valid([]byte(result)) {
		return stager.StagingResponseForCC{}, fmt.Errorf("the staging result is not JSON: %q", result)
	}
	raw := json.RawMessage(result)
	return stager.StagingResponseForCC{Result: &raw}, nil
}

// dockerMessages are the failure reasons passed to CC as they are (§2.6).
var dockerMessages = []string{
	"missing docker image download url", "missing docker registry",
	"missing docker credentials", "invalid docker registry address",
}

// Sanitize maps a task's failure_reason to the error CC sees (§2.6).
func Sanitize(reason string) stager.StagingError {
	switch {
	case strings.HasSuffix(reason, strconv.Itoa(lifecycle.ExitDetectFailed)):
		return stager.StagingError{Id: stager.NoAppDetectedErrorID, Message: stager.StagingFailedMessage}
	case strings.HasSuffix(reason, strconv.Itoa(lifecycle.ExitCompileFailed)):
		return stager.StagingError{Id: stager.BuildpackCompileFailedID, Message: stager.StagingFailedMessage}
	case strings.HasSuffix(reason, strconv.Itoa(lifecycle.ExitReleaseFailed)):
		return stager.StagingError{Id: stager.BuildpackReleaseFailedID, Message: stager.StagingFailedMessage}
	case strings.HasPrefix(reason, "insufficient resources"):
		return stager.StagingError{Id: stager.InsufficientResourcesID, Message: reason}
	case strings.HasPrefix(reason, "found no compatible cell"):
		return stager.StagingError{Id: stager.NoCompatibleCellID, Message: reason}
	case reason == "unable to communicate to compatible cells":
		return stager.StagingError{Id: stager.CellCommunicationErrorID, Message: reason}
	}
	for _, m := range dockerMessages {
		if reason == m {
			return stager.StagingError{Id: stager.StagingErrorID, Message: reason}
		}
	}
	return stager.StagingError{Id: stager.StagingErrorID, Message: stager.StagingFailedMessage}
}
