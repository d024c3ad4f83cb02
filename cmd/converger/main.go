// Command converger holds the converger lock and asks the BBS to converge
// tasks and LRPs on a timer and whenever a cell disappears.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/sigmon"

	"diego/converger/config"
)

func main() {
	configPath := flag.String("config", "", "path to the converger's JSON config file")
	flag.Parse()
	if *configPath == "" {
		fmt.Fprintln(os.Stderr, "converger: -config <file> is required")
		os.Exit(2)
	}
	cfg, err := config.Load(*configPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	runner, logger, cleanup, err := wire(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "converger:", err)
		os.Exit(1)
	}
	defer cleanup()
	if err := <-ifrit.Invoke(sigmon.New(runner)).Wait(); err != nil {
		logger.Error("exited", "error", err)
		cleanup()
		os.Exit(1)
	}
	logger.Info("exited")
}
