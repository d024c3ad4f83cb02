// Command metrics-server reads the BBS on a timer and publishes what it finds
// as dropsonde gauges and as JSON on GET /v1/metrics.
package main

import (
	"diego/bbs/metricsserver"
	"diego/deploy/daemon"
)

func main() {
	daemon.Daemon[metricsserver.Config]{
		Name: "metrics-server",
		Load: metricsserver.LoadConfig,
		Wire: wire,
	}.Main()
}
