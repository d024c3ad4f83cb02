package tps

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"time"

	"diego/ccbridge/ccclient"
	"diego/deploy/clock"
	"diego/deploy/logging"
	"diego/receptor"
)

// AppsDomain is the only domain the watcher reports on.
const AppsDomain = "cf-apps"

// ReschedulingReason is the reason of a rescheduling report.
const ReschedulingReason = "Cell is being evacuated"

// EventSource is one subscription to the receptor's event stream.
type EventSource interface {
	Next() (receptor.Event, error)
	Close() error
}

// Subscriber opens event streams (receptor/client).
type Subscriber interface {
	SubscribeToEvents(ctx context.Context) (EventSource, error)
}

// CC is what the watcher reports to.
type CC interface {
	AppCrashed(ctx context.Context, processGuid string, req ccclient.AppCrashedRequest) error
	AppRescheduling(ctx context.Context, processGuid string, req ccclient.AppReschedulingRequest) error
}

// WatcherConfig are the watcher's settings (spec bridge §4.2).
type WatcherConfig struct {
	MaxEventHandlingWorkers int
	// RetryPause separates failed reads and subscriptions (1s).
	RetryPause time.Duration
	// MaxConsecutiveFailures ends a subscription after that many failed
	// reads in a row (3).
	MaxConsecutiveFailures int
	CommunicationTimeout   time.Duration
}

// WatcherDeps are the watcher's collaborators.
type WatcherDeps struct {
	Logger     *slog.Logger
	Clock      clock.Clock
	Subscriber Subscriber
	CC         CC
}

// Watcher turns the receptor's actual-LRP events into CC reports. The
// receptor's 2015 events carry resolved records: a crash shows as a change
// whose crash_count grows, a rescheduling as the evacuating record ceasing
// to be the one shown for its index. Readiness cannot be seen there (the
// 2015 record has no routable flag), so it is not reported.
type Watcher struct {
	cfg WatcherConfig
	WatcherDeps
}

// NewWatcher builds the watcher.
func NewWatcher(cfg WatcherConfig, deps WatcherDeps) *Watcher {
	if cfg.MaxEventHandlingWorkers < 1 {
		cfg.MaxEventHandlingWorkers = 1
	}
	if cfg.MaxConsecutiveFailures < 1 {
		cfg.MaxConsecutiveFailures = 3
	}
	if cfg.RetryPause <= 0 {
		cfg.RetryPause = time.Second
	}
	return &Watcher{cfg: cfg, WatcherDeps: deps}
}

// Run subscribes, is ready once the first subscription is open, and
// resubscribes whenever a stream ends or keeps failing.
func (w *Watcher) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logger := logging.Session(w.Logger, "watcher")
	slots := make(chan struct{}, w.cfg.MaxEventHandlingWorkers)
	var handlers sync.WaitGroup
	defer handlers.Wait()

	events := make(chan receptor.Event)
	subscribed := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.stream(ctx, logger, events, subscribed)
	}()
	for {
		select {
		case <-signals:
			cancel()
			<-done
			return nil
		case <-subscribed:
			subscribed = nil
			close(ready)
		case e := <-events:
			select {
			case slots <- struct{}{}:
			case <-signals:
				cancel()
				<-done
				return nil
			}
			handlers.Add(1)
			go func() {
				defer func() { <-slots; handlers.Done() }()
				w.handle(ctx, logger, e)
			}()
		}
	}
}

// stream reads events into out until ctx ends, resubscribing as needed;
// it closes subscribed after the first successful subscription.
func (w *Watcher) stream(ctx context.Context, logger *slog.Logger, out chan<- receptor.Event, subscribed chan struct{}) {
	first := true
	for ctx.Err() == nil {
		source, err := w.Subscriber.SubscribeToEvents(ctx)
		if err != nil {
			logger.Error("failed-to-subscribe", "error", err)
			w.pause(ctx)
			continue
		}
		logger.Info("subscribed")
		if first {
			first = false
			close(subscribed)
		}
		stop := context.AfterFunc(ctx, func() { _ = source.Close() })
		failures := 0
		for ctx.Err() == nil && failures < w.cfg.MaxConsecutiveFailures {
			e, err := source.Next()
			if err != nil {
				if ctx.Err() != nil {
					break
				}
				failures++
				logger.Error("failed-to-read-event", "error", err, "attempt", failures)
				w.pause(ctx)
				continue
			}
			failures = 0
			select {
			case out <- e:
			case <-ctx.Done():
			}
		}
		stop()
		_ = source.Close()
	}
}

func (w *Watcher) pause(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-w.Clock.After(w.cfg.RetryPause):
	}
}

// handle reports what one event means to the CC.
func (w *Watcher) handle(ctx context.Context, logger *slog.Logger, e receptor.Event) {
	switch e := e.(type) {
	case *receptor.ActualLRPChangedEvent:
		before, after := e.Before, e.After
		if after.Domain != AppsDomain {
			return
		}
		if after.CrashCount > before.CrashCount {
			w.reportCrash(ctx, logger, before, after)
		}
		if before.Evacuating && !after.Evacuating {
			w.reportRescheduling(ctx, logger, before)
		}
	case *receptor.ActualLRPRemovedEvent:
		if e.ActualLRPResponse.Domain == AppsDomain && e.ActualLRPResponse.Evacuating {
			w.reportRescheduling(ctx, logger, e.ActualLRPResponse)
		}
	}
}

func (w *Watcher) call(ctx context.Context, f func(context.Context) error) error {
	if w.cfg.CommunicationTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, w.cfg.CommunicationTimeout)
		defer cancel()
	}
	return f(ctx)
}

// reportCrash names the crashed instance (the before record: a restarted
// index has lost its instance guid and cell by the after record).
func (w *Watcher) reportCrash(ctx context.Context, logger *slog.Logger, before, after receptor.ActualLRPResponse) {
	logger = logger.With("process_guid", after.ProcessGuid, "index", after.Index, "instance_guid", before.InstanceGuid)
	req := ccclient.AppCrashedRequest{
		Instance:        before.InstanceGuid,
		Index:           int(after.Index),
		CellID:          before.CellID,
		Reason:          "CRASHED",
		ExitDescription: after.CrashReason,
		CrashCount:      int(after.CrashCount),
		CrashTimestamp:  after.Since,
	}
	if err := w.call(ctx, func(ctx context.Context) error { return w.CC.AppCrashed(ctx, after.ProcessGuid, req) }); err != nil {
		logger.Error("failed-to-report-crash", "error", err)
		return
	}
	logger.Info("reported-crash", "crash_count", req.CrashCount)
}

func (w *Watcher) reportRescheduling(ctx context.Context, logger *slog.Logger, evacuating receptor.ActualLRPResponse) {
	logger = logger.With("process_guid", evacuating.ProcessGuid, "index", evacuating.Index, "instance_guid", evacuating.InstanceGuid)
	req := ccclient.AppReschedulingRequest{
		Instance: evacuating.InstanceGuid,
		Index:    int(evacuating.Index),
		CellID:   evacuating.CellID,
		Reason:   ReschedulingReason,
	}
	if err := w.call(ctx, func(ctx context.Context) error { return w.CC.AppRescheduling(ctx, evacuating.ProcessGuid, req) }); err != nil {
		logger.Error("failed-to-report-rescheduling", "error", err)
		return
	}
	logger.Info("reported-rescheduling")
}
