// Package ccclient calls the Cloud Controller's internal API (spec bridge
// §9.1): the bulk app API the nsync bulker pages and the crash, rescheduling
// and readiness reports of the TPS watcher. The route tables here are
// shared with the servers that answer them (the CC and its stand-ins).
package ccclient

import (
	"net/http"

	"diego/deploy/routes"
)

// Route names of the CC's internal app routes.
const (
	BulkAppsRoute            = "BulkApps"
	BulkAppsByGuidsRoute     = "BulkAppsByProcessGuids"
	AppCrashedRoute          = "AppCrashed"
	LegacyAppCrashedRoute    = "LegacyAppCrashed"
	AppReschedulingRoute     = "AppRescheduling"
	AppReadinessChangedRoute = "AppReadinessChanged"
)

// AppRoutes are the CC internal routes nsync and TPS call (spec bridge
// §3.4, §4.2, §9.1).
var AppRoutes = routes.Table{
	{Name: BulkAppsRoute, Method: http.MethodGet, Path: "/internal/bulk/apps"},
	{Name: BulkAppsByGuidsRoute, Method: http.MethodPost, Path: "/internal/bulk/apps"},
	{Name: AppCrashedRoute, Method: http.MethodPost, Path: "/internal/v4/apps/:process_guid/crashed"},
	{Name: LegacyAppCrashedRoute, Method: http.MethodPost, Path: "/internal/apps/:process_guid/crashed"},
	{Name: AppReschedulingRoute, Method: http.MethodPost, Path: "/internal/v4/apps/:process_guid/rescheduling"},
	{Name: AppReadinessChangedRoute, Method: http.MethodPost, Path: "/internal/v4/apps/:process_guid/readiness_changed"},
}
