package main

import (
	"io"
	"log/slog"

	"diego/executor"
	"diego/executor/depot"
	"diego/test/simrep"
)

// depotAdapter serves test/simrep's in-memory executor through the real
// executor API (executor/handlers), so that the real rep binary can run
// against it as against cmd/executor.
type depotAdapter struct{ e *simrep.Executor }

func (d depotAdapter) AllocateContainers(_ *slog.Logger, reqs []executor.AllocationRequest) []executor.AllocationFailure {
	failures, err := d.e.AllocateContainers(reqs)
	if err != nil { // the in-memory executor fails only when closed
		for _, r := range reqs {
			failures = append(failures, executor.AllocationFailure{AllocationRequest: r, ErrorMsg: err.Error()})
		}
	}
	return failures
}

func (d depotAdapter) GetContainer(guid string) (executor.Container, error) {
	return d.e.GetContainer(guid)
}

func (d depotAdapter) ListContainers(filter executor.Tags) []executor.Container {
	cs, _ := d.e.ListContainers(filter)
	return cs
}

func (d depotAdapter) RunContainer(_ *slog.Logger, req executor.RunRequest) error {
	return d.e.RunContainer(req)
}

func (d depotAdapter) StopContainer(_ *slog.Logger, guid string) error {
	return d.e.StopContainer(guid)
}

func (d depotAdapter) DeleteContainer(_ *slog.Logger, guid string) error {
	return d.e.DeleteContainer(guid)
}

func (d depotAdapter) GetFiles(guid, source string) (io.ReadCloser, error) {
	return d.e.GetFiles(guid, source)
}

// The in-memory containers use nothing, so their metrics are zero.
func (d depotAdapter) GetMetrics(guid string) (executor.ContainerMetrics, error) {
	_, err := d.e.GetContainer(guid)
	return executor.ContainerMetrics{}, err
}

func (d depotAdapter) GetAllMetrics() (map[string]executor.ContainerMetrics, error) {
	cs, _ := d.e.ListContainers(nil)
	m := make(map[string]executor.ContainerMetrics, len(cs))
	for _, c := range cs {
		m[c.Guid] = executor.ContainerMetrics{}
	}
	return m, nil
}

func (d depotAdapter) RemainingResources() executor.ExecutorResources {
	r, _ := d.e.RemainingResources()
	return r
}

func (d depotAdapter) TotalResources() executor.ExecutorResources {
	r, _ := d.e.TotalResources()
	return r
}

type healthy struct{}

func (healthy) Healthy() error { return nil }

// relay copies the in-memory executor's events to the API's hub until the
// executor closes.
func relay(e *simrep.Executor, hub *depot.Hub) error {
	stream, err := e.SubscribeToEvents()
	if err != nil {
		return err
	}
	go func() {
		for {
			ev, err := stream.Next()
			if err != nil {
				return
			}
			hub.Emit(ev)
		}
	}()
	return nil
}
