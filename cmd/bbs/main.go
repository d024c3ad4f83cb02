// Command bbs is the bulletin board: the only owner of diego's data in etcd,
// serving the BBS API (protobuf over HTTP(S)) and its event streams.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/sigmon"

	"diego/bbs/config"
)

func main() {
	configPath := flag.String("config", "", "path to the BBS's JSON config file")
	flag.Parse()
	if *configPath == "" {
		fmt.Fprintln(os.Stderr, "bbs: -config <file> is required")
		os.Exit(2)
	}
	cfg, err := config.Load(*configPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if os.Getenv("GOGC") == "" {
		// The BBS's heap is small and the machine's memory is not: collect
		// less often and give the CPU to requests (decision in docs/decisions.md).
		debug.SetGCPercent(400)
	}
	runner, logger, cleanup, err := wire(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bbs:", err)
		os.Exit(1)
	}
	defer cleanup()
	logger.Info("starting", "listen_addr", cfg.ListenAddr, "tls", cfg.TLS())
	if err := <-ifrit.Invoke(sigmon.New(runner)).Wait(); err != nil {
		logger.Error("exited", "error", err)
		cleanup()
		os.Exit(1)
	}
	logger.Info("exited")
}
