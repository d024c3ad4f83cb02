// Command cloud-controller is the local cluster's Cloud Controller: the v2
// API and login surface the cf CLI uses, and the internal endpoints the CC
// bridge calls (spec cloud-controller.md).
package main

import (
	"diego/ccbridge/cloudcontroller/config"
	"diego/deploy/daemon"
)

func main() {
	daemon.Daemon[config.Config]{
		Name: "cloud-controller",
		Load: config.Load,
		Wire: wire,
		Starting: func(cfg config.Config) []any {
			return []any{"listen_addr", cfg.ListenAddr, "state_dir", cfg.StateDir}
		},
	}.Main()
}
