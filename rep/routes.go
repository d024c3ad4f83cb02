// Package rep holds the rep's public API: its route table and the JSON types
// of /state and /work (spec cell §4), shared by the rep's server and its
// client, and by the auctioneer, which reads CellStates and sends Work.
package rep

import (
	"net/http"

	"diego/deploy/routes"
)

// Route names of the rep API (spec cell §4.1, §7.4).
const (
	StateRoute           = "State"
	PerformRoute         = "Perform"
	StopLRPInstanceRoute = "StopLRPInstance"
	CancelTaskRoute      = "CancelTask"
	PingRoute            = "Ping"
	EvacuateRoute        = "Evacuate"
)

// Routes is the rep's one route table.
var Routes = routes.Table{
	{Name: StateRoute, Method: http.MethodGet, Path: "/state"},
	{Name: PerformRoute, Method: http.MethodPost, Path: "/work"},
	{Name: StopLRPInstanceRoute, Method: http.MethodPost, Path: "/v1/lrps/:process_guid/instances/:instance_guid/stop"},
	{Name: CancelTaskRoute, Method: http.MethodPost, Path: "/v1/tasks/:task_guid/cancel"},
	{Name: PingRoute, Method: http.MethodGet, Path: "/ping"},
	{Name: EvacuateRoute, Method: http.MethodPost, Path: "/evacuate"},
}
