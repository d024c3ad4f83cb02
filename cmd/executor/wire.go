package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"

	"diego/deploy/daemon"
	"diego/deploy/httpserver"
	"diego/executor"
	"diego/executor/config"
	"diego/executor/depot"
	"diego/executor/depot/cacheddownloader"
	"diego/executor/depot/log_streamer"
	"diego/executor/depot/steps"
	"diego/executor/depot/transformer"
	"diego/executor/handlers"
	"diego/executor/runners"
	"diego/garden"
	gardenclient "diego/garden/client"
	"diego/metron/emitter"
)

// wire builds the executor: metrics first, then the initializer (waits for
// garden, sizes the cell, destroys what a previous run owned), then the
// API and the periodic work.
func wire(cfg config.Config, kit *daemon.Kit) (daemon.Process, error) {
	logger, clk := kit.Logger, kit.Clock

	metrics, err := emitter.New(fmt.Sprintf("127.0.0.1:%d", cfg.DropsondePort), "executor", clk)
	if err != nil {
		return daemon.Process{}, err
	}
	gc := gardenclient.New(cfg.GardenNetwork, cfg.GardenAddr)
	downloader, err := cacheddownloader.New(cacheddownloader.Config{
		CachePath: cfg.CachePath, MaxCacheSizeInBytes: int64(cfg.MaxCacheSizeInBytes), TempDir: cfg.TempDir, Clock: clk,
	})
	if err != nil {
		return daemon.Process{}, err
	}
	trans := transformer.New(transformer.Config{
		CellID:                      cfg.CellID,
		GracefulShutdownInterval:    cfg.GracefulShutdownInterval.Duration(),
		HealthyMonitoringInterval:   cfg.HealthyMonitoringInterval.Duration(),
		UnhealthyMonitoringInterval: cfg.UnhealthyMonitoringInterval.Duration(),
		TempDir:                     cfg.TempDir,
		MaxConcurrentDownloads:      cfg.MaxConcurrentDownloads,
		HealthCheckWorkPoolSize:     cfg.HealthCheckWorkPoolSize,
	}, transformer.Deps{Clock: clk, Downloader: downloader, Uploader: steps.NewUploader(steps.UploaderConfig{})})
	hub := depot.NewHub()
	d := depot.New(depot.Config{
		CellID: cfg.CellID, OwnerName: cfg.ContainerOwnerName,
		ContainerInodeLimit: cfg.ContainerInodeLimit, ContainerMaxCPUShares: cfg.ContainerMaxCPUShares,
		ReservedExpiration: cfg.ReservedExpirationTime.Duration(),
		CreateWorkers:      cfg.CreateWorkPoolSize, DeleteWorkers: cfg.DeleteWorkPoolSize,
	}, depot.Deps{Logger: logger, Clock: clk, Garden: gc, Steps: stepsBuilder{trans, metrics}, AppLog: appLog{metrics},
		Metrics: metrics, Hub: hub, Fetcher: downloader})

	health := runners.NewGardenHealth(runners.GardenHealthConfig{RootFS: cfg.GardenHealthcheckRootFS},
		runners.GardenHealthDeps{Logger: logger, Clock: clk, Garden: gc, Sender: metrics})
	api, err := handlers.New(handlers.Deps{Logger: logger, Depot: d, Health: health, Hub: hub})
	if err != nil {
		return daemon.Process{}, err
	}
	reporter := runners.NewMetricsReporter(runners.MetricsReporterDeps{Logger: logger, Clock: clk, Depot: d, Garden: gc,
		Sender: metrics})
	initializer := runners.NewInitializer(runners.InitializerConfig{
		Capacity: runners.CapacityConfig{
			MemoryMB: int(cfg.MemoryMB), DiskMB: int(cfg.DiskMB), MaxContainers: cfg.MaxContainers,
			MaxCacheSizeInBytes: cfg.MaxCacheSizeInBytes,
		},
	}, runners.InitializerDeps{Logger: logger, Clock: clk, Garden: gc, SetTotal: d.SetTotal, Cleanup: d.DestroyOwned})
	return daemon.Process{Members: grouper.Members{
		{Name: "metrics", Runner: metrics},
		{Name: "initializer", Runner: initializer},
		{Name: "api", Runner: httpserver.New(cfg.ListenAddr, api)},
		// Stopped before the API (ordered groups stop in reverse): ending
		// the event streams lets the API's graceful shutdown finish.
		{Name: "events", Runner: closeOnSignal(hub.Close)},
		{Name: "reaper", Runner: runners.Every(clk, cfg.ContainerReapInterval.Duration(), func(ctx context.Context) { d.Reap(ctx, logger) })},
		{Name: "container-metrics", Runner: runners.Every(clk, cfg.ContainerMetricsReportInterval.Duration(), reporter.ReportContainers)},
		{Name: "capacity-metrics", Runner: runners.Every(clk, time.Minute, reporter.ReportCapacity)},
		{Name: "garden-health", Runner: runners.Every(clk, cfg.GardenHealthcheckInterval.Duration(), health.Check)},
	}}, nil
}

// stepsBuilder gives each container its own log streamer and makes the
// tree's error the spec's failure_reason (truncated).
type stepsBuilder struct {
	trans   *transformer.Transformer
	emitter *emitter.Emitter
}

func (b stepsBuilder) StepsRunner(logger *slog.Logger, c executor.Container, gc garden.Container) (ifrit.Runner, error) {
	streamer := log_streamer.New(c.LogConfig.Guid, c.LogConfig.SourceName, c.LogConfig.Index, b.emitter)
	runner, err := b.trans.StepsRunner(logger, c, gc, streamer)
	if err != nil {
		return nil, err
	}
	run := ifrit.RunFunc(func(signals <-chan os.Signal, ready chan<- struct{}) error {
		err := runner.Run(signals, ready)
		streamer.Flush()
		if err != nil {
			return errors.New(transformer.FailureReason(err))
		}
		return nil
	})
	if r, ok := runner.(transformer.ReadinessReporter); ok {
		return readinessRunner{run, r}, nil
	}
	return run, nil
}

// readinessRunner keeps the tree's readiness reports visible to the depot.
type readinessRunner struct {
	ifrit.RunFunc
	transformer.ReadinessReporter
}

// appLog writes the cell's lifecycle lines to the container's app log.
type appLog struct{ emitter *emitter.Emitter }

func (a appLog) Info(c executor.Container, message string) {
	log_streamer.New(c.LogConfig.Guid, c.LogConfig.SourceName, c.LogConfig.Index, a.emitter).Log(message)
}

func (a appLog) Error(c executor.Container, message string) {
	log_streamer.New(c.LogConfig.Guid, c.LogConfig.SourceName, c.LogConfig.Index, a.emitter).LogError(message)
}

// closeOnSignal runs release when the process is told to stop.
func closeOnSignal(release func()) ifrit.Runner {
	return ifrit.RunFunc(func(signals <-chan os.Signal, ready chan<- struct{}) error {
		close(ready)
		<-signals
		release()
		return nil
	})
}
