package receptor

import (
	"encoding/json"

	"diego/models"
)

// The 2015 JSON resources of spec core §3.5. Actions, environment variables
// and egress rules are the models' own types: they marshal to Diego's JSON
// shape, which the 2015 receptor shared.

// Task states as the 2015 receptor wrote them (upper case).
const (
	TaskStateInvalid   = "INVALID"
	TaskStatePending   = "PENDING"
	TaskStateRunning   = "RUNNING"
	TaskStateCompleted = "COMPLETED"
	TaskStateResolving = "RESOLVING"
)

// Actual LRP states (the same strings as the models').
const (
	ActualLRPStateUnclaimed = models.ActualLRPStateUnclaimed
	ActualLRPStateClaimed   = models.ActualLRPStateClaimed
	ActualLRPStateRunning   = models.ActualLRPStateRunning
	ActualLRPStateCrashed   = models.ActualLRPStateCrashed
)

// TaskCreateRequest is the body of POST /v1/tasks.
type TaskCreateRequest struct {
	Action                *models.Action                `json:"action"`
	Annotation            string                        `json:"annotation,omitempty"`
	CompletionCallbackURL string                        `json:"completion_callback_url"`
	CPUWeight             uint32                        `json:"cpu_weight"`
	DiskMB                int32                         `json:"disk_mb"`
	Domain                string                        `json:"domain"`
	LogGuid               string                        `json:"log_guid"`
	LogSource             string                        `json:"log_source"`
	MetricsGuid           string                        `json:"metrics_guid"`
	MemoryMB              int32                         `json:"memory_mb"`
	ResultFile            string                        `json:"result_file"`
	TaskGuid              string                        `json:"task_guid"`
	RootFS                string                        `json:"rootfs"`
	Privileged            bool                          `json:"privileged"`
	EnvironmentVariables  []*models.EnvironmentVariable `json:"env,omitempty"`
	EgressRules           []*models.SecurityGroupRule   `json:"egress_rules,omitempty"`
}

// TaskResponse is a task as GET /v1/tasks and GET /v1/tasks/:task_guid
// return it: the create request's keys and the task's progress.
type TaskResponse struct {
	Action                *models.Action                `json:"action"`
	Annotation            string                        `json:"annotation,omitempty"`
	CompletionCallbackURL string                        `json:"completion_callback_url"`
	CPUWeight             uint32                        `json:"cpu_weight"`
	DiskMB                int32                         `json:"disk_mb"`
	Domain                string                        `json:"domain"`
	LogGuid               string                        `json:"log_guid"`
	LogSource             string                        `json:"log_source"`
	MetricsGuid           string                        `json:"metrics_guid"`
	MemoryMB              int32                         `json:"memory_mb"`
	ResultFile            string                        `json:"result_file"`
	TaskGuid              string                        `json:"task_guid"`
	RootFS                string                        `json:"rootfs"`
	Privileged            bool                          `json:"privileged"`
	EnvironmentVariables  []*models.EnvironmentVariable `json:"env,omitempty"`
	EgressRules           []*models.SecurityGroupRule   `json:"egress_rules,omitempty"`

	CellID        string `json:"cell_id"`
	CreatedAt     int64  `json:"created_at"`
	Failed        bool   `json:"failed"`
	FailureReason string `json:"failure_reason"`
	Result        string `json:"result"`
	State         string `json:"state"`
}

// RoutingInfo maps a router name (cf-router, tcp-router, diego-ssh, ...)
// to its opaque JSON.
type RoutingInfo map[string]json.RawMessage

// DesiredLRPCreateRequest is the body of POST /v1/desired_lrps.
// StartTimeout is in seconds.
type DesiredLRPCreateRequest struct {
	ProcessGuid          string                        `json:"process_guid"`
	Domain               string                        `json:"domain"`
	RootFS               string                        `json:"rootfs"`
	Instances            int32                         `json:"instances"`
	EnvironmentVariables []*models.EnvironmentVariable `json:"env,omitempty"`
	Setup                *models.Action                `json:"setup"`
	Action               *models.Action                `json:"action"`
	Monitor              *models.Action                `json:"monitor"`
	StartTimeout         uint32                        `json:"start_timeout"`
	DiskMB               int32                         `json:"disk_mb"`
	MemoryMB             int32                         `json:"memory_mb"`
	CPUWeight            uint32                        `json:"cpu_weight"`
	Privileged           bool                          `json:"privileged"`
	Ports                []uint16                      `json:"ports"`
	Routes               RoutingInfo                   `json:"routes,omitempty"`
	LogGuid              string                        `json:"log_guid"`
	LogSource            string                        `json:"log_source"`
	MetricsGuid          string                        `json:"metrics_guid"`
	Annotation           string                        `json:"annotation,omitempty"`
	EgressRules          []*models.SecurityGroupRule   `json:"egress_rules,omitempty"`
}

// DesiredLRPUpdateRequest is the body of PUT /v1/desired_lrps/:process_guid;
// an absent key leaves that part as it is.
type DesiredLRPUpdateRequest struct {
	Instances  *int32      `json:"instances,omitempty"`
	Routes     RoutingInfo `json:"routes,omitempty"`
	Annotation *string     `json:"annotation,omitempty"`
}

// ModificationTag orders versions of a record (spec core §1.4).
type ModificationTag struct {
	Epoch string `json:"epoch"`
	Index uint32 `json:"index"`
}

// DesiredLRPResponse is a desired LRP as the receptor returns it: the create
// request's keys (flattened into the same JSON object) and the modification
// tag.
type DesiredLRPResponse struct {
	DesiredLRPCreateRequest
	ModificationTag ModificationTag `json:"modification_tag"`
}

// PortMapping is one container port and the host port it is reachable on.
type PortMapping struct {
	ContainerPort uint32 `json:"container_port"`
	HostPort      uint32 `json:"host_port,omitempty"`
}

// ActualLRPResponse is one index of an LRP, resolved from its instance and
// evacuating records (spec core §2.3); Evacuating says which was taken.
type ActualLRPResponse struct {
	ProcessGuid     string          `json:"process_guid"`
	InstanceGuid    string          `json:"instance_guid"`
	CellID          string          `json:"cell_id"`
	Domain          string          `json:"domain"`
	Index           int32           `json:"index"`
	Address         string          `json:"address"`
	Ports           []PortMapping   `json:"ports"`
	State           string          `json:"state"`
	CrashCount      int32           `json:"crash_count"`
	CrashReason     string          `json:"crash_reason,omitempty"`
	PlacementError  string          `json:"placement_error,omitempty"`
	Since           int64           `json:"since"`
	Evacuating      bool            `json:"evacuating"`
	ModificationTag ModificationTag `json:"modification_tag"`
}

// CellCapacity is a cell's total resources.
type CellCapacity struct {
	MemoryMB   int32 `json:"memory_mb"`
	DiskMB     int32 `json:"disk_mb"`
	Containers int32 `json:"containers"`
}

// CellResponse is one present cell; RootFSProviders maps a provider name
// to its properties, e.g. {"docker":[],"preloaded":["cflinuxfs2"]}.
type CellResponse struct {
	CellID          string              `json:"cell_id"`
	Zone            string              `json:"zone"`
	Capacity        CellCapacity        `json:"capacity"`
	RootFSProviders map[string][]string `json:"rootfs_providers"`
}

// VersionResponse is GET /v1/version; diego fills in what it knows.
type VersionResponse struct {
	CFRelease           string `json:"cf_release,omitempty"`
	CFRoutingRelease    string `json:"cf_routing_release,omitempty"`
	DiegoRelease        string `json:"diego_release,omitempty"`
	GardenLinuxRelease  string `json:"garden_linux_release,omitempty"`
	LatticeRelease      string `json:"lattice_release,omitempty"`
	LatticeReleaseImage string `json:"lattice_release_image,omitempty"`
	LTC                 string `json:"ltc,omitempty"`
	Receptor            string `json:"receptor,omitempty"`
}

// AuthorizationCookieName is the cookie POST /v1/auth_cookie sets; its
// value stands in for the Authorization header (for EventSource clients).
const AuthorizationCookieName = "receptor_authorization"

// Error names of the receptor API (spec core §3.5).
const (
	TaskGuidAlreadyExists   = "TaskGuidAlreadyExists"
	TaskNotDeletable        = "TaskNotDeletable"
	TaskNotFound            = "TaskNotFound"
	InvalidTask             = "InvalidTask"
	DesiredLRPAlreadyExists = "DesiredLRPAlreadyExists"
	DesiredLRPNotFound      = "DesiredLRPNotFound"
	InvalidLRP              = "InvalidLRP"
	InvalidDomain           = "InvalidDomain"
	InvalidJSON             = "InvalidJSON"
	InvalidRequest          = "InvalidRequest"
	InvalidResponse         = "InvalidResponse"
	UnknownError            = "UnknownError"
	Unauthorized            = "Unauthorized"
	ActualLRPIndexNotFound  = "ActualLRPIndexNotFound"
	ResourceConflict        = "ResourceConflict"
	RouterError             = "RouterError"
)

// Error is every error body of the API, and the error the client returns.
type Error struct {
	Type    string `json:"name"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// Is matches on the name alone, so errors.Is(err, &Error{Type: TaskNotFound})
// works whatever the message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Type == e.Type
}

// NewError builds an error with a name and a message.
func NewError(name, message string) *Error {
	return &Error{Type: name, Message: message}
}
