package simrep

import (
	"errors"
	"io"
	"sync"

	"diego/executor"
	repsync "diego/rep/sync"
)

// Executor is an in-memory executor backend: the rep's sync, auction and
// handlers drive it through the same methods they call on the executor's
// client. Containers go reserved → running at once when run; a task's
// container completes as soon as it runs (its action "succeeds"), an LRP's
// runs until stopped. Every transition is an event, as the real executor
// sends them.
//
// A stored container is never changed: a transition stores a changed deep
// copy. So reads (a /state lists every container on every auction round)
// hand out shallow copies that share the stored maps and slices, which no
// reader writes to, instead of copying every tag map each time.
type Executor struct {
	total executor.ExecutorResources

	mu          sync.Mutex
	containers  map[string]*executor.Container
	subscribers map[*eventStream]struct{}
	closed      bool
}

// NewExecutor returns an executor of the given capacity.
func NewExecutor(total executor.ExecutorResources) *Executor {
	return &Executor{total: total, containers: map[string]*executor.Container{}, subscribers: map[*eventStream]struct{}{}}
}

// Ping always answers: the backend is in memory.
func (e *Executor) Ping() error { return nil }

// TotalResources is the capacity given to NewExecutor.
func (e *Executor) TotalResources() (executor.ExecutorResources, error) { return e.total, nil }

// RemainingResources is the capacity less every container's reservation.
func (e *Executor) RemainingResources() (executor.ExecutorResources, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.remaining(), nil
}

func (e *Executor) remaining() executor.ExecutorResources {
	r := e.total
	for _, c := range e.containers {
		r.MemoryMB -= c.MemoryMB
		r.DiskMB -= c.DiskMB
		r.Containers--
	}
	return r
}

// Len is how many containers the executor holds.
func (e *Executor) Len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.containers)
}

// ListContainers lists the containers carrying every tag of filter.
func (e *Executor) ListContainers(filter executor.Tags) ([]executor.Container, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]executor.Container, 0, len(e.containers))
	for _, c := range e.containers {
		if c.HasTags(filter) {
			out = append(out, *c)
		}
	}
	return out, nil
}

// GetContainer is one container, or ErrContainerNotFound.
func (e *Executor) GetContainer(guid string) (executor.Container, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.containers[guid]
	if !ok {
		return executor.Container{}, executor.ErrContainerNotFound
	}
	return *c, nil
}

// AllocateContainers reserves each request that fits and is new, in order.
func (e *Executor) AllocateContainers(requests []executor.AllocationRequest) ([]executor.AllocationFailure, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var failures []executor.AllocationFailure
	for _, req := range requests {
		if req.Guid == "" {
			failures = append(failures, executor.AllocationFailure{AllocationRequest: req, ErrorMsg: executor.ErrGuidNotSpecified.Message})
			continue
		}
		if _, ok := e.containers[req.Guid]; ok {
			failures = append(failures, executor.AllocationFailure{AllocationRequest: req, ErrorMsg: executor.ErrContainerGuidNotAvailable.Message})
			continue
		}
		r := e.remaining()
		if r.Containers < 1 || r.MemoryMB < req.MemoryMB || r.DiskMB < req.DiskMB {
			failures = append(failures, executor.AllocationFailure{AllocationRequest: req, ErrorMsg: executor.ErrInsufficientResourcesAvailable.Message})
			continue
		}
		c := &executor.Container{Guid: req.Guid, Resource: req.Resource, Tags: executor.Tags{}, State: executor.StateReserved}
		for k, v := range req.Tags {
			c.Tags[k] = v
		}
		e.containers[req.Guid] = c
		e.emit(executor.EventTypeContainerReserved, c)
	}
	return failures, nil
}

// RunContainer runs a reserved container: an LRP's starts running, a
// task's runs and completes successfully.
func (e *Executor) RunContainer(req executor.RunRequest) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	stored, ok := e.containers[req.Guid]
	if !ok {
		return executor.ErrContainerNotFound
	}
	if stored.State != executor.StateReserved {
		return executor.ErrInvalidTransition
	}
	c := stored.Copy()
	c.RunInfo = req.RunInfo
	c.Ports = append([]executor.PortMapping(nil), req.Ports...)
	for k, v := range req.Tags {
		c.Tags[k] = v
	}
	c.ExternalIP, c.InternalIP = "10.0.0.1", "10.255.0.2"
	for i := range c.Ports {
		c.Ports[i].HostPort = uint16(61000 + i)
	}
	c.State = executor.StateRunning
	e.containers[req.Guid] = &c
	e.emit(executor.EventTypeContainerRunning, &c)
	if c.Tags[repsync.LifecycleTag] == repsync.TaskLifecycle {
		done := c.Copy()
		done.State = executor.StateCompleted
		e.containers[req.Guid] = &done
		e.emit(executor.EventTypeContainerComplete, &done)
	}
	return nil
}

// StopContainer completes a container as stopped.
func (e *Executor) StopContainer(guid string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	stored, ok := e.containers[guid]
	if !ok {
		return executor.ErrContainerNotFound
	}
	if stored.State != executor.StateCompleted {
		c := stored.Copy()
		c.State = executor.StateCompleted
		c.RunResult = executor.ContainerRunResult{Stopped: true}
		e.containers[guid] = &c
		e.emit(executor.EventTypeContainerComplete, &c)
	}
	return nil
}

// DeleteContainer forgets a container and frees its reservation.
func (e *Executor) DeleteContainer(guid string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.containers[guid]; !ok {
		return executor.ErrContainerNotFound
	}
	delete(e.containers, guid)
	return nil
}

// GetFiles has no files to give: the simulated actions write none.
func (e *Executor) GetFiles(guid, source string) (io.ReadCloser, error) {
	return nil, executor.ErrContainerNotFound
}

// SubscribeToEvents opens a stream of every later event.
func (e *Executor) SubscribeToEvents() (repsync.EventStream, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, errors.New("executor is gone")
	}
	s := &eventStream{e: e, wake: make(chan struct{}, 1), done: make(chan struct{})}
	e.subscribers[s] = struct{}{}
	return s, nil
}

// Close ends every event stream, as an executor that died would.
func (e *Executor) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	for s := range e.subscribers {
		s.close()
	}
	e.subscribers = map[*eventStream]struct{}{}
}

// emit queues an event on every stream; e.mu is held. c is stored and
// never changed again, so the event shares it.
func (e *Executor) emit(t executor.EventType, c *executor.Container) {
	ev := executor.Event{Type: t, Container: *c}
	for s := range e.subscribers {
		s.push(ev)
	}
}

// eventStream buffers without bound, so that the executor never waits for
// a slow reader (the real one's SSE stream has a socket buffer instead).
type eventStream struct {
	e    *Executor
	mu   sync.Mutex
	buf  []executor.Event
	wake chan struct{}
	done chan struct{}
	once sync.Once
}

func (s *eventStream) push(ev executor.Event) {
	s.mu.Lock()
	s.buf = append(s.buf, ev)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Next blocks until an event or the stream's end.
func (s *eventStream) Next() (executor.Event, error) {
	for {
		s.mu.Lock()
		if len(s.buf) > 0 {
			ev := s.buf[0]
			s.buf[0] = executor.Event{}
			s.buf = s.buf[1:]
			s.mu.Unlock()
			return ev, nil
		}
		s.mu.Unlock()
		select {
		case <-s.wake:
		case <-s.done:
			return executor.Event{}, io.EOF
		}
	}
}

// Close ends the stream.
func (s *eventStream) Close() error {
	s.e.mu.Lock()
	delete(s.e.subscribers, s)
	s.e.mu.Unlock()
	s.close()
	return nil
}

func (s *eventStream) close() { s.once.Do(func() { close(s.done) }) }
