// Command stager serves CC's staging API (spec bridge.md §2): it desires
// staging tasks through the receptor and reports their results to CC.
package main

import (
	"diego/ccbridge/stager/config"
	"diego/deploy/daemon"
)

func main() {
	daemon.Daemon[config.Config]{
		Name: "stager",
		Load: config.Load,
		Wire: wire,
		Starting: func(cfg config.Config) []any {
			return []any{"listen_addr", cfg.ListenAddr, "receptor_address", cfg.ReceptorAddress}
		},
	}.Main()
}
