// Command garden is the cell's container server: the Garden API (spec cell
// §2) over the Linux backend. The same binary is each container's
// garden-init, the exec shim and the per-process reaper garden-dadoo, chosen
// by argv[0] in the init of package garden/backend/linux/reexec (before the
// server's own packages initialise), so it must be built static
// (CGO_ENABLED=0; the Makefile does).
package main

import (
	"diego/deploy/daemon"
	"diego/garden/config"
)

func main() {
	daemon.Daemon[config.Config]{
		Name: "garden",
		Load: config.Load,
		Wire: wire,
		Starting: func(cfg config.Config) []any {
			return []any{"listen_network", cfg.ListenNetwork, "listen_addr", cfg.ListenAddr, "depot_dir", cfg.DepotDir}
		},
	}.Main()
}
