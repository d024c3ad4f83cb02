// Command metrics-server reads the BBS on a timer and publishes what it finds
// as dropsonde gauges and as JSON on GET /v1/metrics.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/sigmon"

	"diego/bbs/metricsserver"
)

func main() {
	configPath := flag.String("config", "", "path to the metrics-server's JSON config file")
	flag.Parse()
	if *configPath == "" {
		fmt.Fprintln(os.Stderr, "metrics-server: -config <file> is required")
		os.Exit(2)
	}
	cfg, err := metricsserver.LoadConfig(*configPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	runner, logger, err := wire(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "metrics-server:", err)
		os.Exit(1)
	}
	if err := <-ifrit.Invoke(sigmon.New(runner)).Wait(); err != nil {
		logger.Error("exited", "error", err)
		os.Exit(1)
	}
	logger.Info("exited")
}
