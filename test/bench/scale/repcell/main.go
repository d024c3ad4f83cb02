// Command repcell runs one simulated cell (test/simrep: the real rep code
// over the in-memory executor) in a process of its own, so that the scale
// benchmark can read the rep's resident set size apart from the harness's.
// It stops the cell, releasing its presence, on SIGTERM or SIGINT.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	bbsclient "diego/bbs/client"
	"diego/executor"
	"diego/executor/depot"
	"diego/executor/handlers"
	"diego/rep"
	"diego/test/bench/benchutil"
	"diego/test/simrep"
)

// Config is repcell's -config file.
type Config = benchutil.RepCellConfig

func main() {
	path := flag.String("config", "", "JSON config file")
	flag.Parse()
	if err := run(*path); err != nil {
		fmt.Fprintf(os.Stderr, "repcell: %v\n", err)
		os.Exit(1)
	}
}

func run(path string) error {
	body, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	var cfg Config
	if err := json.Unmarshal(body, &cfg); err != nil {
		return fmt.Errorf("parsing config %s: %w", path, err)
	}
	if cfg.ExecutorListen != "" {
		return serveExecutor(cfg)
	}
	if cfg.CellID == "" || cfg.BBSAddress == "" || len(cfg.ETCDEndpoints) == 0 || cfg.Containers <= 0 {
		return fmt.Errorf("config %s: cell_id, bbs_address, etcd_endpoints and containers are required", path)
	}
	bbs, err := bbsclient.New(bbsclient.Config{URL: cfg.BBSAddress})
	if err != nil {
		return fmt.Errorf("bbs client: %w", err)
	}
	ttl := time.Duration(max(cfg.PresenceTTL, 5)) * time.Second
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	r, err := simrep.Start(simrep.Config{CellID: cfg.CellID, Zone: cfg.Zone, ETCDEndpoints: cfg.ETCDEndpoints,
		PresenceTTL: ttl, BBS: bbs,
		Total: rep.Resources{MemoryMB: cfg.MemoryMB, DiskMB: cfg.DiskMB, Containers: cfg.Containers}})
	if err != nil {
		return fmt.Errorf("starting cell %s: %w", cfg.CellID, err)
	}
	<-signals
	r.Stop()
	return nil
}

// serveExecutor serves an in-memory executor of cfg's size through the real
// executor API until SIGTERM or SIGINT.
func serveExecutor(cfg Config) error {
	if cfg.Containers <= 0 {
		return fmt.Errorf("containers must be positive")
	}
	e := simrep.NewExecutor(executor.ExecutorResources{MemoryMB: int(cfg.MemoryMB), DiskMB: int(cfg.DiskMB), Containers: cfg.Containers})
	defer e.Close()
	hub := depot.NewHub()
	defer hub.Close()
	if err := relay(e, hub); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	api, err := handlers.New(handlers.Deps{Logger: logger, Depot: depotAdapter{e}, Health: healthy{}, Hub: hub})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.ExecutorListen)
	if err != nil {
		return err
	}
	server := &http.Server{Handler: api}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-signals
		_ = server.Close()
	}()
	if err := server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
