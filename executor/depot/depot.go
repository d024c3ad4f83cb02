// Package depot is the executor's container registry and lifecycle (spec
// cell §3.1, §3.3): it reserves resources, creates garden containers, runs
// their step trees, reports state changes as events, and cleans up.
package depot

import (
	"log/slog"
	"sync"
	"time"

	"github.com/tedsuo/ifrit"

	"diego/deploy/clock"
	"diego/executor"
	"diego/garden"
)

// StepsBuilder turns a created container into its step tree: a runner that
// closes ready when the container is healthy and returns the failure (nil
// for success) when the tree ends. An interrupt stops it. The logger it is
// given carries container_guid.
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

// Deps are what the depot works with.
type Deps struct {
	Logger  *slog.Logger
	Clock   clock.Clock
	Garden  garden.Client
	Steps   StepsBuilder
	AppLog  AppLog
	Metrics Metrics
	Hub     *Hub
	// Fetcher may be nil when no container has cached dependencies.
	Fetcher DependencyFetcher
}

// New builds a depot; nothing runs until containers are allocated.
func New(cfg Config, deps Deps) *Depot {
	if cfg.CreateWorkers <= 0 {
		cfg.CreateWorkers = 32
	}
	if cfg.DeleteWorkers <= 0 {
		cfg.DeleteWorkers = 32
	}
	return &Depot{
		cfg: cfg, logger: deps.Logger, clock: deps.Clock, garden: deps.Garden, steps: deps.Steps, appLog: deps.AppLog,
		metrics: deps.Metrics, hub: deps.Hub, fetcher: deps.Fetcher,
		creates:    make(chan struct{}, cfg.CreateWorkers),
		deletes:    make(chan struct{}, cfg.DeleteWorkers),
		containers: map[string]*entry{},
	}
}
