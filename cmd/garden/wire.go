package main

import (
	"fmt"

	"github.com/tedsuo/ifrit/grouper"

	"diego/deploy/daemon"
	"diego/garden/backend/linux"
	"diego/garden/config"
	"diego/garden/server"
	"diego/metron/emitter"
)

// wire builds the backend and serves it; the runner starts the backend
// (host checks, cleanup of a previous run) before it listens.
func wire(cfg config.Config, kit *daemon.Kit) (daemon.Process, error) {
	backend, err := linux.New(cfg.Backend(), linux.Deps{Logger: kit.Logger.With("component", "linux-backend"), Clock: kit.Clock})
	if err != nil {
		return daemon.Process{}, err
	}
	metrics, err := emitter.New(fmt.Sprintf("127.0.0.1:%d", cfg.DropsondePort), cfg.DropsondeOrigin, kit.Clock)
	if err != nil {
		return daemon.Process{}, err
	}
	metered := server.Metered(backend, metrics, kit.Clock)
	srv := server.New(server.Deps{Logger: kit.Logger, Clock: kit.Clock, Backend: metered})
	api, err := server.NewRunner(server.RunnerConfig{Network: cfg.ListenNetwork, Address: cfg.ListenAddr},
		server.RunnerDeps{Server: srv})
	if err != nil {
		return daemon.Process{}, err
	}
	reporter := server.MetricsReporter{Backend: backend, Metrics: metrics, Clock: kit.Clock, Interval: cfg.MetricsEmissionInterval.Duration()}
	return daemon.Process{Members: grouper.Members{
		{Name: "metrics", Runner: metrics},
		{Name: "api", Runner: api},
		{Name: "metrics-reporter", Runner: reporter},
	}}, nil
}
