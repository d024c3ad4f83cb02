// Command route-emitter holds the route_emitter lock, follows the
// receptor's desired and actual LRPs, and registers their routes with the
// routers over NATS (spec bridge §6).
package main

import (
	"diego/deploy/daemon"
	"diego/routeemitter/config"
)

func main() {
	daemon.Daemon[config.Config]{
		Name: "route-emitter",
		Load: config.Load,
		Wire: wire,
		Starting: func(cfg config.Config) []any {
			return []any{"receptor_url", cfg.ReceptorURL, "nats_addresses", cfg.NATSAddresses}
		},
	}.Main()
}
