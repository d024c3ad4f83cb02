// Command tps answers the CC's instance and stats queries (the listener)
// and, while it holds its lock, reports crashes and reschedulings to the
// CC from the receptor's events (the watcher); spec bridge §4.
package main

import (
	"diego/ccbridge/tps/config"
	"diego/deploy/daemon"
)

func main() {
	daemon.Daemon[config.Config]{
		Name: "tps",
		Load: config.Load,
		Wire: wire,
		Starting: func(cfg config.Config) []any {
			return []any{"listen_addr", cfg.ListenAddr, "cc_base_url", cfg.CCBaseURL}
		},
	}.Main()
}
