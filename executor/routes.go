package executor

import (
	"net/http"

	"diego/deploy/routes"
)

// Route names of the executor API (spec cell §3.2).
const (
	PingRoute               = "Ping"
	EventsRoute             = "Events"
	ListContainersRoute     = "ListContainers"
	AllocateContainersRoute = "AllocateContainers"
	GetContainerRoute       = "GetContainer"
	RunContainerRoute       = "RunContainer"
	StopContainerRoute      = "StopContainer"
	DeleteContainerRoute    = "DeleteContainer"
	GetFilesRoute           = "GetFiles"
	GetMetricsRoute         = "GetMetrics"
	GetAllMetricsRoute      = "GetAllMetrics"
	RemainingResourcesRoute = "RemainingResources"
	TotalResourcesRoute     = "TotalResources"
)

// Routes is the executor's one route table.
var Routes = routes.Table{
	{Name: PingRoute, Method: http.MethodGet, Path: "/ping"},
	{Name: EventsRoute, Method: http.MethodGet, Path: "/events"},
	{Name: ListContainersRoute, Method: http.MethodGet, Path: "/containers"},
	{Name: AllocateContainersRoute, Method: http.MethodPost, Path: "/containers"},
	{Name: GetContainerRoute, Method: http.MethodGet, Path: "/containers/:guid"},
	{Name: RunContainerRoute, Method: http.MethodPost, Path: "/containers/:guid/run"},
	{Name: StopContainerRoute, Method: http.MethodPost, Path: "/containers/:guid/stop"},
	{Name: DeleteContainerRoute, Method: http.MethodDelete, Path: "/containers/:guid"},
	{Name: GetFilesRoute, Method: http.MethodGet, Path: "/containers/:guid/files"},
	{Name: GetMetricsRoute, Method: http.MethodGet, Path: "/containers/:guid/metrics"},
	{Name: GetAllMetricsRoute, Method: http.MethodGet, Path: "/metrics"},
	{Name: RemainingResourcesRoute, Method: http.MethodGet, Path: "/resources/remaining"},
	{Name: TotalResourcesRoute, Method: http.MethodGet, Path: "/resources/total"},
}
