// Package depot is the executor's container registry and lifecycle (spec
// cell §3.1, §3.3): it reserves resources, creates garden containers, runs
// their step trees, reports state changes as events, and cleans up.
package depot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/tedsuo/ifrit"

	"diego/deploy/clock"
	"diego/executor"
	"diego/executor/depot/cacheddownloader"
	"diego/executor/depot/steps"
	"diego/garden"
	"diego/models"
)

// StepsBuilder turns a created container into its step tree: a runner that
// closes ready when the container is healthy and returns the failure (nil
// for success) when the tree ends. An interrupt stops it.
type StepsBuilder interface {
	StepsRunner(logger *slog.Logger, c executor.Container, gc garden.Container) (ifrit.Runner, error)
}

// ReadinessReporter is a steps runner that reports readiness checks: it
// delivers each change of readiness, which the depot shows as the
// container's routable flag (re-emitting container_running). A nil channel
// (or a runner that is no ReadinessReporter) means no readiness checks.
type ReadinessReporter interface {
	Readiness() <-chan bool
}

// AppLog writes the cell's own lifecycle lines to a container's app log
// (spec cell §3.3).
type AppLog interface {
	Info(c executor.Container, message string)
	Error(c executor.Container, message string)
}

// DependencyFetcher downloads a container's cached dependencies into
// shared directories, bind-mounted read-only (spec cell §3.3 step 3.1).
type DependencyFetcher interface {
	FetchAsDirectory(ctx context.Context, logger *slog.Logger, u *url.URL, cacheKey string, checksum cacheddownloader.ChecksumInfo) (string, int64, error)
	CloseDirectory(cacheKey, dir string) error
}

// Metrics are the executor's counters and durations (spec cell §3.10).
type Metrics interface {
	SendDuration(name string, d time.Duration)
	IncrementCounter(name string)
}

// Config is the depot's share of the executor's configuration.
type Config struct {
	CellID                string
	OwnerName             string
	Total                 executor.ExecutorResources
	ContainerInodeLimit   uint64
	ContainerMaxCPUShares uint64
	ReservedExpiration    time.Duration
	CreateWorkers         int
	DeleteWorkers         int
}

// Depot is the registry and lifecycle.
type Depot struct {
	cfg     Config
	logger  *slog.Logger
	clock   clock.Clock
	garden  garden.Client
	steps   StepsBuilder
	appLog  AppLog
	metrics Metrics
	hub     *Hub
	fetcher DependencyFetcher

	creates chan struct{} // the create work pool's slots
	deletes chan struct{}

	mu         sync.Mutex
	containers map[string]*entry
}

// entry is one container and what runs it.
type entry struct {
	c        executor.Container
	process  ifrit.Process // the step tree, once started
	finished chan struct{} // closed when the container completes
	// inGarden is set before garden Create is called: from then on a
	// delete must destroy the garden container.
	inGarden bool
	// deps are the fetched cached-dependency directories, released at
	// delete.
	deps []fetchedDependency
}

type fetchedDependency struct{ cacheKey, dir string }

// New builds a depot; nothing runs until containers are allocated. fetcher
// may be nil when no container has cached dependencies.
func New(cfg Config, logger *slog.Logger, clk clock.Clock, gc garden.Client, steps StepsBuilder, appLog AppLog, metrics Metrics, hub *Hub, fetcher DependencyFetcher) *Depot {
	if cfg.CreateWorkers <= 0 {
		cfg.CreateWorkers = 32
	}
	if cfg.DeleteWorkers <= 0 {
		cfg.DeleteWorkers = 32
	}
	return &Depot{
		cfg: cfg, logger: logger, clock: clk, garden: gc, steps: steps, appLog: appLog, metrics: metrics, hub: hub, fetcher: fetcher,
		creates:    make(chan struct{}, cfg.CreateWorkers),
		deletes:    make(chan struct{}, cfg.DeleteWorkers),
		containers: map[string]*entry{},
	}
}

// TotalResources is the cell's capacity.
func (d *Depot) TotalResources() executor.ExecutorResources {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg.Total
}

// SetTotal sets the capacity, once garden has told the executor what the
// machine has (memory_mb and disk_mb "auto").
func (d *Depot) SetTotal(total executor.ExecutorResources) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cfg.Total = total
}

// RemainingResources is the capacity minus every registered container,
// whatever its state (spec cell §3.1).
func (d *Depot) RemainingResources() executor.ExecutorResources {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.remainingLocked()
}

func (d *Depot) remainingLocked() executor.ExecutorResources {
	r := d.cfg.Total
	for _, e := range d.containers {
		r.MemoryMB -= e.c.MemoryMB
		r.DiskMB -= e.c.DiskMB
		r.Containers--
	}
	return r
}

// AllocateContainers reserves each request and returns the ones it could
// not (spec cell §3.3 step 1).
func (d *Depot) AllocateContainers(logger *slog.Logger, requests []executor.AllocationRequest) []executor.AllocationFailure {
	var failures []executor.AllocationFailure
	var reserved []executor.Container
	d.mu.Lock()
	for _, req := range requests {
		if err := d.reserveLocked(req); err != nil {
			logger.Info("allocation-failed", "container_guid", req.Guid, "error", err)
			failures = append(failures, executor.AllocationFailure{AllocationRequest: req, ErrorMsg: err.Error()})
			continue
		}
		reserved = append(reserved, d.containers[req.Guid].c.Copy())
	}
	d.mu.Unlock()
	for _, c := range reserved {
		d.hub.Emit(executor.Event{Type: executor.EventTypeContainerReserved, Container: c})
	}
	return failures
}

func (d *Depot) reserveLocked(req executor.AllocationRequest) error {
	switch {
	case req.Guid == "":
		return executor.ErrGuidNotSpecified
	case req.MemoryMB < 0 || req.DiskMB < 0 || req.MaxPids < 0:
		return executor.ErrLimitsInvalid
	case d.containers[req.Guid] != nil:
		return executor.ErrContainerGuidNotAvailable
	}
	r := d.remainingLocked()
	if r.MemoryMB < req.MemoryMB || r.DiskMB < req.DiskMB || r.Containers < 1 {
		return executor.ErrInsufficientResourcesAvailable
	}
	tags := executor.Tags{}
	for k, v := range req.Tags {
		tags[k] = v
	}
	d.containers[req.Guid] = &entry{
		c: executor.Container{
			Guid: req.Guid, Resource: req.Resource, Tags: tags,
			State: executor.StateReserved, AllocatedAt: d.clock.Now().UnixNano(),
		},
		finished: make(chan struct{}),
	}
	return nil
}

// GetContainer returns a copy of the container.
func (d *Depot) GetContainer(guid string) (executor.Container, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.containers[guid]
	if !ok {
		return executor.Container{}, executor.ErrContainerNotFound
	}
	return e.c.Copy(), nil
}

// ListContainers returns the containers carrying every tag of filter,
// oldest first.
func (d *Depot) ListContainers(filter executor.Tags) []executor.Container {
	d.mu.Lock()
	out := make([]executor.Container, 0, len(d.containers))
	for _, e := range d.containers {
		if e.c.HasTags(filter) {
			out = append(out, e.c.Copy())
		}
	}
	d.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].AllocatedAt != out[j].AllocatedAt {
			return out[i].AllocatedAt < out[j].AllocatedAt
		}
		return out[i].Guid < out[j].Guid
	})
	return out
}

// RunContainer initializes a reserved container (synchronously) and then
// creates and runs it in the background (spec cell §3.3 steps 2-4).
func (d *Depot) RunContainer(logger *slog.Logger, req executor.RunRequest) error {
	if req.Action == nil {
		return executor.ErrStepsInvalid
	}
	actions := []*models.Action{req.Action, req.Setup, req.Monitor}
	for _, sc := range req.Sidecars {
		if sc.Action == nil {
			return executor.ErrStepsInvalid
		}
		actions = append(actions, sc.Action)
	}
	for _, a := range actions {
		if a == nil {
			continue
		}
		if err := a.Validate(); err != nil {
			logger.Info("invalid-steps", "container_guid", req.Guid, "error", err)
			return executor.ErrStepsInvalid
		}
	}
	d.mu.Lock()
	e, ok := d.containers[req.Guid]
	if !ok {
		d.mu.Unlock()
		return executor.ErrContainerNotFound
	}
	if !executor.CanTransition(e.c.State, executor.StateInitializing) {
		d.mu.Unlock()
		return executor.ErrInvalidTransition
	}
	e.c.RunInfo = req.RunInfo
	for k, v := range req.Tags {
		e.c.Tags[k] = v
	}
	e.c.State = executor.StateInitializing
	d.mu.Unlock()

	go d.createAndRun(logger.With("container_guid", req.Guid), req.Guid)
	return nil
}

func (d *Depot) createAndRun(logger *slog.Logger, guid string) {
	d.creates <- struct{}{}
	setupStart := d.clock.Now()
	c, gc, err := d.create(logger, guid)
	<-d.creates
	if err != nil {
		d.metrics.SendDuration("ContainerSetupFailedDuration", d.clock.Since(setupStart))
		d.complete(logger, guid, true, err.Error(), true)
		return
	}
	if c.RunResult.Stopped {
		d.complete(logger, guid, true, "stopped-before-running", false)
		return
	}
	runner, err := d.steps.StepsRunner(logger, c, gc)
	if err != nil {
		logger.Error("building-steps-failed", "error", err)
		d.complete(logger, guid, true, err.Error(), false)
		return
	}
	process := ifrit.Background(runner)
	d.mu.Lock()
	e, ok := d.containers[guid]
	if ok {
		e.process = process
		if e.c.RunResult.Stopped {
			process.Signal(os.Interrupt)
		}
	}
	d.mu.Unlock()
	if !ok {
		process.Signal(os.Kill)
		return
	}
	var readiness <-chan bool
	if r, ok := runner.(ReadinessReporter); ok {
		readiness = r.Readiness()
	}
	d.watch(logger, guid, process, readiness)
}

// watch moves the container to running when its steps are ready and to
// completed when they end. Without readiness checks a running container is
// routable; with them, it is routable while they pass, and each change
// re-emits container_running (spec cell §3.1, §3.3 step 4.2).
func (d *Depot) watch(logger *slog.Logger, guid string, process ifrit.Process, readiness <-chan bool) {
	routable := readiness == nil
	ready := process.Ready()
	running := false
	for {
		select {
		case <-ready:
			ready, running = nil, true
			if c, ok := d.transition(guid, executor.StateRunning, func(c *executor.Container) { c.Routable = routable }); ok {
				d.hub.Emit(executor.Event{Type: executor.EventTypeContainerRunning, Container: c})
			}
		case r := <-readiness:
			routable = r
			if !running {
				continue
			}
			if c, ok := d.setRoutable(guid, r); ok {
				logger.Info("readiness-changed", "routable", r)
				d.hub.Emit(executor.Event{Type: executor.EventTypeContainerRunning, Container: c})
			}
		case err := <-process.Wait():
			d.finish(logger, guid, err)
			return
		}
	}
}

// setRoutable changes a running container's routable flag and returns the
// new copy; false when it is not running or already so.
func (d *Depot) setRoutable(guid string, routable bool) (executor.Container, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.containers[guid]
	if !ok || e.c.State != executor.StateRunning || e.c.Routable == routable {
		return executor.Container{}, false
	}
	e.c.Routable = routable
	return e.c.Copy(), true
}

func (d *Depot) finish(logger *slog.Logger, guid string, err error) {
	if timeout := (*steps.TimeoutError)(nil); errors.As(err, &timeout) {
		d.metrics.IncrementCounter("ContainerExitedOnTimeoutCount")
	}
	if err != nil {
		d.complete(logger, guid, true, err.Error(), false)
		return
	}
	d.complete(logger, guid, false, "", false)
}

// transition changes a container's state when the state machine allows it
// and returns the new copy.
func (d *Depot) transition(guid string, to executor.State, also func(*executor.Container)) (executor.Container, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.containers[guid]
	if !ok || !executor.CanTransition(e.c.State, to) || e.c.State == executor.StateCompleted {
		return executor.Container{}, false
	}
	e.c.State = to
	if also != nil {
		also(&e.c)
	}
	return e.c.Copy(), true
}

// create makes the garden container (spec cell §3.3 step 3).
func (d *Depot) create(logger *slog.Logger, guid string) (executor.Container, garden.Container, error) {
	c, err := d.GetContainer(guid)
	if err != nil {
		return c, nil, err
	}
	spec, err := d.gardenSpec(c)
	if err != nil {
		return c, nil, fmt.Errorf("failed to create container: %w", err)
	}
	mounts, err := d.fetchDependencies(logger, c)
	if err != nil {
		logger.Error("cached-dependencies-failed", "error", err)
		return c, nil, errors.New("failed to download cached artifacts")
	}
	spec.BindMounts = append(spec.BindMounts, mounts...)
	d.appLog.Info(c, fmt.Sprintf("Cell %s creating container for instance %s", d.cfg.CellID, guid))
	d.mu.Lock()
	if e, ok := d.containers[guid]; ok {
		e.inGarden = true
	}
	d.mu.Unlock()
	start := d.clock.Now()
	gc, err := d.garden.Create(spec)
	if err != nil {
		d.metrics.SendDuration("GardenContainerCreationFailedDuration", d.clock.Since(start))
		logger.Error("garden-create-failed", "error", err)
		d.appLog.Error(c, fmt.Sprintf("Cell %s failed to create container for instance %s: %v", d.cfg.CellID, guid, err))
		return c, nil, fmt.Errorf("failed to create container: %w", err)
	}
	d.metrics.SendDuration("GardenContainerCreationSucceededDuration", d.clock.Since(start))
	d.appLog.Info(c, fmt.Sprintf("Cell %s successfully created container for instance %s", d.cfg.CellID, guid))
	info, err := gc.Info()
	if err != nil {
		return c, nil, fmt.Errorf("failed to create container: %w", err)
	}
	c, ok := d.transition(guid, executor.StateCreated, func(c *executor.Container) {
		c.ExternalIP, c.InternalIP, c.InternalIPv6 = info.ExternalIP, info.ContainerIP, info.ContainerIPv6
		c.MemoryLimit, c.DiskLimit = spec.Limits.Memory.LimitInBytes, spec.Limits.Disk.ByteHard
		for i, p := range c.Ports {
			for _, m := range info.MappedPorts {
				if uint32(p.ContainerPort) == m.ContainerPort {
					c.Ports[i].HostPort = uint16(m.HostPort)
				}
			}
		}
	})
	if !ok {
		// Completed meanwhile (stopped, expired or deleted).
		current, _ := d.GetContainer(guid)
		current.RunResult.Stopped = true
		return current, gc, nil
	}
	return c, gc, nil
}

// fetchDependencies downloads the cached dependencies and returns their
// read-only bind mounts; the directories are released at delete.
func (d *Depot) fetchDependencies(logger *slog.Logger, c executor.Container) ([]garden.BindMount, error) {
	if len(c.CachedDependencies) == 0 {
		return nil, nil
	}
	if d.fetcher == nil {
		return nil, errors.New("no downloader for cached dependencies")
	}
	var mounts []garden.BindMount
	for _, dep := range c.CachedDependencies {
		u, err := url.Parse(dep.From)
		if err != nil {
			return mounts, fmt.Errorf("cached dependency %q: %w", dep.Name, err)
		}
		if dep.Name != "" {
			d.appLog.Info(c, fmt.Sprintf("Downloading %s...", dep.Name))
		}
		dir, size, err := d.fetcher.FetchAsDirectory(context.Background(), logger, u, dep.CacheKey,
			cacheddownloader.ChecksumInfo{Algorithm: dep.ChecksumAlgorithm, Value: dep.ChecksumValue})
		if err != nil {
			if dep.Name != "" {
				d.appLog.Error(c, fmt.Sprintf("Downloading %s failed", dep.Name))
			}
			return mounts, fmt.Errorf("cached dependency %q: %w", dep.Name, err)
		}
		if dep.Name != "" {
			d.appLog.Info(c, fmt.Sprintf("Downloaded %s (%s)", dep.Name, steps.HumanSize(size)))
		}
		d.mu.Lock()
		if e, ok := d.containers[c.Guid]; ok {
			e.deps = append(e.deps, fetchedDependency{cacheKey: dep.CacheKey, dir: dir})
		}
		d.mu.Unlock()
		mounts = append(mounts, garden.BindMount{SrcPath: dir, DstPath: dep.To,
			Mode: garden.BindMountModeRO, Origin: garden.BindMountOriginHost})
	}
	return mounts, nil
}

// complete moves a container to completed once and emits the event.
func (d *Depot) complete(logger *slog.Logger, guid string, failed bool, reason string, retryable bool) {
	d.mu.Lock()
	e, ok := d.containers[guid]
	if !ok || e.c.State == executor.StateCompleted {
		d.mu.Unlock()
		return
	}
	e.c.State = executor.StateCompleted
	e.c.Routable = false
	e.c.RunResult.Failed = failed
	e.c.RunResult.FailureReason = reason
	e.c.RunResult.Retryable = retryable
	c := e.c.Copy()
	close(e.finished)
	d.mu.Unlock()
	logger.Info("completed", "failed", failed, "reason", reason)
	d.metrics.IncrementCounter("ContainerCompletedCount")
	d.hub.Emit(executor.Event{Type: executor.EventTypeContainerComplete, Container: c})
}

// StopContainer interrupts the container's steps; a container that is not
// running yet completes as stopped-before-running (spec cell §3.3 step 5).
func (d *Depot) StopContainer(logger *slog.Logger, guid string) error {
	d.mu.Lock()
	e, ok := d.containers[guid]
	if !ok {
		d.mu.Unlock()
		return executor.ErrContainerNotFound
	}
	e.c.RunResult.Stopped = true
	c, process, state := e.c.Copy(), e.process, e.c.State
	d.mu.Unlock()
	if state == executor.StateCompleted {
		return nil
	}
	d.appLog.Info(c, fmt.Sprintf("Cell %s stopping instance %s", d.cfg.CellID, guid))
	if process != nil {
		process.Signal(os.Interrupt)
		return nil
	}
	if state == executor.StateReserved {
		d.complete(logger, guid, true, "stopped-before-running", false)
	}
	// initializing/created: createAndRun sees Stopped and completes.
	return nil
}

// DeleteContainer stops the container, waits for its steps, destroys the
// garden container and forgets it (spec cell §3.3 step 6).
func (d *Depot) DeleteContainer(logger *slog.Logger, guid string) error {
	d.mu.Lock()
	e, ok := d.containers[guid]
	if !ok {
		d.mu.Unlock()
		return executor.ErrContainerNotFound
	}
	d.mu.Unlock()

	if err := d.StopContainer(logger, guid); err != nil {
		return err
	}
	<-e.finished
	d.deletes <- struct{}{}
	defer func() { <-d.deletes }()

	d.mu.Lock()
	c, inGarden := e.c.Copy(), e.inGarden
	d.mu.Unlock()
	if inGarden {
		d.appLog.Info(c, fmt.Sprintf("Cell %s destroying container for instance %s", d.cfg.CellID, guid))
		start := d.clock.Now()
		err := d.garden.Destroy(guid)
		var notFound garden.ContainerNotFoundError
		if err != nil && !errors.As(err, &notFound) && err.Error() != garden.ErrAlreadyBeingDestroyed.Error() {
			d.metrics.SendDuration("GardenContainerDestructionFailedDuration", d.clock.Since(start))
			d.appLog.Error(c, fmt.Sprintf("Cell %s failed to destroy container for instance %s", d.cfg.CellID, guid))
			logger.Error("garden-destroy-failed", "container_guid", guid, "error", err)
			return fmt.Errorf("destroying %s: %w", guid, err)
		}
		d.metrics.SendDuration("GardenContainerDestructionSucceededDuration", d.clock.Since(start))
		d.appLog.Info(c, fmt.Sprintf("Cell %s successfully destroyed container for instance %s", d.cfg.CellID, guid))
	}
	d.mu.Lock()
	delete(d.containers, guid)
	deps := e.deps
	d.mu.Unlock()
	for _, dep := range deps {
		if err := d.fetcher.CloseDirectory(dep.cacheKey, dep.dir); err != nil {
			logger.Error("releasing-cached-dependency-failed", "dir", dep.dir, "error", err)
		}
	}
	return nil
}

// GetFiles streams a path of the container as a tar.
func (d *Depot) GetFiles(guid, source string) (io.ReadCloser, error) {
	c, err := d.GetContainer(guid)
	if err != nil {
		return nil, err
	}
	if c.State == executor.StateReserved || c.State == executor.StateInitializing {
		return nil, executor.ErrContainerNotFound
	}
	gc, err := d.garden.Lookup(guid)
	if err != nil {
		return nil, executor.ErrContainerNotFound
	}
	return gc.StreamOut(garden.StreamOutSpec{Path: source, User: "root"})
}

// GetMetrics is one container's usage.
func (d *Depot) GetMetrics(guid string) (executor.ContainerMetrics, error) {
	all, err := d.metricsFor([]string{guid})
	if err != nil {
		return executor.ContainerMetrics{}, err
	}
	m, ok := all[guid]
	if !ok {
		return executor.ContainerMetrics{}, executor.ErrContainerNotFound
	}
	return m, nil
}

// GetAllMetrics is the usage of every container created in garden.
func (d *Depot) GetAllMetrics() (map[string]executor.ContainerMetrics, error) {
	var guids []string
	for _, c := range d.ListContainers(nil) {
		if c.State == executor.StateCreated || c.State == executor.StateRunning {
			guids = append(guids, c.Guid)
		}
	}
	return d.metricsFor(guids)
}

func (d *Depot) metricsFor(guids []string) (map[string]executor.ContainerMetrics, error) {
	out := map[string]executor.ContainerMetrics{}
	if len(guids) == 0 {
		return out, nil
	}
	entries, err := d.garden.BulkMetrics(guids)
	if err != nil {
		return nil, err
	}
	for guid, entry := range entries {
		if entry.Err != nil {
			continue
		}
		c, err := d.GetContainer(guid)
		if err != nil {
			continue
		}
		m := entry.Metrics
		out[guid] = executor.ContainerMetrics{
			MemoryUsageInBytes: m.MemoryStat.TotalUsageTowardLimit,
			DiskUsageInBytes:   m.DiskStat.TotalBytesUsed,
			MemoryLimitInBytes: c.MemoryLimit,
			DiskLimitInBytes:   c.DiskLimit,
			TimeSpentInCPU:     int64(m.CPUStat.Usage),
			AbsoluteCPUUsage:   m.CPUStat.Usage,
			ContainerAgeInNs:   uint64(m.Age),
		}
	}
	return out, nil
}

// DestroyOwned destroys every garden container this executor owns, at
// start (the registry is in memory and starts empty; spec cell §3.3 step 9).
func (d *Depot) DestroyOwned(logger *slog.Logger) error {
	owned, err := d.garden.Containers(garden.Properties{OwnerProperty: d.cfg.OwnerName, garden.StateProperty: garden.StateAll})
	if err != nil {
		return fmt.Errorf("listing owned garden containers: %w", err)
	}
	for _, gc := range owned {
		if err := d.garden.Destroy(gc.Handle()); err != nil {
			logger.Error("destroying-owned-container-failed", "handle", gc.Handle(), "error", err)
			continue
		}
		logger.Info("destroyed-owned-container", "handle", gc.Handle())
	}
	return nil
}

// Reap completes reserved containers past their expiry, destroys owned
// garden containers the registry does not know, and completes registry
// containers whose garden container is gone (spec cell §3.3 steps 7-8).
func (d *Depot) Reap(ctx context.Context, logger *slog.Logger) {
	now := d.clock.Now()
	for _, c := range d.ListContainers(nil) {
		if c.State == executor.StateReserved && now.Sub(time.Unix(0, c.AllocatedAt)) > d.cfg.ReservedExpiration {
			d.complete(logger.With("container_guid", c.Guid), c.Guid, true, "expired container", false)
		}
	}
	owned, err := d.garden.Containers(garden.Properties{OwnerProperty: d.cfg.OwnerName})
	if err != nil {
		logger.Error("reap-list-failed", "error", err)
		return
	}
	inGarden := map[string]bool{}
	for _, gc := range owned {
		inGarden[gc.Handle()] = true
		if _, err := d.GetContainer(gc.Handle()); errors.Is(err, executor.ErrContainerNotFound) {
			logger.Info("reaping-unknown-container", "handle", gc.Handle())
			if err := d.garden.Destroy(gc.Handle()); err != nil {
				logger.Error("reap-destroy-failed", "handle", gc.Handle(), "error", err)
			}
		}
	}
	for _, c := range d.ListContainers(nil) {
		if (c.State == executor.StateCreated || c.State == executor.StateRunning) && !inGarden[c.Guid] {
			// Listed before it was created? Check it again to be sure.
			if _, err := d.garden.Lookup(c.Guid); err != nil {
				d.complete(logger.With("container_guid", c.Guid), c.Guid, true, "missing garden container", false)
			}
		}
	}
}
