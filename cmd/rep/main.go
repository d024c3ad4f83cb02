// Command rep is the cell's representative (spec cell §4): it bids in
// auctions, keeps the BBS in step with the executor's containers, holds the
// cell's presence, and evacuates on request.
package main

import (
	"diego/deploy/daemon"
	"diego/rep/config"
)

func main() {
	daemon.Daemon[config.Config]{
		Name: "rep",
		Load: config.Load,
		Wire: wire,
		Starting: func(cfg config.Config) []any {
			return []any{"listen_addr", cfg.ListenAddr, "cell_id", cfg.CellID, "rep_address", cfg.Address(),
				"executor_address", cfg.ExecutorAddress, "bbs_address", cfg.BBSAddress}
		},
	}.Main()
}
