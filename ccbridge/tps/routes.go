// Package tps tells the Cloud Controller how an app's instances are doing
// (spec bridge §4): the listener answers the CC's instance and stats
// queries from the receptor and doppler, and the watcher, while it holds
// its lock, reports crashes and reschedulings from the receptor's events.
package tps

import (
	"net/http"

	"diego/deploy/routes"
)

// Route names of the TPS listener.
const (
	LRPStatusRoute     = "LRPStatus"
	LRPStatsRoute      = "LRPStats"
	BulkLRPStatusRoute = "BulkLRPStatus"
)

// Routes is the listener's API (spec bridge §4.1).
var Routes = routes.Table{
	{Name: LRPStatusRoute, Method: http.MethodGet, Path: "/v1/actual_lrps/:guid"},
	{Name: LRPStatsRoute, Method: http.MethodGet, Path: "/v1/actual_lrps/:guid/stats"},
	{Name: BulkLRPStatusRoute, Method: http.MethodGet, Path: "/v1/bulk_actual_lrp_status"},
}
