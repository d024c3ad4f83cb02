// Package executor is the executor's public API (spec cell §3): the
// container model and its states, the allocation and run requests, the
// events, the errors and the route table, shared by the executor's server,
// its client and the rep.
package executor

import (
	"diego/models"
)

// State is a container's state (spec cell §3.1).
type State string

// The container states, in lifecycle order.
const (
	StateInvalid      State = ""
	StateReserved     State = "reserved"
	StateInitializing State = "initializing"
	StateCreated      State = "created"
	StateRunning      State = "running"
	StateCompleted    State = "completed"
)

// CanTransition says whether from → to is allowed: reserved → initializing
// → created → running, and anything → completed.
func CanTransition(from, to State) bool {
	switch to {
	case StateCompleted:
		return true
	case StateInitializing:
		return from == StateReserved
	case StateCreated:
		return from == StateInitializing
	case StateRunning:
		return from == StateCreated
	}
	return false
}

// Starting says the container has not started running yet.
func (s State) Starting() bool {
	return s == StateReserved || s == StateInitializing || s == StateCreated
}

// Tags are a container's labels, set at allocation and by the rep.
type Tags map[string]string

// Resource is what a container reserves.
type Resource struct {
	MemoryMB int `json:"memory_mb"`
	DiskMB   int `json:"disk_mb"`
	MaxPids  int `json:"max_pids"`
}

// ExecutorResources are a cell's total or remaining capacity.
type ExecutorResources struct {
	MemoryMB   int `json:"memory_mb"`
	DiskMB     int `json:"disk_mb"`
	Containers int `json:"containers"`
}

// PortMapping is a requested container port and, after create, its host
// port.
type PortMapping struct {
	ContainerPort         uint16 `json:"container_port"`
	HostPort              uint16 `json:"host_port,omitempty"`
	ContainerTLSProxyPort uint16 `json:"container_tls_proxy_port,omitempty"`
	HostTLSProxyPort      uint16 `json:"host_tls_proxy_port,omitempty"`
}

// EnvironmentVariable is one container-level env entry.
type EnvironmentVariable struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// LogConfig routes a container's logs: Guid is the log_guid (the app id),
// empty for no logs.
type LogConfig struct {
	Guid       string            `json:"guid"`
	Index      int               `json:"index"`
	SourceName string            `json:"source_name"`
	Tags       map[string]string `json:"tags,omitempty"`
}

// MetricsConfig routes a container's metrics: Guid is the metrics_guid.
type MetricsConfig struct {
	Guid  string            `json:"guid"`
	Index int               `json:"index"`
	Tags  map[string]string `json:"tags,omitempty"`
}

// CachedDependency is downloaded before create and bind-mounted read-only.
type CachedDependency struct {
	Name              string `json:"name"`
	From              string `json:"from"`
	To                string `json:"to"`
	CacheKey          string `json:"cache_key"`
	LogSource         string `json:"log_source"`
	ChecksumAlgorithm string `json:"checksum_algorithm"`
	ChecksumValue     string `json:"checksum_value"`
}

// RunInfo is what a container runs (spec cell §3.1).
type RunInfo struct {
	RootFSPath         string                      `json:"rootfs"`
	CPUWeight          uint                        `json:"cpu_weight"`
	Ports              []PortMapping               `json:"ports"`
	LogConfig          LogConfig                   `json:"log_config"`
	MetricsConfig      MetricsConfig               `json:"metrics_config"`
	StartTimeoutMs     uint                        `json:"start_timeout_ms"`
	Privileged         bool                        `json:"privileged"`
	CachedDependencies []CachedDependency          `json:"cached_dependencies"`
	Setup              *models.Action              `json:"setup"`
	Action             *models.Action              `json:"run"`
	Monitor            *models.Action              `json:"monitor"`
	CheckDefinition    *models.CheckDefinition     `json:"check_definition,omitempty"`
	Env                []EnvironmentVariable       `json:"env,omitempty"`
	EgressRules        []*models.SecurityGroupRule `json:"egress_rules,omitempty"`
	Sidecars           []Sidecar                   `json:"sidecars,omitempty"`
}

// Sidecar is a process that runs beside the container's action (a desired
// LRP's sidecar): its exit ends the instance. DiskMB and MemoryMB are part
// of the container's own resources (decision 47).
type Sidecar struct {
	Action   *models.Action `json:"action"`
	DiskMB   int            `json:"disk_mb"`
	MemoryMB int            `json:"memory_mb"`
}

// ContainerRunResult is how a completed container ended.
type ContainerRunResult struct {
	Failed        bool   `json:"failed"`
	FailureReason string `json:"failure_reason"`
	Stopped       bool   `json:"stopped"`
	// Retryable has no JSON tag in Diego, so its key is the field name.
	Retryable bool
}

// Container is the executor's container (spec cell §3.1).
type Container struct {
	Guid string `json:"guid"`
	Resource
	RunInfo
	// Tags has no JSON tag in Diego, so its key is "Tags".
	Tags         Tags               `json:"Tags"`
	State        State              `json:"state"`
	AllocatedAt  int64              `json:"allocated_at"`
	ExternalIP   string             `json:"external_ip"`
	InternalIP   string             `json:"internal_ip"`
	InternalIPv6 string             `json:"internal_ip_v6,omitempty"`
	RunResult    ContainerRunResult `json:"run_result"`
	Routable     bool               `json:"routable"`
	MemoryLimit  uint64             `json:"memory_limit"`
	DiskLimit    uint64             `json:"disk_limit"`
}

// HasTags says whether every tag of filter is on the container.
func (c Container) HasTags(filter Tags) bool {
	for k, v := range filter {
		if c.Tags[k] != v {
			return false
		}
	}
	return true
}

// Copy is a deep enough copy to hand out of the registry: maps and slices
// are fresh; actions are shared and never mutated.
func (c Container) Copy() Container {
	out := c
	if c.Tags != nil {
		out.Tags = Tags{}
		for k, v := range c.Tags {
			out.Tags[k] = v
		}
	}
	out.Ports = append([]PortMapping(nil), c.Ports...)
	out.Env = append([]EnvironmentVariable(nil), c.Env...)
	out.CachedDependencies = append([]CachedDependency(nil), c.CachedDependencies...)
	out.Sidecars = append([]Sidecar(nil), c.Sidecars...)
	return out
}

// AllocationRequest reserves a container (POST /containers).
type AllocationRequest struct {
	Guid string `json:"Guid"`
	Resource
	Tags               Tags `json:"Tags"`
	GenerateLogMetrics bool `json:"GenerateLogMetrics,omitempty"`
}

// AllocationFailure is a request the executor could not reserve.
type AllocationFailure struct {
	AllocationRequest
	ErrorMsg string `json:"ErrorMsg"`
}

// RunRequest starts a reserved container (POST /containers/:guid/run).
type RunRequest struct {
	Guid string `json:"Guid"`
	RunInfo
	Tags Tags `json:"Tags"`
}

// ContainerMetrics is one container's usage (GET …/metrics).
type ContainerMetrics struct {
	MemoryUsageInBytes uint64 `json:"memory_usage_in_bytes"`
	DiskUsageInBytes   uint64 `json:"disk_usage_in_bytes"`
	MemoryLimitInBytes uint64 `json:"memory_limit_in_bytes"`
	DiskLimitInBytes   uint64 `json:"disk_limit_in_bytes"`
	TimeSpentInCPU     int64  `json:"time_spent_in_cpu"`
	AbsoluteCPUUsage   uint64 `json:"absolute_cpu_usage"`
	ContainerAgeInNs   uint64 `json:"container_age_in_ns"`
}

// EventType names an event of GET /events (spec cell §3.4).
type EventType string

// The three container events.
const (
	EventTypeContainerReserved EventType = "container_reserved"
	EventTypeContainerRunning  EventType = "container_running"
	EventTypeContainerComplete EventType = "container_complete"
)

// Event is one SSE event: its type and {"container": …}.
type Event struct {
	Type      EventType `json:"-"`
	Container Container `json:"container"`
}
