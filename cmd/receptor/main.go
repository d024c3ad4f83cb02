// Command receptor serves the 2015 receptor JSON API (spec core §3.5) in
// front of the BBS.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/sigmon"

	"diego/receptor/config"
)

func main() {
	configPath := flag.String("config", "", "path to the receptor's JSON config file")
	flag.Parse()
	if *configPath == "" {
		fmt.Fprintln(os.Stderr, "receptor: -config <file> is required")
		os.Exit(2)
	}
	cfg, err := config.Load(*configPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	runner, logger, err := wire(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "receptor:", err)
		os.Exit(1)
	}
	logger.Info("starting", "listen_addr", cfg.ListenAddr, "bbs_address", cfg.BBSAddress, "auth", cfg.Username != "")
	if err := <-ifrit.Invoke(sigmon.New(runner)).Wait(); err != nil {
		logger.Error("exited", "error", err)
		os.Exit(1)
	}
	logger.Info("exited")
}
