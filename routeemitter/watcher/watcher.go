// Package watcher keeps the route-emitter's routing table in step with the
// receptor (spec bridge §6.4, §6.5, §9.0): a full fetch at start and every
// sync interval, the event stream in between, and a re-emit of every
// registration each register interval the routers ask for.
package watcher

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"time"

	"diego/deploy/clock"
	"diego/deploy/logging"
	"diego/receptor"
	"diego/routeemitter"
	"diego/routeemitter/routingtable"
)

// Receptor is what the watcher reads from the receptor's API.
type Receptor interface {
	DesiredLRPs(ctx context.Context) ([]receptor.DesiredLRPResponse, error)
	ActualLRPs(ctx context.Context) ([]receptor.ActualLRPResponse, error)
	Domains(ctx context.Context) ([]string, error)
	GetDesiredLRP(ctx context.Context, processGuid string) (receptor.DesiredLRPResponse, error)
}

// EventSource is an open receptor event stream.
type EventSource interface {
	Next() (receptor.Event, error)
	Close() error
}

// Emitter publishes messages and reports what the routers say.
type Emitter interface {
	Emit(routingtable.Messages)
	Starts() <-chan routeemitter.RouterStart
	Reconnected() <-chan struct{}
}

// Config holds the watcher's timings.
type Config struct {
	SyncInterval time.Duration
	// JitterFactor spreads the emitters' re-emits after a router.start.
	JitterFactor float64
	// DefaultRegisterInterval is used until a router gives its interval.
	DefaultRegisterInterval time.Duration
	// RetryInterval paces resubscribing to events and retrying a failed
	// first sync.
	RetryInterval        time.Duration
	CommunicationTimeout time.Duration
	// UnregistrationInterval and UnregistrationSendCount: each
	// unregistration is sent again every interval, up to count times in
	// all, unless the same route and address is registered again (spec
	// bridge §6.5). A count of 1 sends it once.
	UnregistrationInterval  time.Duration
	UnregistrationSendCount int
}

// Deps are the watcher's neighbours.
type Deps struct {
	Logger    *slog.Logger
	Clock     clock.Clock
	Receptor  Receptor
	Subscribe func(ctx context.Context) (EventSource, error)
	Emitter   Emitter
}

// Watcher is an ifrit.Runner; ready once the first full sync is emitted.
type Watcher struct {
	cfg   Config
	deps  Deps
	table *routingtable.Table
	// unregistered holds the unregistrations still to be repeated, by
	// route and address, with how many sends remain.
	unregistered map[[3]string]pending

	mu     sync.Mutex
	routes int
}

// New builds a watcher.
func New(cfg Config, deps Deps) *Watcher {
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = time.Second
	}
	if cfg.UnregistrationInterval <= 0 {
		cfg.UnregistrationInterval = 30 * time.Second
	}
	return &Watcher{cfg: cfg, deps: deps, table: routingtable.New(), unregistered: map[[3]string]pending{}}
}

// pending is one unregistration to repeat.
type pending struct {
	msg       routeemitter.RegistryMessage
	remaining int
}

func messageKey(m routeemitter.RegistryMessage) [3]string {
	uri := ""
	if len(m.URIs) > 0 {
		uri = m.URIs[0]
	}
	return [3]string{uri, m.Host, strconv.Itoa(int(m.Port))}
}

// remember records m's unregistrations for repeating and forgets those its
// registrations cancel.
func (w *Watcher) remember(m routingtable.Messages) {
	for _, r := range m.Registrations {
		delete(w.unregistered, messageKey(r))
	}
	if w.cfg.UnregistrationSendCount <= 1 {
		return
	}
	for _, u := range m.Unregistrations {
		w.unregistered[messageKey(u)] = pending{msg: u, remaining: w.cfg.UnregistrationSendCount - 1}
	}
}

// repeatUnregistrations sends each remembered unregistration once more.
func (w *Watcher) repeatUnregistrations() {
	if len(w.unregistered) == 0 {
		return
	}
	var m routingtable.Messages
	for key, p := range w.unregistered {
		m.Unregistrations = append(m.Unregistrations, p.msg)
		if p.remaining--; p.remaining <= 0 {
			delete(w.unregistered, key)
		} else {
			w.unregistered[key] = p
		}
	}
	w.deps.Emitter.Emit(m)
}

// RouteCount is how many registrations the table held after the last full
// sync.
func (w *Watcher) RouteCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.routes
}

// snapshot is one full fetch.
type snapshot struct {
	desired []receptor.DesiredLRPResponse
	actual  []receptor.ActualLRPResponse
	fresh   map[string]bool
	err     error
}

// Run follows the receptor until signalled.
func (w *Watcher) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	logger := logging.Session(w.deps.Logger, "watcher")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	events := make(chan receptor.Event)
	streamDone := make(chan error, 1)
	streaming := false
	startStream := func() bool {
		source, err := w.deps.Subscribe(ctx)
		if err != nil {
			logger.Error("subscribe-failed", "error", err)
			return false
		}
		streaming = true
		go func() {
			defer source.Close()
			for {
				e, err := source.Next()
				if err != nil {
					select {
					case streamDone <- err:
					case <-ctx.Done():
					}
					return
				}
				select {
				case events <- e:
				case <-ctx.Done():
					return
				}
			}
		}()
		return true
	}

	// The stream opens before the first fetch so that nothing changes
	// unseen between them; both retry until they work.
	for !startStream() {
		select {
		case <-signals:
			return nil
		case <-w.deps.Clock.After(w.cfg.RetryInterval):
		}
	}
	var first snapshot
	for {
		first = w.fetch(ctx)
		if first.err == nil {
			break
		}
		logger.Error("sync-failed", "error", first.err)
		select {
		case <-signals:
			return nil
		case <-w.deps.Clock.After(w.cfg.RetryInterval):
		}
	}
	w.swap(logger, first, nil)
	logger.Info("synced", "routes", w.RouteCount())
	close(ready)

	interval := w.cfg.DefaultRegisterInterval
	emitTimer := w.deps.Clock.NewTimer(interval)
	defer emitTimer.Stop()
	syncTicker := w.deps.Clock.NewTicker(w.cfg.SyncInterval)
	defer syncTicker.Stop()
	unregisterTicker := w.deps.Clock.NewTicker(w.cfg.UnregistrationInterval)
	defer unregisterTicker.Stop()
	var resubscribe <-chan time.Time

	syncing := false
	var cached []receptor.Event
	syncDone := make(chan snapshot, 1)
	startSync := func() {
		if syncing {
			return
		}
		syncing, cached = true, nil
		go func() { syncDone <- w.fetch(ctx) }()
	}

	for {
		select {
		case <-signals:
			return nil
		case e := <-events:
			if syncing {
				cached = append(cached, e)
			}
			w.handle(ctx, logger, e)
		case err := <-streamDone:
			streaming = false
			logger.Error("event-stream-ended", "error", err)
			resubscribe = w.deps.Clock.After(0)
		case <-resubscribe:
			resubscribe = nil
			if !streaming && startStream() {
				// Whatever happened while the stream was down comes from a
				// full fetch.
				startSync()
			} else if !streaming {
				resubscribe = w.deps.Clock.After(w.cfg.RetryInterval)
			}
		case <-syncTicker.C():
			startSync()
		case snap := <-syncDone:
			syncing = false
			if snap.err != nil {
				logger.Error("sync-failed", "error", snap.err)
				continue
			}
			w.swap(logger, snap, cached)
			cached = nil
		case <-unregisterTicker.C():
			w.repeatUnregistrations()
		case <-emitTimer.C():
			w.emitAll(logger, "interval")
			emitTimer.Reset(interval)
		case start := <-w.deps.Emitter.Starts():
			interval = time.Duration(start.MinimumRegisterIntervalInSeconds) * time.Second
			jitter := time.Duration(0)
			if max := w.cfg.JitterFactor * float64(interval); max >= 1 {
				jitter = time.Duration(rand.Int64N(int64(max)))
			}
			logger.Info("router-start", "register_interval", interval.String(), "jitter", jitter.String())
			emitTimer.Stop()
			emitTimer.Reset(jitter)
		case <-w.deps.Emitter.Reconnected():
			w.emitAll(logger, "nats-reconnected")
		}
	}
}

// fetch is the full sync's parallel reads (spec bridge §6.5).
func (w *Watcher) fetch(ctx context.Context) snapshot {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.CommunicationTimeout)
	defer cancel()
	var s snapshot
	var wg sync.WaitGroup
	var errs [3]error
	var domains []string
	wg.Add(3)
	go func() { defer wg.Done(); s.desired, errs[0] = w.deps.Receptor.DesiredLRPs(ctx) }()
	go func() { defer wg.Done(); s.actual, errs[1] = w.deps.Receptor.ActualLRPs(ctx) }()
	go func() { defer wg.Done(); domains, errs[2] = w.deps.Receptor.Domains(ctx) }()
	wg.Wait()
	s.err = errors.Join(errs[:]...)
	s.fresh = map[string]bool{}
	for _, d := range domains {
		s.fresh[d] = true
	}
	return s
}

// swap builds a table from the snapshot and the events seen while it was
// fetched, and emits the difference from the current one.
func (w *Watcher) swap(logger *slog.Logger, s snapshot, replay []receptor.Event) {
	next := routingtable.Build(s.desired, s.actual, replay)
	m := w.table.Swap(next, func(domain string) bool { return s.fresh[domain] })
	w.mu.Lock()
	w.routes = w.table.RouteCount()
	w.mu.Unlock()
	w.emit(logger, m)
	logger.Debug("sync-swapped", "registered", len(m.Registrations), "unregistered", len(m.Unregistrations))
}

// handle applies one event; an instance of a process the table does not
// know first brings in that process's routes.
func (w *Watcher) handle(ctx context.Context, logger *slog.Logger, e receptor.Event) {
	var pg string
	switch e := e.(type) {
	case *receptor.ActualLRPCreatedEvent:
		pg = e.ActualLRPResponse.ProcessGuid
	case *receptor.ActualLRPChangedEvent:
		pg = e.After.ProcessGuid
	}
	var m routingtable.Messages
	if pg != "" && !w.table.HasDesired(pg) {
		ctx, cancel := context.WithTimeout(ctx, w.cfg.CommunicationTimeout)
		d, err := w.deps.Receptor.GetDesiredLRP(ctx, pg)
		cancel()
		if err == nil {
			m.Merge(w.table.SetDesired(d))
		} else if !errors.Is(err, &receptor.Error{Type: receptor.DesiredLRPNotFound}) {
			logger.Error("fetching-desired-lrp-failed", "process_guid", pg, "error", err)
		}
	}
	m.Merge(w.table.Handle(e))
	w.emit(logger, m)
}

func (w *Watcher) emit(logger *slog.Logger, m routingtable.Messages) {
	if m.Empty() {
		return
	}
	w.remember(m)
	logger.Debug("emitting", "registrations", len(m.Registrations), "unregistrations", len(m.Unregistrations))
	w.deps.Emitter.Emit(m)
}

func (w *Watcher) emitAll(logger *slog.Logger, reason string) {
	m := w.table.Registrations()
	logger.Debug("emitting-all", "reason", reason, "registrations", len(m.Registrations))
	w.deps.Emitter.Emit(m)
}
