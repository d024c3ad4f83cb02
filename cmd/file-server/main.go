// Command file-server serves the lifecycle bundles and buildpacks to the
// cells and relays their droplet and cache uploads to CC (spec bridge.md
// §5, §9.2).
package main

import (
	"diego/ccbridge/fileserver/config"
	"diego/deploy/daemon"
)

func main() {
	daemon.Daemon[config.Config]{
		Name: "file-server",
		Load: config.Load,
		Wire: wire,
		Starting: func(cfg config.Config) []any {
			return []any{"listen_addr", cfg.ListenAddr, "static_directory", cfg.StaticDirectory}
		},
	}.Main()
}
