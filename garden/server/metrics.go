package server

import (
	"os"
	"runtime"
	"time"

	"diego/deploy/clock"
	"diego/garden"
)

// Metrics is where garden's figures go (metron/emitter.Emitter), with
// origin garden-linux (spec cell §2.12 item 6, §6).
type Metrics interface {
	SendValue(name string, value float64, unit string)
	SendDuration(name string, d time.Duration)
}

// Garden's metric names.
const (
	ContainerCreationDuration    = "ContainerCreationDuration"
	ContainerDestructionDuration = "ContainerDestructionDuration"
	NumCPUs                      = "numCPUS"
	NumGoroutines                = "numGoRoutines"
	DepotDirs                    = "depotDirs"
)

// Metered times the backend's creates and destroys (successful ones: a
// failure's duration says little about garden).
func Metered(b garden.Backend, m Metrics, clk clock.Clock) garden.Backend {
	return metered{Backend: b, metrics: m, clock: clk}
}

type metered struct {
	garden.Backend
	metrics Metrics
	clock   clock.Clock
}

func (m metered) Create(spec garden.ContainerSpec) (garden.Container, error) {
	start := m.clock.Now()
	c, err := m.Backend.Create(spec)
	if err == nil {
		m.metrics.SendDuration(ContainerCreationDuration, m.clock.Since(start))
	}
	return c, err
}

func (m metered) Destroy(handle string) error {
	start := m.clock.Now()
	err := m.Backend.Destroy(handle)
	if err == nil {
		m.metrics.SendDuration(ContainerDestructionDuration, m.clock.Since(start))
	}
	return err
}

// MetricsReporter sends garden's gauges every interval (an ifrit runner).
type MetricsReporter struct {
	Backend  garden.Client
	Metrics  Metrics
	Clock    clock.Clock
	Interval time.Duration
}

// Run reports at once and then on every tick, until signalled.
func (r MetricsReporter) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	ticker := r.Clock.NewTicker(r.Interval)
	defer ticker.Stop()
	close(ready)
	for {
		r.report()
		select {
		case <-ticker.C():
		case <-signals:
			return nil
		}
	}
}

func (r MetricsReporter) report() {
	r.Metrics.SendValue(NumCPUs, float64(runtime.NumCPU()), "Metric")
	r.Metrics.SendValue(NumGoroutines, float64(runtime.NumGoroutine()), "Metric")
	if cs, err := r.Backend.Containers(garden.Properties{garden.StateProperty: garden.StateAll}); err == nil {
		r.Metrics.SendValue(DepotDirs, float64(len(cs)), "Metric")
	}
}
