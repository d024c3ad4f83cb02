package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	bbsclient "diego/bbs/client"
	"diego/deploy/clock"
	"diego/deploy/logging"
	"diego/executor"
	"diego/models"

	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"
)

// BulkSyncDurationMetric is the bulk sync's duration, in nanoseconds.
const BulkSyncDurationMetric = "RepBulkSyncDuration"

// The defaults of the rep's config (spec cell §4.10, §7.4).
const (
	DefaultPollingInterval           = 30 * time.Second
	DefaultEvacuationPollingInterval = 10 * time.Second
	DefaultEvacuationTimeout         = 10 * time.Minute
	DefaultWorkers                   = 20
	DefaultMinResubscribeBackoff     = 100 * time.Millisecond
	DefaultMaxResubscribeBackoff     = 5 * time.Second
)

// Config is the generator's share of the rep's configuration. Zero
// durations and counts take the defaults above.
type Config struct {
	CellID string
	// Zone is reported with StartActualLRP and EvacuateRunningActualLRP.
	Zone                      string
	PollingInterval           time.Duration
	EvacuationPollingInterval time.Duration
	// EvacuationTimeout is the ttl (whole seconds) of the evacuating record
	// EvacuateRunningActualLRP writes.
	EvacuationTimeout time.Duration
	// StackPathMap maps a preloaded:<stack> rootfs to its path (the rep's
	// preloaded_root_fs, "stack:/path" entries).
	StackPathMap map[string]string
	// Workers bounds the operations run at once.
	Workers int
	// MinResubscribeBackoff and MaxResubscribeBackoff bound the wait before
	// subscribing again to a broken executor event stream; it doubles on
	// each failed attempt.
	MinResubscribeBackoff time.Duration
	MaxResubscribeBackoff time.Duration
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.PollingInterval, DefaultPollingInterval)
	def(&c.EvacuationPollingInterval, DefaultEvacuationPollingInterval)
	def(&c.EvacuationTimeout, DefaultEvacuationTimeout)
	def(&c.MinResubscribeBackoff, DefaultMinResubscribeBackoff)
	def(&c.MaxResubscribeBackoff, DefaultMaxResubscribeBackoff)
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	return c
}

// Deps are the generator's collaborators. Metrics and AppLog may be nil;
// Flag may be nil only where evacuation never happens (tests).
type Deps struct {
	Logger   *slog.Logger
	Clock    clock.Clock
	Executor ExecutorClient
	// Events is ExecutorEvents(executor client).
	Events  EventSubscriber
	BBS     BBSClient
	Flag    Evacuation
	Metrics Metrics
	AppLog  AppLog
}

// Generator turns executor events and the periodic bulk sync into
// operations on a sliding queue.
type Generator struct {
	cfg      Config
	logger   *slog.Logger
	clock    clock.Clock
	executor ExecutorClient
	events   EventSubscriber
	bbs      BBSClient
	flag     Evacuation
	metrics  Metrics
	queue    *Queue
	proc     *processor

	syncMu       sync.Mutex    // one bulk pass at a time
	syncRequests chan struct{} // "sync now" for the bulk loop, coalesced
}

// New builds a generator.
func New(cfg Config, deps Deps) (*Generator, error) {
	if cfg.CellID == "" {
		return nil, errors.New("generator: cell id is required")
	}
	if deps.Logger == nil || deps.Clock == nil || deps.Executor == nil || deps.Events == nil || deps.BBS == nil {
		return nil, errors.New("generator: logger, clock, executor, events and bbs are required")
	}
	cfg = cfg.withDefaults()
	if deps.Flag == nil {
		deps.Flag = notEvacuating{}
	}
	if deps.Metrics == nil {
		deps.Metrics = noMetrics{}
	}
	if deps.AppLog == nil {
		deps.AppLog = noAppLog{}
	}
	return &Generator{
		cfg:      cfg,
		logger:   logging.Session(deps.Logger, "generator"),
		clock:    deps.Clock,
		executor: deps.Executor,
		events:   deps.Events,
		bbs:      deps.BBS,
		flag:     deps.Flag,
		metrics:  deps.Metrics,
		queue:    NewQueue(cfg.Workers),
		proc: &processor{
			cellID:            cfg.CellID,
			zone:              cfg.Zone,
			evacuationTimeout: cfg.EvacuationTimeout,
			stacks:            cfg.StackPathMap,
			executor:          deps.Executor,
			bbs:               deps.BBS,
			desired:           newDesiredLoader(deps.BBS),
			flag:              deps.Flag,
			appLog:            deps.AppLog,
			replacementLogged: map[string]bool{},
		},
		syncRequests: make(chan struct{}, 1),
	}, nil
}

// Queue is the operation queue; QueueRunner runs its workers.
func (g *Generator) Queue() *Queue { return g.queue }

// ContainerOperation is the operation for one container guid: re-read the
// container and apply the processor of its lifecycle (spec cell §4.5).
func (g *Generator) ContainerOperation(guid string) Operation {
	return &containerOperation{guid: guid, p: g.proc, logger: g.logger}
}

// QueueRunner runs the operation workers.
func (g *Generator) QueueRunner() ifrit.Runner { return g.queue }

// BulkRunner syncs at once, then every polling interval (the evacuation
// polling interval once evacuating, with a pass as evacuation starts), and
// whenever the event runner resubscribes. Ready is closed after the first
// pass.
func (g *Generator) BulkRunner() ifrit.Runner { return ifrit.RunFunc(g.runBulk) }

// EventRunner subscribes to the executor's events and pushes a container
// operation per event; when the stream breaks it subscribes again with
// backoff and asks for a bulk sync. Ready is closed after the first
// attempt to subscribe, successful or not: the runner keeps trying while the
// executor is down.
func (g *Generator) EventRunner() ifrit.Runner { return ifrit.RunFunc(g.runEvents) }

// Runner runs the queue, then the event consumer, then the bulk loop, as
// one ordered group.
func (g *Generator) Runner() ifrit.Runner {
	return grouper.NewOrdered(os.Interrupt, grouper.Members{
		{Name: "operation-queue", Runner: g.QueueRunner()},
		{Name: "executor-events", Runner: g.EventRunner()},
		{Name: "bulk-sync", Runner: g.BulkRunner()},
	})
}

func (g *Generator) interval() time.Duration {
	if g.flag.Evacuating() {
		return g.cfg.EvacuationPollingInterval
	}
	return g.cfg.PollingInterval
}

// requestSync asks the bulk loop for a pass now; requests made while one is
// pending are one request.
func (g *Generator) requestSync() {
	select {
	case g.syncRequests <- struct{}{}:
	default:
	}
}

func (g *Generator) runBulk(signals <-chan os.Signal, ready chan<- struct{}) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-signals:
			cancel()
		case <-ctx.Done():
		}
	}()
	logger := logging.Session(g.logger, "bulker")
	logger.Info("started", "polling_interval", g.cfg.PollingInterval.String(),
		"evacuation_polling_interval", g.cfg.EvacuationPollingInterval.String())
	_ = g.Sync(ctx)
	close(ready)

	evacuating := g.flag.Started()
	if g.flag.Evacuating() {
		evacuating = nil
	}
	timer := g.clock.NewTimer(g.interval())
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			logger.Info("done")
			return nil
		case <-evacuating:
			evacuating = nil
			logger.Info("evacuation-started")
		case <-g.syncRequests:
			logger.Info("sync-requested")
		case <-timer.C():
		}
		_ = g.Sync(ctx)
		timer.Reset(g.interval())
	}
}

// Sync runs one bulk pass (spec cell §4.7): the executor's containers and
// this cell's actual LRPs and tasks, fetched in parallel, become container
// and residual operations on the queue. When a fetch fails the pass is
// skipped and its error returned.
func (g *Generator) Sync(ctx context.Context) error {
	g.syncMu.Lock()
	defer g.syncMu.Unlock()
	logger := logging.Session(g.logger, "sync")
	start := g.clock.Now()

	var (
		wg                               sync.WaitGroup
		containers                       []executor.Container
		lrps                             []*models.ActualLRP
		tasks                            []*models.Task
		containersErr, lrpsErr, tasksErr error
	)
	wg.Add(3)
	go func() {
		defer wg.Done()
		containers, containersErr = g.executor.ListContainers(nil)
	}()
	go func() {
		defer wg.Done()
		lrps, lrpsErr = g.bbs.ActualLRPs(ctx, bbsclient.ActualLRPFilter{CellID: g.cfg.CellID})
	}()
	go func() {
		defer wg.Done()
		tasks, tasksErr = g.bbs.Tasks(ctx, bbsclient.TaskFilter{CellID: g.cfg.CellID})
	}()
	wg.Wait()
	if err := errors.Join(wrap("listing containers", containersErr), wrap("listing actual LRPs", lrpsErr),
		wrap("listing tasks", tasksErr)); err != nil {
		logger.Error("skipping-sync", "error", err)
		return err
	}

	ops := g.operations(containers, lrps, tasks)
	for _, op := range ops {
		g.queue.Push(op)
	}
	duration := g.clock.Since(start)
	g.metrics.SendDuration(BulkSyncDurationMetric, duration)
	logger.Info("synced", "containers", len(containers), "actual_lrps", len(lrps), "tasks", len(tasks),
		"operations", len(ops), "duration", duration.String())
	return nil
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

// operations is one operation per guid: every container, and the residual
// operations for records without one.
func (g *Generator) operations(containers []executor.Container, lrps []*models.ActualLRP, tasks []*models.Task) []Operation {
	present := make(map[string]bool, len(containers))
	var ops []Operation
	for _, c := range containers {
		present[c.Guid] = true
		ops = append(ops, g.ContainerOperation(c.Guid))
	}

	instances := map[string]*models.ActualLRP{}
	evacuating := map[string]*models.ActualLRP{}
	for _, lrp := range lrps {
		guid := lrp.GetActualLrpInstanceKey().GetInstanceGuid()
		if guid == "" {
			continue
		}
		if lrp.GetPresence() == models.ActualLRP_EVACUATING {
			evacuating[guid] = lrp
		} else {
			instances[guid] = lrp
		}
	}
	for guid, lrp := range instances {
		if present[guid] {
			continue
		}
		if evac, ok := evacuating[guid]; ok {
			ops = append(ops, g.proc.residualJointLRP(g.logger, lrp, evac))
		} else {
			ops = append(ops, g.proc.residualInstanceLRP(g.logger, lrp))
		}
	}
	for guid, lrp := range evacuating {
		if present[guid] || instances[guid] != nil {
			continue
		}
		ops = append(ops, g.proc.residualEvacuatingLRP(g.logger, lrp))
	}
	for _, task := range tasks {
		// Only a running task needs its container; completed ones keep
		// their cell id but are past the cell's care.
		if task.GetState() != models.Task_Running || present[task.GetTaskGuid()] {
			continue
		}
		ops = append(ops, g.proc.residualTask(g.logger, task))
	}
	return ops
}
