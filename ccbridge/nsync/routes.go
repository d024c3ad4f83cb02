// Package nsync keeps the Cloud Controller's apps and diego's desired LRPs
// in step (spec bridge §3): the listener acts on the CC's calls at once, and
// the bulker, while it holds its lock, reconciles everything against the
// CC's bulk API. Both reach diego only through the receptor.
package nsync

import (
	"net/http"

	"diego/deploy/routes"
)

// Route names of the nsync listener.
const (
	DesireAppRoute  = "Desire"
	StopAppRoute    = "StopApp"
	KillIndexRoute  = "KillIndex"
	DesireTaskRoute = "DesireTask"
	CancelTaskRoute = "CancelTask"
)

// Routes is the listener's API (spec bridge §3.1).
var Routes = routes.Table{
	{Name: DesireAppRoute, Method: http.MethodPut, Path: "/v1/apps/:process_guid"},
	{Name: StopAppRoute, Method: http.MethodDelete, Path: "/v1/apps/:process_guid"},
	{Name: KillIndexRoute, Method: http.MethodDelete, Path: "/v1/apps/:process_guid/index/:index"},
	{Name: DesireTaskRoute, Method: http.MethodPost, Path: "/v1/tasks"},
	{Name: CancelTaskRoute, Method: http.MethodDelete, Path: "/v1/tasks/:task_guid"},
}
