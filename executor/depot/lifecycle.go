package depot

// The lifecycle: run (create in garden, run the steps, watch them), stop,
// delete, and the start-up and periodic clean-up (spec cell §3.3).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/tedsuo/ifrit"

	"diego/executor"
	"diego/executor/depot/steps"
	"diego/garden"
	"diego/models"
)

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
