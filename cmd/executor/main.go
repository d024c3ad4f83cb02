// Command executor runs containers and the actions in them on one cell
// (spec cell §3): its own daemon with the 2015 HTTP API, talking to garden.
package main

import (
	"diego/deploy/daemon"
	"diego/executor/config"
)

func main() {
	daemon.Daemon[config.Config]{
		Name: "executor",
		Load: config.Load,
		Wire: wire,
		Starting: func(cfg config.Config) []any {
			return []any{"listen_addr", cfg.ListenAddr, "garden_addr", cfg.GardenAddr, "cell_id", cfg.CellID}
		},
	}.Main()
}
