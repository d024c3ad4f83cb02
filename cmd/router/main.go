// Command router is the local cluster's HTTP router: it learns routes from
// router.register/router.unregister on NATS, as gorouter does, and proxies
// requests by Host header (spec bridge §7, §9.5).
package main

import (
	"diego/deploy/daemon"
	"diego/routeemitter/router/config"
)

func main() {
	daemon.Daemon[config.Config]{
		Name: "router",
		Load: config.Load,
		Wire: wire,
		Starting: func(cfg config.Config) []any {
			return []any{"listen_addr", cfg.ListenAddr, "status_address", cfg.StatusAddress, "nats_addresses", cfg.NATSAddresses}
		},
	}.Main()
}
