// Package runners holds the executor's periodic work (spec cell §3.3,
// §3.10): the reaper, the container and capacity metrics, and the garden
// health check that decides /ping.
package runners

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/tedsuo/ifrit"

	"diego/deploy/clock"
	"diego/executor"
	"diego/garden"
	"diego/metron/emitter"
)

// Every runs f at once and then every interval until signalled.
func Every(clk clock.Clock, interval time.Duration, f func(ctx context.Context)) ifrit.Runner {
	return ifrit.RunFunc(func(signals <-chan os.Signal, ready chan<- struct{}) error {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		close(ready)
		f(ctx)
		ticker := clk.NewTicker(interval)
		defer ticker.Stop()
		for {
			select {
			case <-signals:
				return nil
			case <-ticker.C():
				f(ctx)
			}
		}
	})
}

// Depot is what the periodic work reads.
type Depot interface {
	ListContainers(filter executor.Tags) []executor.Container
	RemainingResources() executor.ExecutorResources
	TotalResources() executor.ExecutorResources
}

// Sender is the metron emitter's share used here.
type Sender interface {
	SendValue(name string, value float64, unit string)
	SendContainerMetric(m emitter.ContainerMetric)
}

// MetricsReporter emits a ContainerMetric per running container (cpu
// percentage from the change since the last sample) and the capacity
// gauges.
type MetricsReporter struct {
	depot  Depot
	garden garden.Client
	sender Sender
	clock  clock.Clock
	logger *slog.Logger

	mu   sync.Mutex
	last map[string]cpuSample
}

type cpuSample struct {
	cpu uint64
	at  time.Time
}

// NewMetricsReporter builds the reporter.
func NewMetricsReporter(d Depot, g garden.Client, s Sender, clk clock.Clock, logger *slog.Logger) *MetricsReporter {
	return &MetricsReporter{depot: d, garden: g, sender: s, clock: clk, logger: logger, last: map[string]cpuSample{}}
}

// ReportContainers emits one ContainerMetric per running container with a
// metrics guid (spec cell §3.10).
func (r *MetricsReporter) ReportContainers(context.Context) {
	byGuid := map[string]executor.Container{}
	var guids []string
	for _, c := range r.depot.ListContainers(nil) {
		if c.State == executor.StateRunning || c.State == executor.StateCreated {
			byGuid[c.Guid] = c
			guids = append(guids, c.Guid)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for guid := range r.last {
		if _, ok := byGuid[guid]; !ok {
			delete(r.last, guid)
		}
	}
	if len(guids) == 0 {
		return
	}
	entries, err := r.garden.BulkMetrics(guids)
	if err != nil {
		r.logger.Error("bulk-metrics-failed", "error", err)
		return
	}
	now := r.clock.Now()
	for guid, entry := range entries {
		c, ok := byGuid[guid]
		if !ok || entry.Err != nil || c.MetricsConfig.Guid == "" {
			continue
		}
		cpu := entry.Metrics.CPUStat.Usage
		percent := 0.0
		if prev, ok := r.last[guid]; ok && now.After(prev.at) && cpu >= prev.cpu {
			percent = float64(cpu-prev.cpu) * 100 / float64(now.Sub(prev.at).Nanoseconds())
		}
		r.last[guid] = cpuSample{cpu: cpu, at: now}
		r.sender.SendContainerMetric(emitter.ContainerMetric{
			ApplicationID:    c.MetricsConfig.Guid,
			InstanceIndex:    int32(c.MetricsConfig.Index),
			CPUPercentage:    percent,
			MemoryBytes:      entry.Metrics.MemoryStat.TotalUsageTowardLimit,
			DiskBytes:        entry.Metrics.DiskStat.TotalBytesUsed,
			MemoryBytesQuota: c.MemoryLimit,
			DiskBytesQuota:   c.DiskLimit,
		})
	}
}

// ReportCapacity emits the cell capacity gauges.
func (r *MetricsReporter) ReportCapacity(context.Context) {
	total, remaining := r.depot.TotalResources(), r.depot.RemainingResources()
	r.sender.SendValue("CapacityTotalMemory", float64(total.MemoryMB), "MiB")
	r.sender.SendValue("CapacityTotalDisk", float64(total.DiskMB), "MiB")
	r.sender.SendValue("CapacityRemainingMemory", float64(remaining.MemoryMB), "MiB")
	r.sender.SendValue("CapacityRemainingDisk", float64(remaining.DiskMB), "MiB")
	r.sender.SendValue("CapacityTotalContainers", float64(total.Containers), "Metric")
	r.sender.SendValue("CapacityRemainingContainers", float64(remaining.Containers), "Metric")
	r.sender.SendValue("ContainerCount", float64(total.Containers-remaining.Containers), "Metric")
	// The modern additions: what is allocated, and how many containers are
	// on their way to running (initializing or created).
	r.sender.SendValue("CapacityAllocatedMemory", float64(total.MemoryMB-remaining.MemoryMB), "MiB")
	r.sender.SendValue("CapacityAllocatedDisk", float64(total.DiskMB-remaining.DiskMB), "MiB")
	starting := 0
	for _, c := range r.depot.ListContainers(nil) {
		if c.State == executor.StateInitializing || c.State == executor.StateCreated {
			starting++
		}
	}
	r.sender.SendValue("StartingContainerCount", float64(starting), "Metric")
}

// healthCheckPrefix marks the health check's own containers, so a leftover
// from a crash is destroyed by the next check.
const healthCheckPrefix = "executor-healthcheck-"

// GardenHealth runs the garden health check (spec cell §3.10): create a
// container, run a command in it as vcap, destroy it. Until a check fails
// the executor is healthy; /ping reports it.
type GardenHealth struct {
	garden garden.Client
	rootfs string
	sender Sender
	logger *slog.Logger
	clock  clock.Clock
	// Timeout bounds one check's retries (1 s apart): only a check that
	// keeps failing that long marks the cell unhealthy (10 m in Diego).
	Timeout time.Duration

	mu  sync.Mutex
	err error
}

// NewGardenHealth builds the checker; rootfs "" uses garden's default.
func NewGardenHealth(g garden.Client, rootfs string, s Sender, clk clock.Clock, logger *slog.Logger) *GardenHealth {
	return &GardenHealth{garden: g, rootfs: rootfs, sender: s, clock: clk, logger: logger, Timeout: 10 * time.Minute}
}

// Healthy is nil while garden answers and the last check passed.
func (h *GardenHealth) Healthy() error {
	if err := h.garden.Ping(); err != nil {
		return fmt.Errorf("garden unreachable: %w", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

// Check runs one health check, retrying every second until it passes or
// Timeout has passed.
func (h *GardenHealth) Check(ctx context.Context) {
	deadline := h.clock.Now().Add(h.Timeout)
	err := h.check()
	for err != nil && h.clock.Now().Before(deadline) {
		h.logger.Info("garden-health-check-retrying", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-h.clock.After(time.Second):
		}
		err = h.check()
	}
	h.mu.Lock()
	h.err = err
	h.mu.Unlock()
	if err != nil {
		h.logger.Error("garden-health-check-failed", "error", err)
		h.sender.SendValue("CellUnhealthy", 1, "Metric")
		h.sender.SendValue("GardenHealthCheckFailed", 1, "Metric")
		return
	}
	h.sender.SendValue("CellUnhealthy", 0, "Metric")
	h.sender.SendValue("GardenHealthCheckFailed", 0, "Metric")
}

func (h *GardenHealth) check() error {
	leftovers, err := h.garden.Containers(garden.Properties{garden.StateProperty: garden.StateAll})
	if err != nil {
		return fmt.Errorf("listing containers: %w", err)
	}
	for _, c := range leftovers {
		if strings.HasPrefix(c.Handle(), healthCheckPrefix) {
			_ = h.garden.Destroy(c.Handle())
		}
	}
	handle := healthCheckPrefix + uuid.NewString()
	c, err := h.garden.Create(garden.ContainerSpec{Handle: handle, Image: garden.ImageRef{URI: h.rootfs}})
	if err != nil {
		return fmt.Errorf("creating the health-check container: %w", err)
	}
	defer func() { _ = h.garden.Destroy(handle) }()
	p, err := c.Run(garden.ProcessSpec{Path: "/bin/sh", Args: []string{"-c", "ls > /tmp/test"}, User: "vcap"}, garden.ProcessIO{})
	if err != nil {
		return fmt.Errorf("running the health-check process: %w", err)
	}
	status, err := p.Wait()
	if err != nil {
		return fmt.Errorf("waiting for the health-check process: %w", err)
	}
	if status != 0 {
		return errors.New("the health-check process exited with status " + fmt.Sprint(status))
	}
	return nil
}

// CapacityConfig is what the initializer needs to size the cell.
type CapacityConfig struct {
	MemoryMB            int // 0 = auto
	DiskMB              int // 0 = auto
	MaxContainers       int
	MaxCacheSizeInBytes uint64
}

// TotalFromGarden sizes the cell (spec cell §3.1): configured numbers win;
// "auto" reads garden's capacity, keeping the download cache's size out of
// the disk and one container slot for the garden health check.
func TotalFromGarden(capacity garden.Capacity, cfg CapacityConfig) executor.ExecutorResources {
	const mib = 1024 * 1024
	total := executor.ExecutorResources{MemoryMB: cfg.MemoryMB, DiskMB: cfg.DiskMB}
	if total.MemoryMB == 0 {
		total.MemoryMB = int(capacity.MemoryInBytes / mib)
	}
	if total.DiskMB == 0 {
		disk := int64(capacity.DiskInBytes) - int64(cfg.MaxCacheSizeInBytes)
		total.DiskMB = int(max(disk, 0) / mib)
	}
	total.Containers = cfg.MaxContainers
	if g := int(capacity.MaxContainers) - 1; g < total.Containers {
		total.Containers = max(g, 0)
	}
	return total
}

// Initializer waits for garden, sizes the cell and destroys the containers
// a previous executor left (spec cell §3.3 step 9); it is ready when the
// executor can serve.
type Initializer struct {
	Garden    garden.Client
	Clock     clock.Clock
	Logger    *slog.Logger
	Capacity  CapacityConfig
	SetTotal  func(executor.ExecutorResources)
	Cleanup   func(*slog.Logger) error
	RetryWait time.Duration
}

// Run implements ifrit.Runner.
func (i Initializer) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	wait := i.RetryWait
	if wait == 0 {
		wait = time.Second
	}
	var capacity garden.Capacity
	for attempt := 0; ; attempt++ {
		var err error
		if err = i.Garden.Ping(); err == nil {
			if capacity, err = i.Garden.Capacity(); err == nil {
				break
			}
		}
		if attempt%10 == 0 {
			i.Logger.Info("waiting-for-garden", "error", err)
		}
		select {
		case <-signals:
			return nil
		case <-i.Clock.After(wait):
		}
	}
	total := TotalFromGarden(capacity, i.Capacity)
	i.SetTotal(total)
	i.Logger.Info("capacity", "memory_mb", total.MemoryMB, "disk_mb", total.DiskMB, "containers", total.Containers)
	if err := i.Cleanup(i.Logger); err != nil {
		return err
	}
	close(ready)
	<-signals
	return nil
}
