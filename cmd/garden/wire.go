package main

import (
	"github.com/tedsuo/ifrit/grouper"

	"diego/deploy/daemon"
	"diego/garden/backend/linux"
	"diego/garden/config"
	"diego/garden/server"
)

// wire builds the backend and serves it; the runner starts the backend
// (host checks, cleanup of a previous run) before it listens.
func wire(cfg config.Config, kit *daemon.Kit) (daemon.Process, error) {
	backend, err := linux.New(cfg.Backend(), kit.Logger.With("component", "linux-backend"), kit.Clock)
	if err != nil {
		return daemon.Process{}, err
	}
	srv := server.New(server.Deps{Logger: kit.Logger, Clock: kit.Clock, Backend: backend})
	api, err := server.NewRunner(server.RunnerConfig{Network: cfg.ListenNetwork, Address: cfg.ListenAddr},
		server.RunnerDeps{Server: srv})
	if err != nil {
		return daemon.Process{}, err
	}
	return daemon.Process{Members: grouper.Members{{Name: "api", Runner: api}}}, nil
}
