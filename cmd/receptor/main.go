// Command receptor serves the 2015 receptor JSON API (spec core §3.5) in
// front of the BBS.
package main

import (
	"diego/deploy/daemon"
	"diego/receptor/config"
)

func main() {
	daemon.Daemon[config.Config]{
		Name: "receptor",
		Load: config.Load,
		Wire: wire,
		Starting: func(cfg config.Config) []any {
			return []any{"listen_addr", cfg.ListenAddr, "bbs_address", cfg.BBSAddress, "auth", cfg.Username != ""}
		},
	}.Main()
}
