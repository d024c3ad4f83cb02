// Package receptor holds the receptor API's route table and its 2015 JSON
// resources (spec core §3.5), shared by the receptor server
// (receptor/handlers) and its client (receptor/client), and the conversion
// between those resources and the BBS models.
package receptor

import (
	"net/http"

	"diego/deploy/routes"
)

// Route names (Diego's receptor names where it had one).
const (
	CreateTaskRoute = "CreateTask"
	TasksRoute      = "Tasks"
	GetTaskRoute    = "GetTask"
	DeleteTaskRoute = "DeleteTask"
	CancelTaskRoute = "CancelTask"

	CreateDesiredLRPRoute = "CreateDesiredLRP"
	GetDesiredLRPRoute    = "GetDesiredLRP"
	UpdateDesiredLRPRoute = "UpdateDesiredLRP"
	DeleteDesiredLRPRoute = "DeleteDesiredLRP"
	DesiredLRPsRoute      = "DesiredLRPs"

	ActualLRPsRoute                         = "ActualLRPs"
	ActualLRPsByProcessGuidRoute            = "ActualLRPsByProcessGuid"
	ActualLRPByProcessGuidAndIndexRoute     = "ActualLRPByProcessGuidAndIndex"
	KillActualLRPByProcessGuidAndIndexRoute = "KillActualLRPByProcessGuidAndIndex"

	CellsRoute = "Cells"

	UpsertDomainRoute = "UpsertDomain"
	DomainsRoute      = "Domains"

	EventStreamRoute      = "EventStream"
	CreateAuthCookieRoute = "CreateAuthCookie"
	VersionRoute          = "Version"
)

// Routes is every route of spec core §3.5 that diego serves; the Lattice
// download route /v1/sync/:arch/:artifact is left out (decision 24).
// Lists filter by domain with the ?domain= query parameter.
var Routes = routes.Table{
	{Name: CreateTaskRoute, Method: http.MethodPost, Path: "/v1/tasks"},
	{Name: TasksRoute, Method: http.MethodGet, Path: "/v1/tasks"},
	{Name: GetTaskRoute, Method: http.MethodGet, Path: "/v1/tasks/:task_guid"},
	{Name: DeleteTaskRoute, Method: http.MethodDelete, Path: "/v1/tasks/:task_guid"},
	{Name: CancelTaskRoute, Method: http.MethodPost, Path: "/v1/tasks/:task_guid/cancel"},

	{Name: CreateDesiredLRPRoute, Method: http.MethodPost, Path: "/v1/desired_lrps"},
	{Name: GetDesiredLRPRoute, Method: http.MethodGet, Path: "/v1/desired_lrps/:process_guid"},
	{Name: UpdateDesiredLRPRoute, Method: http.MethodPut, Path: "/v1/desired_lrps/:process_guid"},
	{Name: DeleteDesiredLRPRoute, Method: http.MethodDelete, Path: "/v1/desired_lrps/:process_guid"},
	{Name: DesiredLRPsRoute, Method: http.MethodGet, Path: "/v1/desired_lrps"},

	{Name: ActualLRPsRoute, Method: http.MethodGet, Path: "/v1/actual_lrps"},
	{Name: ActualLRPsByProcessGuidRoute, Method: http.MethodGet, Path: "/v1/actual_lrps/:process_guid"},
	{Name: ActualLRPByProcessGuidAndIndexRoute, Method: http.MethodGet, Path: "/v1/actual_lrps/:process_guid/index/:index"},
	{Name: KillActualLRPByProcessGuidAndIndexRoute, Method: http.MethodDelete, Path: "/v1/actual_lrps/:process_guid/index/:index"},

	{Name: CellsRoute, Method: http.MethodGet, Path: "/v1/cells"},

	{Name: UpsertDomainRoute, Method: http.MethodPut, Path: "/v1/domains/:domain"},
	{Name: DomainsRoute, Method: http.MethodGet, Path: "/v1/domains"},

	{Name: EventStreamRoute, Method: http.MethodGet, Path: "/v1/events"},
	{Name: CreateAuthCookieRoute, Method: http.MethodPost, Path: "/v1/auth_cookie"},
	{Name: VersionRoute, Method: http.MethodGet, Path: "/v1/version"},
}
