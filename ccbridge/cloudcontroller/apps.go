package cloudcontroller

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"diego/ccbridge/ccclient"
	"diego/ccbridge/stager"
	"diego/deploy/routes"
	"diego/models"
)

// App states and package states (spec §5.2).
const (
	Started = "STARTED"
	Stopped = "STOPPED"
	Pending = "PENDING"
	Staged  = "STAGED"
	Failed  = "FAILED"
)

// appFields are the keys a create or update may send (spec §5.3); a nil
// pointer is a key not sent.
type appFields struct {
	Name               *string          `json:"name"`
	SpaceGuid          *string          `json:"space_guid"`
	Command            *string          `json:"command"`
	Memory             *int             `json:"memory"`
	Instances          *int             `json:"instances"`
	DiskQuota          *int             `json:"disk_quota"`
	Buildpack          *string          `json:"buildpack"`
	StackGuid          *string          `json:"stack_guid"`
	State              *string          `json:"state"`
	EnvironmentJSON    *json.RawMessage `json:"environment_json"`
	HealthCheckType    *string          `json:"health_check_type"`
	HealthCheckTimeout *int             `json:"health_check_timeout"`
	Diego              *bool            `json:"diego"`
	EnableSSH          *bool            `json:"enable_ssh"`
	DockerImage        *string          `json:"docker_image"`
	Ports              *[]int           `json:"ports"`
}

// effects are the bridge calls a transaction decided on, made after it
// commits (spec §8.2).
type effects struct {
	stopStaging []string
	stopApps    []string
	stage       *stageCall
	desire      []ccclient.DesireAppRequestFromCC
}

type stageCall struct {
	appGuid, guid string
	req           stager.StagingRequestFromCC
}

func (s *Server) touch(a *App) {
	now := s.clock.Now().UTC()
	a.UpdatedAt = &now
	a.ETag = fmt.Sprintf("%d.%06d", now.Unix(), now.Nanosecond()/1000)
}

func appURL(g string) string { return "/v2/apps/" + g }

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Server) healthTimeout(a App) any {
	if a.HealthCheckTimeout == 0 {
		return nil
	}
	return a.HealthCheckTimeout
}

func (s *Server) appResource(tx *bolt.Tx, a App, depth int) map[string]any {
	env := a.EnvironmentJSON
	if env == nil {
		env = map[string]any{}
	}
	e := map[string]any{"name": a.Name, "space_guid": a.SpaceGuid, "stack_guid": a.StackGuid, "state": a.State,
		"instances": a.Instances, "memory": a.Memory, "disk_quota": a.DiskQuota, "command": nullable(a.Command),
		"detected_start_command": a.DetectedStartCommand, "buildpack": nullable(a.Buildpack), "detected_buildpack": nullable(a.DetectedBuildpack),
		"package_state": a.PackageState, "staging_failed_reason": nullable(a.StagingFailedReason),
		"staging_failed_description": nullable(a.StagingFailedDescription), "package_updated_at": rfc(a.PackageUpdatedAt),
		"environment_json": env, "health_check_type": a.HealthCheckType, "health_check_timeout": s.healthTimeout(a),
		"version": a.Version, "staging_task_id": nullable(a.StagingTaskID), "diego": true, "enable_ssh": false, "docker_image": nil,
		"ports": []int{8080}, "production": false, "console": false, "debug": nil,
		"space_url": "/v2/spaces/" + a.SpaceGuid, "stack_url": "/v2/stacks/" + a.StackGuid,
		"routes_url": appURL(a.Guid) + "/routes", "events_url": appURL(a.Guid) + "/events"}
	if depth >= 1 {
		rs := []map[string]any{}
		for _, rg := range a.RouteGuids {
			if rt, ok, _ := get[Route](tx, bRoutes, rg); ok {
				rs = append(rs, s.routeResource(tx, rt, 1, false))
			}
		}
		e["routes"] = rs
		if st, ok, _ := get[Stack](tx, bStacks, a.StackGuid); ok {
			e["stack"] = stackResource(st)
		}
	}
	return envelope(a.Meta, appURL(a.Guid), e)
}

func (s *Server) getAppTx(tx *bolt.Tx, g string) (App, error) {
	a, ok, err := get[App](tx, bApps, g)
	if err != nil {
		return a, err
	}
	if !ok {
		return a, errAppNotFound(g)
	}
	return a, nil
}

func (s *Server) appItems(tx *bolt.Tx, space string) ([]item, error) {
	apps, err := all[App](tx, bApps)
	var out []item
	for _, a := range apps {
		if space != "" && a.SpaceGuid != space {
			continue
		}
		out = append(out, item{seq: a.Seq, name: a.Name, attrs: map[string]string{"name": a.Name, "space_guid": a.SpaceGuid},
			render: func(d int) map[string]any { return s.appResource(tx, a, d) }})
	}
	return out, err
}

func (s *Server) listApps(w http.ResponseWriter, r *http.Request) error {
	return s.list(w, r, []string{"name", "space_guid"}, true, func(tx *bolt.Tx, lq listQuery) ([]item, error) { return s.appItems(tx, "") })
}

func (s *Server) spaceApps(w http.ResponseWriter, r *http.Request) error {
	sg := routes.Param(r, "guid")
	return s.list(w, r, []string{"name"}, true, func(tx *bolt.Tx, lq listQuery) ([]item, error) {
		if _, ok, err := get[Space](tx, bSpaces, sg); err != nil || !ok {
			return nil, orNotFound(err, cfErr(404, 40004, "SpaceNotFound", "The app space could not be found: %s", sg))
		}
		return s.appItems(tx, sg)
	})
}

func (s *Server) getApp(w http.ResponseWriter, r *http.Request) error {
	return s.view(func(tx *bolt.Tx) error {
		a, err := s.getAppTx(tx, routes.Param(r, "guid"))
		if err != nil {
			return err
		}
		writeJSON(w, 200, s.appResource(tx, a, depthOf(r)))
		return nil
	})
}

var urlBuildpack = regexp.MustCompile(`^(https?|git)://`)

// validate applies the checks of spec §5.3, in order, to a copy of a with
// f applied; nothing is written.
func (s *Server) validate(tx *bolt.Tx, a *App, f appFields, create bool) error {
	if f.Name != nil || create {
		if f.Name == nil || !validName(*f.Name) {
			return errAppInvalid("name must be 1 to 255 characters")
		}
		a.Name = *f.Name
	}
	if create {
		if f.SpaceGuid == nil {
			return errAppInvalid("space_guid is required")
		}
		if _, ok, err := get[Space](tx, bSpaces, *f.SpaceGuid); err != nil || !ok {
			return orNotFound(err, errRelation("space "+*f.SpaceGuid+" does not exist"))
		}
		a.SpaceGuid = *f.SpaceGuid
	} else if f.SpaceGuid != nil && *f.SpaceGuid != a.SpaceGuid {
		return errAppInvalid("space_guid cannot change")
	}
	if g := tx.Bucket(bAppNames).Get([]byte(a.SpaceGuid + "/" + strings.ToLower(a.Name))); g != nil && string(g) != a.Guid {
		return cfErr(400, 100002, "AppNameTaken", "The app name is taken: %s", a.Name)
	}
	if f.Memory != nil {
		if *f.Memory <= 0 {
			return cfErr(400, 100006, "AppMemoryInvalid", "You have specified an invalid amount of memory for your application.")
		}
		a.Memory = *f.Memory
	}
	if f.DiskQuota != nil {
		if *f.DiskQuota <= 0 || *f.DiskQuota > s.cfg.MaxAppDiskMB {
			return errAppInvalid(fmt.Sprintf("disk_quota must be between 1 and %d", s.cfg.MaxAppDiskMB))
		}
		a.DiskQuota = *f.DiskQuota
	}
	if f.Instances != nil {
		if *f.Instances < 0 {
			return errAppInvalid("instances must not be negative")
		}
		if *f.Instances > s.cfg.MaxAppInstances {
			return cfErr(400, 100008, "QuotaInstanceLimitExceeded", "You have exceeded the instance limit for your organization's quota.")
		}
		a.Instances = *f.Instances
	}
	newState := a.State
	if f.State != nil {
		if *f.State != Started && *f.State != Stopped {
			return errAppInvalid("state must be STARTED or STOPPED")
		}
		newState = *f.State
	}
	if f.StackGuid != nil {
		if _, ok, err := get[Stack](tx, bStacks, *f.StackGuid); err != nil || !ok {
			return orNotFound(err, errRelation("stack "+*f.StackGuid+" does not exist"))
		}
		a.StackGuid = *f.StackGuid
	}
	if f.Buildpack != nil {
		bp := *f.Buildpack
		if bp != "" && !urlBuildpack.MatchString(bp) && !slices.Contains(builtinNames, bp) {
			return errAppInvalid("buildpack " + bp + " is not a valid URL or a known buildpack name")
		}
		a.Buildpack = bp
	}
	if f.HealthCheckType != nil {
		if !slices.Contains([]string{"port", "none", "process"}, *f.HealthCheckType) {
			return errAppInvalid("health_check_type must be port, none or process")
		}
		a.HealthCheckType = *f.HealthCheckType
	}
	if f.HealthCheckTimeout != nil {
		if *f.HealthCheckTimeout < 1 || *f.HealthCheckTimeout > int(s.cfg.MaxHealthCheckTimeout.Duration().Seconds()) {
			return errAppInvalid("health_check_timeout is out of range")
		}
		a.HealthCheckTimeout = *f.HealthCheckTimeout
	}
	if f.EnvironmentJSON != nil {
		var env map[string]any
		if err := json.Unmarshal(*f.EnvironmentJSON, &env); err != nil || env == nil {
			return errAppInvalid("environment_json must be an object")
		}
		for k := range env {
			if strings.HasPrefix(k, "VCAP_") || k == "PORT" {
				return errAppInvalid("environment_json cannot set " + k)
			}
		}
		a.EnvironmentJSON = env
	}
	if f.Command != nil {
		if len(*f.Command) > 4096 {
			return errAppInvalid("command must be at most 4096 characters")
		}
		a.Command = *f.Command
	}
	if f.DockerImage != nil && *f.DockerImage != "" {
		return cfErr(400, 320003, "DockerDisabled", "Docker support has not been enabled.")
	}
	if (f.Diego != nil && !*f.Diego) || (f.Ports != nil && !slices.Equal(*f.Ports, []int{8080})) {
		return errAppInvalid("only diego apps on port 8080 are supported")
	}
	if newState == Started && a.State != Started && a.PackageHash == "" {
		return cfErr(400, 150001, "AppPackageInvalid", "The app package is invalid: bits have not been uploaded")
	}
	if newState == Started {
		if err := s.checkQuota(tx, *a); err != nil {
			return err
		}
	}
	return nil
}

// checkQuota sums memory × instances of the org's STARTED apps with a as
// it would be (spec §5.3).
func (s *Server) checkQuota(tx *bolt.Tx, a App) error {
	sp, _, err := get[Space](tx, bSpaces, a.SpaceGuid)
	if err != nil {
		return err
	}
	spaces, err := all[Space](tx, bSpaces)
	if err != nil {
		return err
	}
	inOrg := map[string]bool{}
	for _, x := range spaces {
		inOrg[x.Guid] = x.OrgGuid == sp.OrgGuid
	}
	apps, err := all[App](tx, bApps)
	if err != nil {
		return err
	}
	total := a.Memory * a.Instances
	for _, o := range apps {
		if o.Guid != a.Guid && o.State == Started && inOrg[o.SpaceGuid] {
			total += o.Memory * o.Instances
		}
	}
	if total > s.cfg.OrgMemoryLimitMB {
		return cfErr(400, 100005, "AppMemoryQuotaExceeded", "You have exceeded your organization's memory limit: app requested %d MB, the limit is %d MB", total, s.cfg.OrgMemoryLimitMB)
	}
	return nil
}

func (s *Server) createApp(w http.ResponseWriter, r *http.Request) error {
	var f appFields
	raw, err := s.decode(r, &f)
	if err != nil {
		return err
	}
	var out map[string]any
	err = s.update(func(tx *bolt.Tx) error {
		stacks, err := all[Stack](tx, bStacks)
		if err != nil {
			return err
		}
		var stackGuid string
		for _, st := range stacks {
			if st.Name == s.cfg.Stacks[0].Name {
				stackGuid = st.Guid
			}
		}
		a := App{Meta: s.newMeta(tx, bApps), State: Stopped, PackageState: Pending, Instances: 1,
			Memory: s.cfg.DefaultAppMemoryMB, DiskQuota: s.cfg.DefaultAppDiskMB, StackGuid: stackGuid,
			HealthCheckType: "port", Version: uuid.NewString(), EnvironmentJSON: map[string]any{}}
		a.Seq = 0
		if err := s.validate(tx, &a, f, true); err != nil {
			return err
		}
		id, _ := tx.Bucket(bAppsByID).NextSequence()
		a.ID, a.Seq = id, id
		now := s.clock.Now().UTC()
		a.ETag = fmt.Sprintf("%d.%06d", now.Unix(), now.Nanosecond()/1000)
		if err := s.saveApp(tx, a, ""); err != nil {
			return err
		}
		if err := s.record(tx, a, "audit.app.create", requestMeta(raw)); err != nil {
			return err
		}
		out = s.appResource(tx, a, 0)
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, 201, out)
	return nil
}

// saveApp writes a and its indexes; oldName is the name key to drop.
func (s *Server) saveApp(tx *bolt.Tx, a App, oldKey string) error {
	key := a.SpaceGuid + "/" + strings.ToLower(a.Name)
	if oldKey != "" && oldKey != key {
		if err := tx.Bucket(bAppNames).Delete([]byte(oldKey)); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bAppNames).Put([]byte(key), []byte(a.Guid)); err != nil {
		return err
	}
	if err := tx.Bucket(bAppsByID).Put(seqKey(a.ID), []byte(a.Guid)); err != nil {
		return err
	}
	return put(tx, bApps, a.Guid, a)
}

func nameKey(a App) string { return a.SpaceGuid + "/" + strings.ToLower(a.Name) }

func requestMeta(raw map[string]json.RawMessage) map[string]any {
	req := map[string]any{}
	for k, v := range raw {
		if k == "environment_json" {
			req[k] = "PRIVATE DATA HIDDEN"
			continue
		}
		var x any
		_ = json.Unmarshal(v, &x)
		req[k] = x
	}
	return map[string]any{"request": req}
}

func (s *Server) updateApp(w http.ResponseWriter, r *http.Request) error {
	var f appFields
	raw, err := s.decode(r, &f)
	if err != nil {
		return err
	}
	g := routes.Param(r, "guid")
	var eff effects
	err = s.update(func(tx *bolt.Tx) error {
		eff = effects{}
		a, err := s.getAppTx(tx, g)
		if err != nil {
			return err
		}
		old := a
		if err := s.validate(tx, &a, f, false); err != nil {
			return err
		}
		newState := a.State
		if f.State != nil {
			newState = *f.State
		}
		if a.PackageHash != "" && (a.Buildpack != old.Buildpack || a.StackGuid != old.StackGuid) {
			s.markRestage(&a, &eff)
		}
		switch {
		case newState == Started && old.State != Started:
			a.State = Started
			if err := s.start(tx, &a, &eff); err != nil {
				return err
			}
		case newState == Stopped && old.State != Stopped:
			a.State = Stopped
			s.stop(&a, &eff)
		case a.Instances != old.Instances && a.ProcessGuid != "":
			s.touch(&a)
			if err := s.desire(tx, a, &eff); err != nil {
				return err
			}
		}
		s.touch(&a)
		if err := s.saveApp(tx, a, nameKey(old)); err != nil {
			return err
		}
		return s.record(tx, a, "audit.app.update", requestMeta(raw))
	})
	if err != nil {
		return err
	}
	s.apply(r, g, eff)
	return s.view(func(tx *bolt.Tx) error {
		a, err := s.getAppTx(tx, g)
		if err != nil {
			return err
		}
		writeJSON(w, 201, s.appResource(tx, a, max(depthOf(r), 1)))
		return nil
	})
}

// start is a transition to STARTED (spec §8.2).
func (s *Server) start(tx *bolt.Tx, a *App, eff *effects) error {
	a.Version = uuid.NewString()
	switch {
	case a.PackageState == Staged:
		a.ProcessGuid = a.Guid + "-" + a.Version
		s.touch(a)
		return s.desire(tx, *a, eff)
	case a.StagingTaskID != "":
		return nil
	default:
		return s.beginStaging(tx, a, eff)
	}
}

func (s *Server) stop(a *App, eff *effects) {
	if a.ProcessGuid != "" {
		eff.stopApps = append(eff.stopApps, a.ProcessGuid)
	}
	a.ProcessGuid = ""
}

func (s *Server) markRestage(a *App, eff *effects) {
	a.PackageState = Pending
	a.StagingFailedReason, a.StagingFailedDescription = "", ""
	if a.StagingTaskID != "" {
		eff.stopStaging = append(eff.stopStaging, a.Guid+"-"+a.StagingTaskID)
		a.StagingTaskID = ""
	}
}

// apply makes the bridge calls after a commit; a stager failure marks the
// app FAILED in a second transaction (spec §8.3).
func (s *Server) apply(r *http.Request, appGuid string, eff effects) {
	ctx := r.Context()
	for _, g := range eff.stopStaging {
		if err := s.bridge.StopStaging(ctx, g); err != nil {
			s.logger.Error("stop-staging-failed", "error", err)
		}
	}
	for _, pg := range eff.stopApps {
		if err := s.bridge.StopApp(ctx, pg); err != nil {
			s.logger.Error("stop-app-failed", "process_guid", pg, "error", err)
		}
	}
	if eff.stage != nil {
		if stageErr := s.bridge.Stage(ctx, eff.stage.guid, eff.stage.req); stageErr != nil {
			s.logger.Error("stage-failed", "error", stageErr)
			task := strings.TrimPrefix(eff.stage.guid, eff.stage.appGuid+"-")
			_ = s.update(func(tx *bolt.Tx) error {
				a, ok, err := get[App](tx, bApps, eff.stage.appGuid)
				if err != nil || !ok || a.StagingTaskID != task {
					return err
				}
				a.PackageState, a.StagingTaskID = Failed, ""
				a.StagingFailedReason, a.StagingFailedDescription = "StagerError", stageErr.Error()
				s.touch(&a)
				return put(tx, bApps, a.Guid, a)
			})
		}
	}
	for _, d := range eff.desire {
		if err := s.bridge.Desire(ctx, d.ProcessGuid, d); err != nil {
			s.logger.Error("desire-failed", "process_guid", d.ProcessGuid, "error", err)
		}
	}
}

func (s *Server) deleteApp(w http.ResponseWriter, r *http.Request) error {
	g := routes.Param(r, "guid")
	var eff effects
	err := s.update(func(tx *bolt.Tx) error {
		eff = effects{}
		a, err := s.getAppTx(tx, g)
		if err != nil {
			return err
		}
		s.stop(&a, &eff)
		if a.StagingTaskID != "" {
			eff.stopStaging = append(eff.stopStaging, a.Guid+"-"+a.StagingTaskID)
		}
		for _, b := range []error{tx.Bucket(bApps).Delete([]byte(g)), tx.Bucket(bAppNames).Delete([]byte(nameKey(a))),
			tx.Bucket(bAppsByID).Delete(seqKey(a.ID))} {
			if b != nil {
				return b
			}
		}
		return s.record(tx, a, "audit.app.delete-request", map[string]any{"request": map[string]any{"recursive": true}})
	})
	if err != nil {
		return err
	}
	s.removeAppBlobs(g)
	s.apply(r, g, eff)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) restageApp(w http.ResponseWriter, r *http.Request) error {
	g := routes.Param(r, "guid")
	var eff effects
	err := s.update(func(tx *bolt.Tx) error {
		eff = effects{}
		a, err := s.getAppTx(tx, g)
		if err != nil {
			return err
		}
		if a.PackageHash == "" {
			return cfErr(400, 150001, "AppPackageInvalid", "The app package is invalid: bits have not been uploaded")
		}
		if a.StagingTaskID != "" {
			return cfErr(400, 170002, "NotStaged", "App has not finished staging")
		}
		s.stop(&a, &eff)
		s.markRestage(&a, &eff)
		a.State = Started
		if err := s.start(tx, &a, &eff); err != nil {
			return err
		}
		s.touch(&a)
		if err := put(tx, bApps, a.Guid, a); err != nil {
			return err
		}
		return s.record(tx, a, "audit.app.restage", map[string]any{})
	})
	if err != nil {
		return err
	}
	s.apply(r, g, eff)
	return s.view(func(tx *bolt.Tx) error {
		a, err := s.getAppTx(tx, g)
		if err != nil {
			return err
		}
		writeJSON(w, 201, s.appResource(tx, a, 0))
		return nil
	})
}

// ---- staging and desiring (spec §8.3, §8.5)

func (s *Server) internalBase() string {
	u := s.cfg.InternalURL
	scheme, rest, _ := strings.Cut(u, "://")
	return scheme + "://" + s.cfg.InternalAPIUser + ":" + s.cfg.InternalAPIPassword + "@" + strings.TrimSuffix(rest, "/")
}

func (s *Server) environment(tx *bolt.Tx, a App) []*models.EnvironmentVariable {
	sp, _, _ := get[Space](tx, bSpaces, a.SpaceGuid)
	uris := s.uris(tx, a)
	vcap, _ := json.Marshal(map[string]any{"application_id": a.Guid, "application_name": a.Name, "application_uris": uris,
		"application_version": a.Version, "version": a.Version, "name": a.Name, "uris": uris, "space_id": a.SpaceGuid,
		"space_name": sp.Name, "cf_api": s.cfg.ExternalURL, "limits": map[string]int{"mem": a.Memory, "disk": a.DiskQuota, "fds": s.cfg.FileDescriptors}})
	env := []*models.EnvironmentVariable{{Name: "VCAP_APPLICATION", Value: string(vcap)},
		{Name: "MEMORY_LIMIT", Value: fmt.Sprintf("%dm", a.Memory)}, {Name: "VCAP_SERVICES", Value: "{}"}}
	keys := make([]string, 0, len(a.EnvironmentJSON))
	for k := range a.EnvironmentJSON {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, ok := a.EnvironmentJSON[k].(string)
		if !ok {
			b, _ := json.Marshal(a.EnvironmentJSON[k])
			v = string(b)
		}
		env = append(env, &models.EnvironmentVariable{Name: k, Value: v})
	}
	return env
}

func (s *Server) uris(tx *bolt.Tx, a App) []string {
	out := []string{}
	for _, rg := range a.RouteGuids {
		if rt, ok, _ := get[Route](tx, bRoutes, rg); ok {
			out = append(out, s.routeURL(tx, rt))
		}
	}
	return out
}

func (s *Server) stackName(tx *bolt.Tx, a App) string {
	st, _, _ := get[Stack](tx, bStacks, a.StackGuid)
	return st.Name
}

func (s *Server) beginStaging(tx *bolt.Tx, a *App, eff *effects) error {
	now := s.clock.Now().UTC()
	a.StagingTaskID = uuid.NewString()
	a.StagingStartedAt = &now
	a.PackageState = Pending
	a.StagingFailedReason, a.StagingFailedDescription = "", ""
	call, err := s.stagingCall(tx, a)
	if err != nil {
		return err
	}
	eff.stage = call
	return nil
}

// stagingCall is the stager request for a's staging in flight (§8.3).
func (s *Server) stagingCall(tx *bolt.Tx, a *App) (*stageCall, error) {
	base := s.internalBase()
	data := stager.BuildpackStagingData{
		AppBitsDownloadUri:           base + "/staging/apps/" + a.Guid,
		BuildArtifactsCacheUploadUri: base + "/staging/buildpack_cache/" + a.Guid + "/upload",
		DropletUploadUri:             base + "/staging/droplets/" + a.Guid + "/upload?staging_task_id=" + a.StagingTaskID,
		Stack:                        s.stackName(tx, *a),
	}
	if fileExists(s.store.cachePath(a.Guid)) {
		data.BuildArtifactsCacheDownloadUri = base + "/staging/buildpack_cache/" + a.Guid + "/download"
	}
	bpURL := func(n string) string { return s.cfg.FileServerURL + "/v1/static/buildpacks/" + n + ".zip" }
	switch {
	case a.Buildpack == "":
		for _, n := range builtinNames {
			data.Buildpacks = append(data.Buildpacks, stager.Buildpack{Name: n, Key: n, Url: bpURL(n)})
		}
	case slices.Contains(builtinNames, a.Buildpack):
		data.Buildpacks = []stager.Buildpack{{Name: a.Buildpack, Key: a.Buildpack, Url: bpURL(a.Buildpack), SkipDetect: true}}
	default:
		data.Buildpacks = []stager.Buildpack{{Name: stager.CustomBuildpack, Key: a.Buildpack, Url: a.Buildpack, SkipDetect: true}}
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	lr := json.RawMessage(raw)
	var egress []*models.SecurityGroupRule
	if err := json.Unmarshal(s.cfg.StagingEgressRules, &egress); err != nil {
		return nil, fmt.Errorf("staging_egress_rules: %w", err)
	}
	return &stageCall{appGuid: a.Guid, guid: a.Guid + "-" + a.StagingTaskID, req: stager.StagingRequestFromCC{
		AppId: a.Guid, LogGuid: a.Guid, FileDescriptors: s.cfg.FileDescriptors,
		MemoryMB: max(a.Memory, s.cfg.StagingMemoryMB), DiskMB: max(a.DiskQuota, s.cfg.StagingDiskMB),
		Environment: s.environment(tx, *a), EgressRules: egress, Timeout: int(s.cfg.StagingTimeout.Duration().Seconds()),
		Lifecycle: stager.BuildpackLifecycle, LifecycleData: &lr,
		CompletionCallback: base + "/internal/staging/" + a.Guid + "-" + a.StagingTaskID + "/completed",
	}}, nil
}

func (s *Server) desireRequest(tx *bolt.Tx, a App) (ccclient.DesireAppRequestFromCC, error) {
	var egress []*models.SecurityGroupRule
	if err := json.Unmarshal(s.cfg.RunningEgressRules, &egress); err != nil {
		return ccclient.DesireAppRequestFromCC{}, fmt.Errorf("running_egress_rules: %w", err)
	}
	cmd := a.Command
	if cmd == "" {
		cmd = a.DetectedStartCommand
	}
	hc := a.HealthCheckTimeout
	if hc == 0 {
		hc = int(s.cfg.DefaultHealthCheckTimeout.Duration().Seconds())
	}
	routing := ccclient.CCRouteInfo{}
	for _, u := range s.uris(tx, a) {
		routing.HTTPRoutes = append(routing.HTTPRoutes, ccclient.CCHTTPRoute{Hostname: u})
	}
	return ccclient.DesireAppRequestFromCC{
		ProcessGuid: a.ProcessGuid, ETag: a.ETag, DropletUri: s.internalBase() + "/staging/droplets/" + a.Guid + "/download",
		DropletHash: a.DropletHash, Stack: s.stackName(tx, a), ExecutionMetadata: a.ExecutionMetadata, StartCommand: cmd,
		Environment: s.environment(tx, a), MemoryMB: a.Memory, DiskMB: a.DiskQuota, FileDescriptors: uint64(s.cfg.FileDescriptors),
		NumInstances: a.Instances, RoutingInfo: routing, LogGuid: a.Guid, LogSource: "APP", HealthCheckType: a.HealthCheckType,
		HealthCheckTimeoutInSeconds: uint(hc), EgressRules: egress, Ports: []uint32{8080},
	}, nil
}

func (s *Server) desire(tx *bolt.Tx, a App, eff *effects) error {
	d, err := s.desireRequest(tx, a)
	if err != nil {
		return err
	}
	eff.desire = append(eff.desire, d)
	return nil
}

// ---- events (spec §11)

func (s *Server) record(tx *bolt.Tx, a App, typ string, metadata map[string]any) error {
	return s.recordAs(tx, a, typ, metadata, s.user.Guid, "user", s.user.Name)
}

func (s *Server) recordAs(tx *bolt.Tx, a App, typ string, metadata map[string]any, actor, actorType, actorName string) error {
	sp, _, _ := get[Space](tx, bSpaces, a.SpaceGuid)
	seq, err := tx.Bucket(bEvents).NextSequence()
	if err != nil {
		return err
	}
	ev := Event{Meta: Meta{Guid: uuid.NewString(), CreatedAt: s.now(), Seq: seq}, Type: typ, Actor: actor, ActorType: actorType,
		ActorName: actorName, Actee: a.Guid, ActeeType: "app", ActeeName: a.Name, Timestamp: s.now(), Metadata: metadata,
		SpaceGuid: a.SpaceGuid, OrgGuid: sp.OrgGuid}
	raw, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bEvents).Put(seqKey(seq), raw); err != nil {
		return err
	}
	acteeKey := append([]byte(a.Guid+"/"), seqKey(seq)...)
	if err := tx.Bucket(bEventActee).Put(acteeKey, nil); err != nil {
		return err
	}
	// keep at most 500 per app, dropping the oldest
	var keys [][]byte
	c := tx.Bucket(bEventActee).Cursor()
	prefix := []byte(a.Guid + "/")
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, slices.Clone(k))
	}
	for len(keys) > 500 {
		if err := tx.Bucket(bEventActee).Delete(keys[0]); err != nil {
			return err
		}
		if err := tx.Bucket(bEvents).Delete(keys[0][len(prefix):]); err != nil {
			return err
		}
		keys = keys[1:]
	}
	return nil
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) error {
	return s.list(w, r, []string{"actee", "type", "space_guid", "organization_guid"}, false, func(tx *bolt.Tx, lq listQuery) ([]item, error) {
		evs, err := all[Event](tx, bEvents)
		var out []item
		for _, e := range evs {
			out = append(out, item{seq: e.Seq, attrs: map[string]string{"actee": e.Actee, "type": e.Type, "space_guid": e.SpaceGuid, "organization_guid": e.OrgGuid},
				render: func(int) map[string]any {
					return envelope(e.Meta, "/v2/events/"+e.Guid, map[string]any{"type": e.Type, "actor": e.Actor, "actor_type": e.ActorType,
						"actor_name": e.ActorName, "actee": e.Actee, "actee_type": e.ActeeType, "actee_name": e.ActeeName,
						"timestamp": e.Timestamp.UTC().Format(time.RFC3339), "metadata": e.Metadata, "space_guid": e.SpaceGuid,
						"organization_guid": e.OrgGuid})
				}})
		}
		return out, err
	})
}

var _ = strconv.Itoa
