// Package converger is the converger's process: while it holds its lock (the
// ordered group in cmd/converger takes the lock first), it asks the BBS to
// converge tasks and LRPs every repeat interval, and at once when a cell's
// presence disappears (spec core §5.5). The rules run in the BBS.
package converger

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"time"

	"diego/bbs/lock"
	"diego/deploy/clock"
	"diego/deploy/logging"
)

// BBS is what the converger asks of the BBS (bbs/client).
type BBS interface {
	ConvergeTasks(ctx context.Context, kick, expirePending, expireCompleted time.Duration) error
	ConvergeLRPs(ctx context.Context) error
}

// PresenceWatch streams cell presences appearing and disappearing
// (bbs/lock.WatchPresences).
type PresenceWatch func(ctx context.Context) <-chan lock.PresenceEvent

// Config holds the converger's durations (spec core §5.5 defaults).
type Config struct {
	RepeatInterval              time.Duration // 30 s
	KickTaskDuration            time.Duration // 30 s
	ExpirePendingTaskDuration   time.Duration // 30 min
	ExpireCompletedTaskDuration time.Duration // 120 s
	CommunicationTimeout        time.Duration // 1 min
}

// Process is the converger's ifrit runner.
type Process struct {
	logger *slog.Logger
	clock  clock.Clock
	bbs    BBS
	watch  PresenceWatch
	cfg    Config
}

// New builds the process.
func New(cfg Config, deps Deps) *Process {
	return &Process{logger: logging.Session(deps.Logger, "converger-process"), clock: deps.Clock, bbs: deps.BBS, watch: deps.Watch, cfg: cfg}
}

// Deps are the converger's collaborators.
type Deps struct {
	Logger *slog.Logger
	Clock  clock.Clock
	BBS    BBS
	// Watch follows the cell presences (lock.WatchPresences).
	Watch PresenceWatch
}

func (p *Process) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	// A signal cancels ctx, so it also cuts short a pass in flight rather
	// than waiting out its communication timeout.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-signals:
			cancel()
		case <-ctx.Done():
		}
	}()
	events := p.watch(ctx)
	timer := p.clock.NewTimer(p.cfg.RepeatInterval)
	defer timer.Stop()
	p.logger.Info("started", "repeat_interval", p.cfg.RepeatInterval.String())
	close(ready)
	for {
		select {
		case <-ctx.Done():
			p.logger.Info("done")
			return nil
		case e, ok := <-events:
			if !ok {
				events = nil // the watch ended: the timer still converges
				continue
			}
			if e.Present {
				continue
			}
			p.logger.Info("received-cell-disappeared-event", "cell_id", e.CellID)
			events = p.coalesce(events)
		case <-timer.C():
		}
		p.converge(ctx)
		timer.Reset(p.cfg.RepeatInterval)
	}
}

// coalesce takes the presence events already queued, so that cells lost
// together cost one pass, not one each. It returns nil if the watch ended.
func (p *Process) coalesce(events <-chan lock.PresenceEvent) <-chan lock.PresenceEvent {
	for {
		select {
		case e, ok := <-events:
			if !ok {
				return nil
			}
			if !e.Present {
				p.logger.Info("received-cell-disappeared-event", "cell_id", e.CellID)
			}
		default:
			return events
		}
	}
}

// converge runs one pass: both BBS calls at once, waiting for both.
func (p *Process) converge(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.CommunicationTimeout)
	defer cancel()
	start := p.clock.Now()
	var wg sync.WaitGroup
	var taskErr, lrpErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		p.logger.Info("converge-tasks-started")
		taskErr = p.bbs.ConvergeTasks(ctx, p.cfg.KickTaskDuration, p.cfg.ExpirePendingTaskDuration, p.cfg.ExpireCompletedTaskDuration)
		if taskErr != nil {
			p.logger.Error("failed-to-converge-tasks", "error", taskErr)
			return
		}
		p.logger.Info("converge-tasks-done")
	}()
	go func() {
		defer wg.Done()
		p.logger.Info("converge-lrps-started")
		lrpErr = p.bbs.ConvergeLRPs(ctx)
		if lrpErr != nil {
			p.logger.Error("failed-to-converge-lrps", "error", lrpErr)
			return
		}
		p.logger.Info("converge-lrps-done")
	}()
	wg.Wait()
	p.logger.Info("converged", "duration", p.clock.Since(start).String(),
		"tasks_ok", taskErr == nil, "lrps_ok", lrpErr == nil)
}
