// Command auctioneer places LRP instances and tasks on cells. Only the
// holder of the auctioneer lock serves auctions; the BBS finds it through
// the lock's value.
package main

import (
	"diego/auctioneer/config"
	"diego/deploy/daemon"
)

func main() {
	daemon.Daemon[config.Config]{
		Name: "auctioneer",
		Load: config.Load,
		Wire: wire,
		Starting: func(cfg config.Config) []any {
			return []any{"listen_addr", cfg.ListenAddr, "advertise_address", cfg.Advertise(), "id", cfg.ID}
		},
	}.Main()
}
