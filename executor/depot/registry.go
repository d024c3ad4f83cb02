package depot

// The registry: the in-memory containers, their resources against the
// cell's capacity, and their state changes (spec cell §3.1).

import (
	"log/slog"
	"sort"

	"diego/executor"
)

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
