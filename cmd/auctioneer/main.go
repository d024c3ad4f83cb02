// Command auctioneer places LRP instances and tasks on cells. Only the
// holder of the auctioneer lock serves auctions; the BBS finds it through
// the lock's value.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/sigmon"

	"diego/auctioneer/config"
)

func main() {
	configPath := flag.String("config", "", "path to the auctioneer's JSON config file")
	flag.Parse()
	if *configPath == "" {
		fmt.Fprintln(os.Stderr, "auctioneer: -config <file> is required")
		os.Exit(2)
	}
	cfg, err := config.Load(*configPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	runner, logger, cleanup, err := wire(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "auctioneer:", err)
		os.Exit(1)
	}
	defer cleanup()
	logger.Info("starting", "listen_addr", cfg.ListenAddr, "advertise_address", cfg.Advertise(), "id", cfg.ID)
	if err := <-ifrit.Invoke(sigmon.New(runner)).Wait(); err != nil {
		logger.Error("exited", "error", err)
		cleanup()
		os.Exit(1)
	}
	logger.Info("exited")
}
