package nsync

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"diego/ccbridge/ccclient"
	"diego/models"
	"diego/receptor"
)

// Domains and routing keys of spec bridge §1.3 and §3.3.
const (
	AppsDomain  = "cf-apps"
	TasksDomain = "cf-tasks"

	CFRouterKey  = "cf-router"
	TCPRouterKey = "tcp-router"

	// DefaultPort is the app port when the CC sends none.
	DefaultPort = 8080
	// DefaultFileDescriptors is the nofile limit when the CC sends none.
	DefaultFileDescriptors = 1024

	lifecyclePath  = "/tmp/lifecycle"
	launcherPath   = lifecyclePath + "/launcher"
	healthcheckBin = lifecyclePath + "/healthcheck"
	monitorTimeout = 10 * time.Minute
)

// Recipe errors; each is a 400 at the listener (spec bridge §3.3).
var (
	ErrDropletSourceMissing = errors.New("desired app missing droplet_uri")
	ErrMultipleAppSources   = errors.New("desired app contained both droplet_uri and docker_image; only one is allowed.")
	ErrNoLifecycleDefined   = errors.New("no lifecycle binary bundle defined for stack")
	// ErrDockerNotSupported: diego has no docker recipe builder (§9.10).
	ErrDockerNotSupported = errors.New("docker apps are not supported: no docker recipe builder")
)

// Lifecycles maps "buildpack/<stack>" to the bundle's path under the
// file-server's static directory.
type Lifecycles map[string]string

// ParseLifecycles reads the config's "buildpack/<stack>:<path>" entries.
func ParseLifecycles(entries []string) (Lifecycles, error) {
	out := Lifecycles{}
	for _, e := range entries {
		key, path, ok := strings.Cut(e, ":")
		if !ok || key == "" || path == "" {
			return nil, fmt.Errorf("lifecycle %q is not <lifecycle>/<stack>:<path>", e)
		}
		out[key] = path
	}
	return out, nil
}

// RecipeBuilder turns the CC's messages into receptor requests (spec bridge
// §3.3, §3.5). The receptor's 2015 form has no cached dependencies, so the
// lifecycle bundle is the first download of the setup, as 2015 nsync did.
type RecipeBuilder struct {
	Lifecycles    Lifecycles
	FileServerURL string
}

func (b RecipeBuilder) lifecycleURL(lifecycle, stack string) (string, error) {
	path, ok := b.Lifecycles[lifecycle+"/"+stack]
	if !ok {
		return "", ErrNoLifecycleDefined
	}
	return strings.TrimSuffix(b.FileServerURL, "/") + "/v1/static/" + strings.TrimPrefix(path, "/"), nil
}

// CPUWeight is the share of CPU an app of memoryMB gets (spec bridge §3.3).
func CPUWeight(memoryMB int) uint32 {
	const maxMB = 8192
	if memoryMB > maxMB {
		return 100
	}
	if memoryMB < 128 {
		memoryMB = 128
	}
	return uint32(100 * memoryMB / maxMB)
}

// Ports are the app's container ports: the CC's, or 8080.
func Ports(req ccclient.DesireAppRequestFromCC) []uint32 {
	if len(req.Ports) == 0 {
		return []uint32{DefaultPort}
	}
	return req.Ports
}

// BuildDesiredLRP is the desired LRP a desire-app message asks for.
func (b RecipeBuilder) BuildDesiredLRP(req ccclient.DesireAppRequestFromCC) (receptor.DesiredLRPCreateRequest, error) {
	switch {
	case req.DockerImageUrl != "" && req.DropletUri != "":
		return receptor.DesiredLRPCreateRequest{}, ErrMultipleAppSources
	case req.DockerImageUrl != "":
		return receptor.DesiredLRPCreateRequest{}, ErrDockerNotSupported
	case req.DropletUri == "":
		return receptor.DesiredLRPCreateRequest{}, ErrDropletSourceMissing
	}
	lifecycleURL, err := b.lifecycleURL("buildpack", req.Stack)
	if err != nil {
		return receptor.DesiredLRPCreateRequest{}, err
	}
	ports := Ports(req)
	routes, err := RoutesFor(req)
	if err != nil {
		return receptor.DesiredLRPCreateRequest{}, err
	}

	droplet := &models.DownloadAction{
		From: req.DropletUri, To: ".", CacheKey: "droplets-" + req.ProcessGuid, User: "vcap",
	}
	if req.DropletHash != "" {
		droplet.ChecksumAlgorithm, droplet.ChecksumValue = "sha1", req.DropletHash
	}
	setup := models.WrapAction(&models.SerialAction{Actions: []*models.Action{
		models.WrapAction(&models.DownloadAction{
			From: lifecycleURL, To: lifecyclePath, CacheKey: "buildpack-" + req.Stack + "-lifecycle", User: "vcap",
		}),
		models.WrapAction(droplet),
	}})

	port := fmt.Sprint(ports[0])
	env := append(append([]*models.EnvironmentVariable{}, req.Environment...),
		&models.EnvironmentVariable{Name: "PORT", Value: port},
		&models.EnvironmentVariable{Name: "VCAP_APP_PORT", Value: port},
		&models.EnvironmentVariable{Name: "VCAP_APP_HOST", Value: "0.0.0.0"},
	)
	logSource := req.LogSource
	if logSource == "" {
		logSource = "APP"
	}
	nofile := req.FileDescriptors
	if nofile == 0 {
		nofile = DefaultFileDescriptors
	}
	action := models.WrapAction(&models.CodependentAction{Actions: []*models.Action{
		models.WrapAction(&models.RunAction{
			Path:           launcherPath,
			Args:           []string{"app", req.StartCommand, req.ExecutionMetadata},
			Env:            env,
			ResourceLimits: &models.ResourceLimits{Nofile: &nofile},
			User:           "vcap",
			LogSource:      logSource,
		}),
	}})

	return receptor.DesiredLRPCreateRequest{
		ProcessGuid:          req.ProcessGuid,
		Domain:               AppsDomain,
		RootFS:               "preloaded:" + req.Stack,
		Instances:            int32(req.NumInstances),
		EnvironmentVariables: []*models.EnvironmentVariable{{Name: "LANG", Value: "en_US.UTF-8"}},
		Setup:                setup,
		Action:               action,
		Monitor:              monitor(req, ports),
		StartTimeout:         uint32(req.HealthCheckTimeoutInSeconds),
		DiskMB:               int32(req.DiskMB),
		MemoryMB:             int32(req.MemoryMB),
		CPUWeight:            CPUWeight(req.MemoryMB),
		Ports:                uint16s(ports),
		Routes:               routes,
		LogGuid:              req.LogGuid,
		LogSource:            "CELL",
		MetricsGuid:          req.LogGuid,
		Annotation:           req.ETag,
		EgressRules:          req.EgressRules,
	}, nil
}

// monitor checks every port (spec bridge §3.3): a TCP connect for "port"
// and "", an HTTP GET for "http", nothing for "none" and the rest.
func monitor(req ccclient.DesireAppRequestFromCC, ports []uint32) *models.Action {
	switch req.HealthCheckType {
	case "", "port", "http":
	default:
		return nil
	}
	nofile := uint64(DefaultFileDescriptors)
	var checks []*models.Action
	for _, p := range ports {
		args := []string{fmt.Sprintf("-port=%d", p)}
		if req.HealthCheckType == "http" {
			args = append(args, "-uri="+req.HealthCheckHTTPEndpoint)
		}
		checks = append(checks, models.WrapAction(&models.RunAction{
			Path: healthcheckBin, Args: args, User: "vcap", LogSource: "HEALTH",
			ResourceLimits: &models.ResourceLimits{Nofile: &nofile}, SuppressLogOutput: true,
		}))
	}
	m := models.WrapAction(&models.TimeoutAction{
		Action:    models.WrapAction(&models.ParallelAction{Actions: checks}),
		TimeoutMs: monitorTimeout.Milliseconds(),
	})
	// The receptor's 2015 form carries the timeout in nanoseconds.
	m.SetDeprecatedTimeoutNs()
	return m
}

func uint16s(ports []uint32) []uint16 {
	out := make([]uint16, 0, len(ports))
	for _, p := range ports {
		out = append(out, uint16(p))
	}
	return out
}

// cfRoute is one entry of the cf-router routes.
type cfRoute struct {
	Hostnames       []string `json:"hostnames"`
	Port            uint32   `json:"port"`
	RouteServiceUrl string   `json:"route_service_url,omitempty"`
}

// RoutesFor are the cf-router and tcp-router entries of an app (spec bridge
// §3.3): HTTP routes grouped by port and route service, in the CC's order.
func RoutesFor(req ccclient.DesireAppRequestFromCC) (receptor.RoutingInfo, error) {
	defaultPort := Ports(req)[0]
	cf := []cfRoute{}
	for _, r := range req.RoutingInfo.HTTPRoutes {
		port := r.Port
		if port == 0 {
			port = defaultPort
		}
		found := false
		for i := range cf {
			if cf[i].Port == port && cf[i].RouteServiceUrl == r.RouteServiceUrl {
				cf[i].Hostnames = append(cf[i].Hostnames, r.Hostname)
				found = true
				break
			}
		}
		if !found {
			cf = append(cf, cfRoute{Hostnames: []string{r.Hostname}, Port: port, RouteServiceUrl: r.RouteServiceUrl})
		}
	}
	tcp := req.RoutingInfo.TCPRoutes
	if tcp == nil {
		tcp = []ccclient.CCTCPRoute{}
	}
	cfJSON, err := json.Marshal(cf)
	if err != nil {
		return nil, fmt.Errorf("encoding cf-router routes: %w", err)
	}
	tcpJSON, err := json.Marshal(tcp)
	if err != nil {
		return nil, fmt.Errorf("encoding tcp-router routes: %w", err)
	}
	return receptor.RoutingInfo{CFRouterKey: cfJSON, TCPRouterKey: tcpJSON}, nil
}

// UpdateRequest is the update of an existing desired LRP (spec bridge §3.1,
// §3.4): instances, annotation, and the routes with only the cf-router and
// tcp-router keys replaced.
func UpdateRequest(req ccclient.DesireAppRequestFromCC, existing receptor.RoutingInfo) (receptor.DesiredLRPUpdateRequest, error) {
	fresh, err := RoutesFor(req)
	if err != nil {
		return receptor.DesiredLRPUpdateRequest{}, err
	}
	routes := receptor.RoutingInfo{}
	for k, v := range existing {
		routes[k] = v
	}
	for k, v := range fresh {
		routes[k] = v
	}
	instances := int32(req.NumInstances)
	etag := req.ETag
	return receptor.DesiredLRPUpdateRequest{Instances: &instances, Routes: routes, Annotation: &etag}, nil
}

// BuildTask is the task a CC v3 task request asks for (spec bridge §3.5).
func (b RecipeBuilder) BuildTask(req ccclient.TaskRequestFromCC) (receptor.TaskCreateRequest, error) {
	lifecycle := req.Lifecycle
	if lifecycle == "" {
		lifecycle = "buildpack"
	}
	switch {
	case req.TaskGuid == "":
		return receptor.TaskCreateRequest{}, errors.New("task request missing task_guid")
	case lifecycle != "buildpack" || req.DockerPath != "":
		return receptor.TaskCreateRequest{}, ErrDockerNotSupported
	case req.DropletUri == "":
		return receptor.TaskCreateRequest{}, ErrDropletSourceMissing
	}
	lifecycleURL, err := b.lifecycleURL(lifecycle, req.RootFs)
	if err != nil {
		return receptor.TaskCreateRequest{}, err
	}
	droplet := &models.DownloadAction{From: req.DropletUri, To: ".", User: "vcap"}
	if req.DropletHash != "" {
		droplet.ChecksumAlgorithm, droplet.ChecksumValue = "sha1", req.DropletHash
	}
	logSource := req.LogSource
	if logSource == "" {
		logSource = "APP/TASK"
	}
	action := models.WrapAction(&models.SerialAction{Actions: []*models.Action{
		models.WrapAction(&models.DownloadAction{
			From: lifecycleURL, To: lifecyclePath, CacheKey: "buildpack-" + req.RootFs + "-lifecycle", User: "vcap",
		}),
		models.WrapAction(droplet),
		models.WrapAction(&models.RunAction{
			Path: launcherPath, Args: []string{"app", req.Command, ""}, User: "vcap",
			Env: req.EnvironmentVars, LogSource: logSource,
		}),
	}})
	return receptor.TaskCreateRequest{
		TaskGuid:              req.TaskGuid,
		Domain:                TasksDomain,
		RootFS:                "preloaded:" + req.RootFs,
		Action:                action,
		CompletionCallbackURL: req.CompletionCallbackUrl,
		DiskMB:                int32(req.DiskMb),
		MemoryMB:              int32(req.MemoryMb),
		CPUWeight:             CPUWeight(req.MemoryMb),
		LogGuid:               req.LogGuid,
		LogSource:             logSource,
		MetricsGuid:           req.LogGuid,
		EgressRules:           req.EgressRules,
		EnvironmentVariables:  []*models.EnvironmentVariable{{Name: "LANG", Value: "en_US.UTF-8"}},
	}, nil
}
