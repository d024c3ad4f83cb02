package main

import (
	"log/slog"
	"os"

	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"

	"diego/deploy/clock"
	"diego/deploy/daemon"
	"diego/deploy/logging"
	"diego/garden/backend/linux"
	"diego/garden/config"
	"diego/garden/server"
)

// wire builds the backend and serves it; the runner starts the backend
// (host checks, cleanup of a previous run) before it listens.
func wire(cfg config.Config) (ifrit.Runner, *slog.Logger, func(), error) {
	level, _ := logging.ParseLevel(cfg.LogLevel)
	logger := logging.New(os.Stdout, level, "garden")
	clk := clock.NewClock()

	backend, err := linux.New(cfg.Backend(), logger.With("component", "linux-backend"), clk)
	if err != nil {
		return nil, nil, nil, err
	}
	api, err := server.NewRunner(server.New(backend, logger, clk), cfg.ListenNetwork, cfg.ListenAddr)
	if err != nil {
		return nil, nil, nil, err
	}
	members := grouper.Members{{Name: "api", Runner: api}, {Name: "ready", Runner: daemon.Announce(logger)}}
	if cfg.DebugAddress != "" {
		members = append(grouper.Members{{Name: "debug", Runner: daemon.Debug(cfg.DebugAddress)}}, members...)
	}
	return grouper.NewOrdered(os.Interrupt, members), logger, nil, nil
}
