package ccclient

import (
	"encoding/json"

	"diego/models"
)

// The messages the Cloud Controller and nsync/TPS exchange about apps
// (spec bridge §3.2, §3.4, §3.5, §4.2), in their final CC-bridge form.

// DesireAppRequestFromCC is the body of nsync's PUT /v1/apps/:process_guid
// and one element of the CC's bulk answer (spec bridge §3.2).
type DesireAppRequestFromCC struct {
	ProcessGuid       string `json:"process_guid"`
	DropletUri        string `json:"droplet_uri,omitempty"`
	DropletHash       string `json:"droplet_hash,omitempty"`
	DockerImageUrl    string `json:"docker_image,omitempty"`
	DockerLoginServer string `json:"docker_login_server,omitempty"`
	DockerUser        string `json:"docker_user,omitempty"`
	DockerPassword    string `json:"docker_password,omitempty"`
	DockerEmail       string `json:"docker_email,omitempty"`
	Stack             string `json:"stack"`
	StartCommand      string `json:"start_command"`
	ExecutionMetadata string `json:"execution_metadata"`
	// Environment is the running env group, VCAP_APPLICATION, MEMORY_LIMIT,
	// VCAP_SERVICES and the user's env, in the CC's order.
	Environment     []*models.EnvironmentVariable `json:"environment"`
	MemoryMB        int                           `json:"memory_mb"`
	DiskMB          int                           `json:"disk_mb"`
	FileDescriptors uint64                        `json:"file_descriptors"`
	NumInstances    int                           `json:"num_instances"`
	RoutingInfo     CCRouteInfo                   `json:"routing_info"`
	// Routes is the legacy list of URIs; nsync reads routing_info only.
	Routes                      []string                    `json:"routes,omitempty"`
	AllowSSH                    bool                        `json:"allow_ssh"`
	LogGuid                     string                      `json:"log_guid"`
	LogSource                   string                      `json:"log_source,omitempty"`
	HealthCheckType             string                      `json:"health_check_type"`
	HealthCheckHTTPEndpoint     string                      `json:"health_check_http_endpoint,omitempty"`
	HealthCheckTimeoutInSeconds uint                        `json:"health_check_timeout_in_seconds"`
	EgressRules                 []*models.SecurityGroupRule `json:"egress_rules"`
	ETag                        string                      `json:"etag"`
	Ports                       []uint32                    `json:"ports,omitempty"`
	Network                     json.RawMessage             `json:"network,omitempty"`
	VolumeMounts                json.RawMessage             `json:"volume_mounts,omitempty"`
	IsolationSegment            string                      `json:"isolation_segment,omitempty"`
}

// CCRouteInfo is routing_info: the app's HTTP and TCP routes.
type CCRouteInfo struct {
	HTTPRoutes []CCHTTPRoute `json:"http_routes,omitempty"`
	TCPRoutes  []CCTCPRoute  `json:"tcp_routes,omitempty"`
}

// CCHTTPRoute is one hostname; Port 0 means the app's first port.
type CCHTTPRoute struct {
	Hostname        string `json:"hostname"`
	RouteServiceUrl string `json:"route_service_url,omitempty"`
	Port            uint32 `json:"port,omitempty"`
}

// CCTCPRoute is one TCP route through a router group.
type CCTCPRoute struct {
	RouterGroupGuid string `json:"router_group_guid"`
	ExternalPort    uint32 `json:"external_port"`
	ContainerPort   uint32 `json:"container_port"`
}

// CCDesiredAppFingerprint is one app in the bulk API's fingerprint format.
type CCDesiredAppFingerprint struct {
	ProcessGuid string `json:"process_guid"`
	ETag        string `json:"etag"`
}

// CCDesiredStateFingerprintResponse is one page of
// GET /internal/bulk/apps?format=fingerprint. Token is passed back verbatim.
type CCDesiredStateFingerprintResponse struct {
	Fingerprints []CCDesiredAppFingerprint `json:"fingerprints"`
	Token        json.RawMessage           `json:"token"`
}

// CCBulkToken is the token the stand-in CC and the CC hand out: the last
// app id of the page.
type CCBulkToken struct {
	Id uint64 `json:"id"`
}

// TaskRequestFromCC is the body of nsync's POST /v1/tasks (spec bridge §3.5).
type TaskRequestFromCC struct {
	TaskGuid              string                        `json:"task_guid"`
	LogGuid               string                        `json:"log_guid"`
	MemoryMb              int                           `json:"memory_mb"`
	DiskMb                int                           `json:"disk_mb"`
	Lifecycle             string                        `json:"lifecycle"`
	EnvironmentVars       []*models.EnvironmentVariable `json:"environment"`
	EgressRules           []*models.SecurityGroupRule   `json:"egress_rules,omitempty"`
	DropletUri            string                        `json:"droplet_uri"`
	DropletHash           string                        `json:"droplet_hash,omitempty"`
	DockerPath            string                        `json:"docker_path,omitempty"`
	RootFs                string                        `json:"rootfs"`
	CompletionCallbackUrl string                        `json:"completion_callback"`
	Command               string                        `json:"command"`
	LogSource             string                        `json:"log_source,omitempty"`
	VolumeMounts          json.RawMessage               `json:"volume_mounts,omitempty"`
	IsolationSegment      string                        `json:"isolation_segment,omitempty"`
}

// AppCrashedRequest is the TPS watcher's crash report (spec bridge §4.2).
type AppCrashedRequest struct {
	Instance        string `json:"instance"`
	Index           int    `json:"index"`
	CellID          string `json:"cell_id"`
	Reason          string `json:"reason"`
	ExitStatus      int    `json:"exit_status,omitempty"`
	ExitDescription string `json:"exit_description"`
	CrashCount      int    `json:"crash_count"`
	CrashTimestamp  int64  `json:"crash_timestamp"`
}

// AppReschedulingRequest says an instance left an evacuating cell.
type AppReschedulingRequest struct {
	Instance string `json:"instance"`
	Index    int    `json:"index"`
	CellID   string `json:"cell_id"`
	Reason   string `json:"reason"`
}

// AppReadinessChangedRequest says an instance became (un)routable.
type AppReadinessChangedRequest struct {
	Instance string `json:"instance"`
	Index    int    `json:"index"`
	CellID   string `json:"cell_id"`
	Ready    bool   `json:"ready"`
}
