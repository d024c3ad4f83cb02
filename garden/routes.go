package garden

import (
	"net/http"

	"diego/deploy/routes"
)

// Route names of the Garden API (spec §2.2).
const (
	PingRoute                   = "Ping"
	CapacityRoute               = "Capacity"
	ListRoute                   = "List"
	CreateRoute                 = "Create"
	InfoRoute                   = "Info"
	BulkInfoRoute               = "BulkInfo"
	BulkMetricsRoute            = "BulkMetrics"
	DestroyRoute                = "Destroy"
	StopRoute                   = "Stop"
	StreamInRoute               = "StreamIn"
	StreamOutRoute              = "StreamOut"
	CurrentBandwidthLimitsRoute = "CurrentBandwidthLimits"
	CurrentCPULimitsRoute       = "CurrentCPULimits"
	CurrentDiskLimitsRoute      = "CurrentDiskLimits"
	CurrentMemoryLimitsRoute    = "CurrentMemoryLimits"
	NetInRoute                  = "NetIn"
	NetOutRoute                 = "NetOut"
	BulkNetOutRoute             = "BulkNetOut"
	RunRoute                    = "Run"
	AttachRoute                 = "Attach"
	StdoutRoute                 = "Stdout"
	StderrRoute                 = "Stderr"
	SetGraceTimeRoute           = "SetGraceTime"
	PropertiesRoute             = "Properties"
	PropertyRoute               = "Property"
	SetPropertyRoute            = "SetProperty"
	RemovePropertyRoute         = "RemoveProperty"
	MetricsRoute                = "Metrics"
)

// Routes is the Garden API's one route table. bulk_info and bulk_metrics
// come before :handle/info only for readability: paths are matched whole.
var Routes = routes.Table{
	{Name: PingRoute, Method: http.MethodGet, Path: "/ping"},
	{Name: CapacityRoute, Method: http.MethodGet, Path: "/capacity"},
	{Name: ListRoute, Method: http.MethodGet, Path: "/containers"},
	{Name: CreateRoute, Method: http.MethodPost, Path: "/containers"},
	{Name: BulkInfoRoute, Method: http.MethodGet, Path: "/containers/bulk_info"},
	{Name: BulkMetricsRoute, Method: http.MethodGet, Path: "/containers/bulk_metrics"},
	{Name: InfoRoute, Method: http.MethodGet, Path: "/containers/:handle/info"},
	{Name: DestroyRoute, Method: http.MethodDelete, Path: "/containers/:handle"},
	{Name: StopRoute, Method: http.MethodPut, Path: "/containers/:handle/stop"},
	{Name: StreamInRoute, Method: http.MethodPut, Path: "/containers/:handle/files"},
	{Name: StreamOutRoute, Method: http.MethodGet, Path: "/containers/:handle/files"},
	{Name: CurrentBandwidthLimitsRoute, Method: http.MethodGet, Path: "/containers/:handle/limits/bandwidth"},
	{Name: CurrentCPULimitsRoute, Method: http.MethodGet, Path: "/containers/:handle/limits/cpu"},
	{Name: CurrentDiskLimitsRoute, Method: http.MethodGet, Path: "/containers/:handle/limits/disk"},
	{Name: CurrentMemoryLimitsRoute, Method: http.MethodGet, Path: "/containers/:handle/limits/memory"},
	{Name: NetInRoute, Method: http.MethodPost, Path: "/containers/:handle/net/in"},
	{Name: NetOutRoute, Method: http.MethodPost, Path: "/containers/:handle/net/out"},
	{Name: BulkNetOutRoute, Method: http.MethodPost, Path: "/containers/:handle/net/out/bulk"},
	{Name: RunRoute, Method: http.MethodPost, Path: "/containers/:handle/processes"},
	{Name: AttachRoute, Method: http.MethodGet, Path: "/containers/:handle/processes/:pid"},
	{Name: StdoutRoute, Method: http.MethodGet, Path: "/containers/:handle/processes/:pid/attaches/:streamid/stdout"},
	{Name: StderrRoute, Method: http.MethodGet, Path: "/containers/:handle/processes/:pid/attaches/:streamid/stderr"},
	{Name: SetGraceTimeRoute, Method: http.MethodPut, Path: "/containers/:handle/grace_time"},
	{Name: PropertiesRoute, Method: http.MethodGet, Path: "/containers/:handle/properties"},
	{Name: PropertyRoute, Method: http.MethodGet, Path: "/containers/:handle/properties/:key"},
	{Name: SetPropertyRoute, Method: http.MethodPut, Path: "/containers/:handle/properties/:key"},
	{Name: RemovePropertyRoute, Method: http.MethodDelete, Path: "/containers/:handle/properties/:key"},
	{Name: MetricsRoute, Method: http.MethodGet, Path: "/containers/:handle/metrics"},
}

// ProcessStreamSource is a payload's stream; only stdin travels.
type ProcessStreamSource int

// Stream sources (spec §2.6).
const (
	ProcessStreamStdin  ProcessStreamSource = 0
	ProcessStreamStdout ProcessStreamSource = 1
	ProcessStreamStderr ProcessStreamSource = 2
)

// ProcessPayload is one newline-delimited JSON message of the hijacked
// process connection (spec §2.6), in either direction.
type ProcessPayload struct {
	ProcessID  string               `json:"process_id,omitempty"`
	StreamID   string               `json:"stream_id,omitempty"`
	Source     *ProcessStreamSource `json:"source,omitempty"`
	Data       *string              `json:"data,omitempty"`
	ExitStatus *int                 `json:"exit_status,omitempty"`
	Error      *string              `json:"error,omitempty"`
	TTY        *TTYSpec             `json:"tty,omitempty"`
	Signal     *Signal              `json:"signal,omitempty"`
}

// NetInRequest is the body of POST …/net/in and, with the ports used, its
// answer.
type NetInRequest struct {
	Handle        string `json:"handle,omitempty"`
	HostPort      uint32 `json:"host_port"`
	ContainerPort uint32 `json:"container_port"`
}

// NetInResponse is the answer of POST …/net/in.
type NetInResponse struct {
	HostPort      uint32 `json:"host_port"`
	ContainerPort uint32 `json:"container_port"`
}

// StopRequest is the body of PUT …/stop.
type StopRequest struct {
	Kill bool `json:"kill"`
}

// CreateResponse is the answer of POST /containers.
type CreateResponse struct {
	Handle string `json:"Handle"`
}

// ListResponse is the answer of GET /containers.
type ListResponse struct {
	Handles []string `json:"Handles"`
}

// PropertyValue is the body of PUT and the answer of GET …/properties/:key.
type PropertyValue struct {
	Value string `json:"value"`
}
