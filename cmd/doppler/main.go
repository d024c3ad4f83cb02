// Command doppler keeps the recent logs and container metrics the metron
// agents forward, and serves them on the traffic-controller routes.
package main

import (
	"diego/deploy/daemon"
	"diego/metron/doppler/config"
)

func main() {
	daemon.Daemon[config.Config]{
		Name: "doppler",
		Load: config.Load,
		Wire: wire,
	}.Main()
}
