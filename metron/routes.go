// Package metron holds what the agent, the doppler and their consumers
// share: the doppler's route table (the traffic-controller routes of spec
// cell §7.5), the envelope decoder and the datagram signature.
package metron

import "diego/deploy/routes"

// Route names of the doppler's HTTP API.
const (
	StreamRoute           = "Stream"
	RecentLogsRoute       = "RecentLogs"
	ContainerMetricsRoute = "ContainerMetrics"
)

// Routes are the traffic-controller routes the doppler serves (spec cell
// §5.4, §7.5): the stream is a websocket, the other two multipart/x-protobuf.
var Routes = routes.Table{
	{Name: StreamRoute, Method: "GET", Path: "/apps/:app_id/stream"},
	{Name: RecentLogsRoute, Method: "GET", Path: "/apps/:app_id/recentlogs"},
	{Name: ContainerMetricsRoute, Method: "GET", Path: "/apps/:app_id/containermetrics"},
}
