// Command nsync serves the CC's app and task calls (the listener) and,
// while it holds its lock, reconciles the CC's apps with diego's desired
// LRPs (the bulker), both through the receptor (spec bridge §3).
package main

import (
	"diego/ccbridge/nsync/config"
	"diego/deploy/daemon"
)

func main() {
	daemon.Daemon[config.Config]{
		Name: "nsync",
		Load: config.Load,
		Wire: wire,
		Starting: func(cfg config.Config) []any {
			return []any{"listen_addr", cfg.ListenAddr, "cc_base_url", cfg.CCBaseURL}
		},
	}.Main()
}
