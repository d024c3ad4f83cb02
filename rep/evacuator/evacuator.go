// Package evacuator ends an evacuating rep (spec cell §4.9, §7.4 item 6).
// Once the evacuation flag is set, the Evacuator polls the executor until
// no container is left or the evacuation timeout passes, cleans up what
// remains, and returns, which ends the rep's group and so the process.
// TrapSignals turns the evacuation signals (SIGUSR1, and SIGTERM/SIGINT
// with evacuate_on_shutdown) into the flag instead of a shutdown.
package evacuator

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/tedsuo/ifrit"

	bbsclient "diego/bbs/client"
	"diego/deploy/clock"
	"diego/deploy/logging"
	"diego/executor"
	"diego/models"
	repsync "diego/rep/sync"
)

//go:generate go tool counterfeiter -generate

// ExecutorClient lists and deletes containers (*executor/client.Client).
//
//counterfeiter:generate . ExecutorClient
type ExecutorClient interface {
	ListContainers(filter executor.Tags) ([]executor.Container, error)
	DeleteContainer(guid string) error
}

// BBSClient counts the cell's stranded evacuating instances
// (*bbs/client.Client).
//
//counterfeiter:generate . BBSClient
type BBSClient interface {
	ActualLRPs(ctx context.Context, f bbsclient.ActualLRPFilter) ([]*models.ActualLRP, error)
}

// Metrics sends the stranded count (metron/emitter.Emitter).
//
//counterfeiter:generate . Metrics
type Metrics interface {
	SendValue(name string, value float64, unit string)
}

// AppLog writes to an app's log (metron/emitter.Emitter).
//
//counterfeiter:generate . AppLog
type AppLog interface {
	SendAppLog(appID, message, sourceType, sourceInstance string)
}

// StrandedEvacuatingActualLRPsMetric counts this cell's instances still
// marked evacuating when it exits.
const StrandedEvacuatingActualLRPsMetric = "StrandedEvacuatingActualLRPs"

const (
	// DefaultExitTimeout bounds the cleanup's wait for the deleted
	// containers to go: more than the executor's 10 s graceful stop.
	DefaultExitTimeout = 15 * time.Second
	// cleanupPollInterval paces the cleanup's look at the executor.
	cleanupPollInterval = time.Second
)

// Config times the evacuation.
type Config struct {
	CellID string
	// EvacuationTimeout bounds the wait for the containers to go (10 m).
	EvacuationTimeout time.Duration
	// PollingInterval paces the wait (evacuation_polling_interval, 10 s).
	PollingInterval time.Duration
	// ExitTimeout bounds the cleanup; zero means DefaultExitTimeout.
	ExitTimeout time.Duration
	// CommunicationTimeout bounds the BBS call of the cleanup; zero means
	// 10 s.
	CommunicationTimeout time.Duration
}

// Deps are the evacuator's collaborators; BBS, Metrics and AppLog may be
// nil (the stranded count, or the app log lines, are then skipped).
type Deps struct {
	Logger   *slog.Logger
	Clock    clock.Clock
	Executor ExecutorClient
	Flag     *Flag
	BBS      BBSClient
	Metrics  Metrics
	AppLog   AppLog
}

// Evacuator is the runner that ends an evacuating rep.
type Evacuator struct {
	Deps
	cfg Config
}

// New returns the evacuator.
func New(cfg Config, deps Deps) *Evacuator {
	if cfg.ExitTimeout <= 0 {
		cfg.ExitTimeout = DefaultExitTimeout
	}
	if cfg.CommunicationTimeout <= 0 {
		cfg.CommunicationTimeout = 10 * time.Second
	}
	return &Evacuator{Deps: deps, cfg: cfg}
}

// Run is ready at once. Signalled before any evacuation, it returns nil.
// Once the flag is set, it waits for the executor to have no container
// left, or for the evacuation timeout, or for a signal; then it runs the
// cleanup and returns nil.
func (e *Evacuator) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	logger := logging.Session(e.Logger, "evacuator", "cell_id", e.cfg.CellID)
	close(ready)

	select {
	case <-signals:
		return nil
	case <-e.Flag.Started():
	}

	logger.Info("evacuation-started", "timeout", e.cfg.EvacuationTimeout.String())
	if e.waitForContainers(logger, signals) {
		logger.Info("signalled-during-evacuation")
	}
	e.cleanup(logger, signals)
	logger.Info("evacuation-finished")
	return nil
}

// waitForContainers polls the executor until it lists no container or
// the timeout passes; true when a signal cut it short.
func (e *Evacuator) waitForContainers(logger *slog.Logger, signals <-chan os.Signal) bool {
	timeout := e.Clock.NewTimer(e.cfg.EvacuationTimeout)
	defer timeout.Stop()
	ticker := e.Clock.NewTicker(e.cfg.PollingInterval)
	defer ticker.Stop()

	empty := func() bool {
		containers, err := e.Executor.ListContainers(nil)
		if err != nil {
			logger.Error("failed-to-list-containers", "error", err)
			return false
		}
		if len(containers) > 0 {
			logger.Info("containers-remaining", "count", len(containers))
			return false
		}
		logger.Info("no-containers-left")
		return true
	}

	if empty() {
		return false
	}
	for {
		select {
		case <-signals:
			return true
		case <-timeout.C():
			logger.Error("evacuation-timed-out")
			return false
		case <-ticker.C():
			if empty() {
				return false
			}
		}
	}
}

// cleanup is spec cell §4.9's evacuation cleanup: count the stranded
// evacuating instances, delete every container left (saying so to its app's
// log), and wait, checking every second, until the executor lists none or
// the exit timeout passes.
func (e *Evacuator) cleanup(logger *slog.Logger, signals <-chan os.Signal) {
	logger = logging.Session(logger, "cleanup")
	e.countStranded(logger)

	containers, err := e.Executor.ListContainers(nil)
	if err != nil {
		logger.Error("failed-to-list-containers", "error", err)
		return
	}
	if len(containers) == 0 {
		return
	}
	for _, c := range containers {
		guid := c.Guid
		if ig := c.Tags[repsync.InstanceGuidTag]; ig != "" {
			guid = ig
		}
		message := fmt.Sprintf("Cell %s reached evacuation timeout for instance %s", e.cfg.CellID, guid)
		logger.Info(message, "container_guid", c.Guid)
		if e.AppLog != nil && c.LogConfig.Guid != "" {
			e.AppLog.SendAppLog(c.LogConfig.Guid, message, c.LogConfig.SourceName, strconv.Itoa(c.LogConfig.Index))
		}
		// Deleting stops the container first, which can take the whole
		// graceful stop; the wait below bounds them all together.
		go func(guid string) {
			if err := e.Executor.DeleteContainer(guid); err != nil {
				logger.Error("failed-to-delete-container", "container_guid", guid, "error", err)
			}
		}(c.Guid)
	}

	deadline := e.Clock.NewTimer(e.cfg.ExitTimeout)
	defer deadline.Stop()
	ticker := e.Clock.NewTicker(cleanupPollInterval)
	defer ticker.Stop()
	for {
		select {
		case <-signals:
			logger.Info("signalled-during-cleanup")
			return
		case <-deadline.C():
			logger.Error("exit-timeout-with-containers-left")
			return
		case <-ticker.C():
			left, err := e.Executor.ListContainers(nil)
			if err != nil {
				logger.Error("failed-to-list-containers", "error", err)
				continue
			}
			if len(left) == 0 {
				logger.Info("all-containers-deleted")
				return
			}
		}
	}
}

// countStranded emits how many of this cell's instances are still
// marked evacuating.
func (e *Evacuator) countStranded(logger *slog.Logger) {
	if e.BBS == nil || e.Metrics == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.CommunicationTimeout)
	defer cancel()
	lrps, err := e.BBS.ActualLRPs(ctx, bbsclient.ActualLRPFilter{CellID: e.cfg.CellID})
	if err != nil {
		logger.Error("failed-to-fetch-actual-lrps", "error", err)
		return
	}
	stranded := 0
	for _, lrp := range lrps {
		if lrp.GetPresence() == models.ActualLRP_EVACUATING && lrp.GetActualLrpInstanceKey().GetCellId() == e.cfg.CellID {
			stranded++
		}
	}
	logger.Info("stranded-evacuating-actual-lrps", "count", stranded)
	e.Metrics.SendValue(StrandedEvacuatingActualLRPsMetric, float64(stranded), "Metric")
}

var _ ifrit.Runner = (*Evacuator)(nil)
