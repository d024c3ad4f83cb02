// Package runner is the auctioneer's auction runner (spec core §5.2–§5.4):
// an ifrit.Runner whose one goroutine turns the queued start requests into
// rounds. Each round fetches the cells from the BBS and their states from
// the reps, schedules with the pure auctionrunner.Schedule, commits the
// placements to the reps and reports the failures to the BBS.
//
// There is no batching interval: Add appends to the batch and sets a
// one-slot "has work" flag, and work that arrives during a round simply
// waits for the next one.
package runner

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"time"

	"diego/auctioneer"
	"diego/auctioneer/auctionrunner"
	"diego/deploy/clock"
	"diego/deploy/logging"
	"diego/models"
	"diego/rep"
)

// BBSClient is what the runner needs of the BBS: the present cells and the
// two calls that report placement failures.
type BBSClient interface {
	Cells(ctx context.Context) ([]*models.CellPresence, error)
	FailActualLRP(ctx context.Context, key *models.ActualLRPKey, errorMessage string) error
	RejectTask(ctx context.Context, taskGuid, rejectionReason string) error
}

// RepClient is what the runner needs of one cell's rep.
type RepClient interface {
	State(ctx context.Context) (rep.CellState, error)
	Perform(ctx context.Context, work rep.Work) (rep.Work, error)
}

// RepClientFactory builds the client of a cell from its presence's
// rep_address and rep_url; it fails when the TLS settings allow neither
// (a plain cell when TLS is required, an https one without certificates).
type RepClientFactory interface {
	CreateClient(address, url string) (RepClient, error)
}

// RetryInterval is how long the runner waits before retrying a round whose
// cell list could not be fetched, or a state fetch no cell answered.
const RetryInterval = time.Second

// StateFetchTries is how many times a round fetches the cells' states
// before it gives up and fails its auctions (1 try and 3 retries).
const StateFetchTries = 4

// Config holds the runner's settings.
type Config struct {
	// Scheduler holds the scoring weights and the in-flight limit.
	Scheduler auctionrunner.Config
	// Workers bounds the concurrent /state, /work and BBS calls of a round
	// (auction_runner_workers).
	Workers int
	// CellStateTimeout bounds each GET /state.
	CellStateTimeout time.Duration
	// CommunicationTimeout bounds each POST /work and each failure report.
	CommunicationTimeout time.Duration
}

// DefaultConfig returns the defaults of spec core §5.2.
func DefaultConfig() Config {
	return Config{
		Scheduler:            auctionrunner.DefaultConfig(),
		Workers:              1000,
		CellStateTimeout:     10 * time.Second,
		CommunicationTimeout: 10 * time.Second,
	}
}

// Metrics sends the auctioneer's metrics (spec core §6.1) to metron
// (metron/emitter.Emitter).
type Metrics interface {
	IncrementCounter(name string)
	AddToCounter(name string, delta uint64)
	SendDuration(name string, d time.Duration)
}

type noMetrics struct{}

func (noMetrics) IncrementCounter(string)            {}
func (noMetrics) AddToCounter(string, uint64)        {}
func (noMetrics) SendDuration(string, time.Duration) {}

// Deps are the runner's collaborators.
type Deps struct {
	Logger  *slog.Logger
	Clock   clock.Clock
	BBS     BBSClient
	Reps    RepClientFactory
	Metrics Metrics // nil: none
}

// Runner queues start requests and auctions them in rounds.
type Runner struct {
	logger  *slog.Logger
	clock   clock.Clock
	bbs     BBSClient
	reps    RepClientFactory
	metrics Metrics
	cfg     Config

	mu      sync.Mutex
	lrps    []auctioneer.LRPStartRequest
	tasks   []auctioneer.TaskStartRequest
	hasWork chan struct{}
}

// New returns a runner; zero settings in cfg take their defaults.
func New(cfg Config, d Deps) *Runner {
	def := DefaultConfig()
	if cfg.Workers <= 0 {
		cfg.Workers = def.Workers
	}
	if cfg.CellStateTimeout <= 0 {
		cfg.CellStateTimeout = def.CellStateTimeout
	}
	if cfg.CommunicationTimeout <= 0 {
		cfg.CommunicationTimeout = def.CommunicationTimeout
	}
	if d.Metrics == nil {
		d.Metrics = noMetrics{}
	}
	return &Runner{
		logger:  d.Logger,
		clock:   d.Clock,
		bbs:     d.BBS,
		reps:    d.Reps,
		metrics: d.Metrics,
		cfg:     cfg,
		hasWork: make(chan struct{}, 1),
	}
}

// Add queues LRP and task start requests for the next round. The requests
// are expected to be valid (the handlers drop invalid ones).
func (r *Runner) Add(lrps []auctioneer.LRPStartRequest, tasks []auctioneer.TaskStartRequest) {
	if len(lrps) == 0 && len(tasks) == 0 {
		return
	}
	r.mu.Lock()
	r.lrps = append(r.lrps, lrps...)
	r.tasks = append(r.tasks, tasks...)
	r.mu.Unlock()
	r.signalWork()
}

func (r *Runner) signalWork() {
	select {
	case r.hasWork <- struct{}{}:
	default:
	}
}

// drain empties the batch. Duplicates stay: auctionrunner.Schedule drops
// them (an LRP instance by process guid and index, a task by guid).
func (r *Runner) drain() ([]auctioneer.LRPStartRequest, []auctioneer.TaskStartRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	lrps, tasks := r.lrps, r.tasks
	r.lrps, r.tasks = nil, nil
	return lrps, tasks
}

// Run runs rounds while there is work, until a signal arrives; it is ready
// at once. A signal cancels the calls of a round in progress.
func (r *Runner) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-signals:
			cancel()
		case <-ctx.Done():
		}
	}()
	close(ready)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-r.hasWork:
			if r.round(ctx) {
				continue
			}
			// The cells could not be listed: the work stays queued and the
			// round is tried again after a pause.
			if !r.sleep(ctx, RetryInterval) {
				return nil
			}
			r.signalWork()
		}
	}
}

func (r *Runner) sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-r.clock.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}

// round runs one auction; it returns false, leaving the batch untouched,
// when the cells could not be listed.
func (r *Runner) round(ctx context.Context) bool {
	logger := logging.Session(r.logger, "auction")

	cells, ok := r.fetchCells(ctx, logger)
	if !ok {
		return false
	}

	logger.Info("fetching-auctions")
	lrps, tasks := r.drain()
	logger.Info("fetched-auctions", "lrp_start_auctions", len(lrps), "task_auctions", len(tasks))
	if len(lrps) == 0 && len(tasks) == 0 {
		logger.Info("nothing-to-auction")
		return true
	}

	logger.Info("scheduling")
	result := auctionrunner.Schedule(r.cfg.Scheduler, cells.states, lrps, tasks)
	for cellID, work := range result.PerCell {
		for _, l := range work.LRPs {
			logger.Info("lrp-added-to-cell", "process_guid", l.ProcessGuid, "index", l.Index, "cell_id", cellID)
		}
		for _, t := range work.Tasks {
			logger.Info("task-added-to-cell", "task_guid", t.TaskGuid, "cell_id", cellID)
		}
	}

	placedLRPs, placedTasks, failedLRPs, failedTasks := r.commit(ctx, logger, cells.clients, result.PerCell)
	failedLRPs = append(result.FailedLRPs, failedLRPs...)
	failedTasks = append(result.FailedTasks, failedTasks...)
	r.report(ctx, logger, failedLRPs, failedTasks)

	r.metrics.AddToCounter("AuctioneerLRPAuctionsStarted", uint64(placedLRPs))
	r.metrics.AddToCounter("AuctioneerLRPAuctionsFailed", uint64(len(failedLRPs)))
	r.metrics.AddToCounter("AuctioneerTaskAuctionsStarted", uint64(placedTasks))
	r.metrics.AddToCounter("AuctioneerTaskAuctionsFailed", uint64(len(failedTasks)))
	logger.Info("scheduled",
		"successful_lrp_start_auctions", placedLRPs,
		"failed_lrp_start_auctions", len(failedLRPs),
		"successful_task_auctions", placedTasks,
		"failed_task_auctions", len(failedTasks))
	return true
}

// roundCells are the cells that answered, and the clients of their reps.
type roundCells struct {
	states  []rep.CellState
	clients map[string]RepClient
}

// fetchCells lists the cells and fetches their states, trying up to
// StateFetchTries times while cells are present but none answers. It
// returns false when the cell list cannot be fetched (or a signal came).
// With no cells at all there is nothing to retry: the round goes on and
// every auction fails.
func (r *Runner) fetchCells(ctx context.Context, logger *slog.Logger) (roundCells, bool) {
	for try := 1; ; try++ {
		logger.Info("fetching-cell-reps")
		presences, err := r.bbs.Cells(ctx)
		if err != nil {
			logger.Error("failed-to-fetch-reps", "error", err)
			return roundCells{}, false
		}
		logger.Info("fetched-cell-reps", "cell_reps_count", len(presences))

		cells := r.fetchStates(ctx, logger, presences)
		if len(cells.states) > 0 || len(presences) == 0 {
			return cells, true
		}
		if try >= StateFetchTries {
			logger.Error("failed-to-communicate-to-cells-abort", "tries", try)
			return cells, true
		}
		logger.Info("failed-to-communicate-to-cells-retry", "try", try)
		if !r.sleep(ctx, RetryInterval) {
			return roundCells{}, false
		}
	}
}

// fetchStates asks every cell for its state through a pool of workers and
// keeps those that answered, are not evacuating and are who their presence
// says, in presence order.
func (r *Runner) fetchStates(ctx context.Context, logger *slog.Logger, presences []*models.CellPresence) roundCells {
	logger.Info("fetching-zone-state")
	start := r.clock.Now()

	states := make([]*rep.CellState, len(presences))
	clients := make([]RepClient, len(presences))
	r.each(len(presences), func(i int) {
		p := presences[i]
		client, err := r.reps.CreateClient(p.GetRepAddress(), p.GetRepUrl())
		if err != nil {
			logger.Error("failed-to-create-rep-client", "cell_id", p.GetCellId(), "error", err)
			r.metrics.IncrementCounter("AuctioneerFailedCellStateRequests")
			return
		}
		stateCtx, cancel := context.WithTimeout(ctx, r.cfg.CellStateTimeout)
		defer cancel()
		state, err := client.State(stateCtx)
		switch {
		case err != nil:
			logger.Error("failed-to-get-state", "cell_id", p.GetCellId(), "error", err)
			r.metrics.IncrementCounter("AuctioneerFailedCellStateRequests")
		case state.Evacuating:
			logger.Info("ignored-evacuating-cell", "cell_id", p.GetCellId())
		case state.CellID != p.GetCellId():
			logger.Error("cell-id-mismatch", "cell_id", p.GetCellId(), "cell_state_id", state.CellID)
		default:
			states[i] = &state
			clients[i] = client
		}
	})

	out := roundCells{clients: map[string]RepClient{}}
	for i, s := range states {
		if s != nil {
			out.states = append(out.states, *s)
			out.clients[s.CellID] = clients[i]
		}
	}
	r.metrics.SendDuration("AuctioneerFetchStatesDuration", r.clock.Since(start))
	logger.Info("fetched-zone-state", "cell_state_count", len(out.states), "duration", r.clock.Since(start))
	return out
}

// commit sends each cell its work (POST /work) concurrently. Work a rep
// hands back as failed fails with an empty placement error; a commit that
// errors is neither placed nor failed: convergence repairs it later.
func (r *Runner) commit(ctx context.Context, logger *slog.Logger, clients map[string]RepClient, perCell map[string]rep.Work) (placedLRPs, placedTasks int, failedLRPs []auctionrunner.FailedLRP, failedTasks []auctionrunner.FailedTask) {
	cellIDs := make([]string, 0, len(perCell))
	for id := range perCell {
		cellIDs = append(cellIDs, id)
	}
	var mu sync.Mutex
	r.each(len(cellIDs), func(i int) {
		cellID := cellIDs[i]
		work := perCell[cellID]
		client, ok := clients[cellID]
		if !ok { // cannot happen: Schedule only places on the cells it was given
			logger.Error("failed-to-commit", "cell_id", cellID, "error", "no rep client")
			return
		}
		performCtx, cancel := context.WithTimeout(ctx, r.cfg.CommunicationTimeout)
		defer cancel()
		failed, err := client.Perform(performCtx, work)
		if err != nil {
			logger.Error("failed-to-commit", "cell_id", cellID, "error", err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		placedLRPs += len(work.LRPs) - len(failed.LRPs)
		placedTasks += len(work.Tasks) - len(failed.Tasks)
		for _, l := range failed.LRPs {
			failedLRPs = append(failedLRPs, auctionrunner.FailedLRP{ProcessGuid: l.ProcessGuid, Index: int(l.Index), Domain: l.Domain})
		}
		for _, t := range failed.Tasks {
			failedTasks = append(failedTasks, auctionrunner.FailedTask{TaskGuid: t.TaskGuid})
		}
	})
	return placedLRPs, placedTasks, failedLRPs, failedTasks
}

// report tells the BBS about every failed auction: FailActualLRP for an LRP
// instance, RejectTask for a task (spec core §5.4).
func (r *Runner) report(ctx context.Context, logger *slog.Logger, lrps []auctionrunner.FailedLRP, tasks []auctionrunner.FailedTask) {
	r.each(len(lrps)+len(tasks), func(i int) {
		callCtx, cancel := context.WithTimeout(ctx, r.cfg.CommunicationTimeout)
		defer cancel()
		if i < len(lrps) {
			l := lrps[i]
			logger.Info("lrp-auction-failed", "process_guid", l.ProcessGuid, "index", l.Index, "placement_error", l.PlacementError)
			key := &models.ActualLRPKey{ProcessGuid: l.ProcessGuid, Index: int32(l.Index), Domain: l.Domain}
			if err := r.bbs.FailActualLRP(callCtx, key, l.PlacementError); err != nil {
				logger.Error("failed-to-fail-actual-lrp", "process_guid", l.ProcessGuid, "index", l.Index, "error", err)
			}
			return
		}
		t := tasks[i-len(lrps)]
		logger.Info("task-auction-failed", "task_guid", t.TaskGuid, "placement_error", t.PlacementError)
		if err := r.bbs.RejectTask(callCtx, t.TaskGuid, t.PlacementError); err != nil {
			logger.Error("failed-to-reject-task", "task_guid", t.TaskGuid, "error", err)
		}
	})
}

// each calls f(0..n-1) concurrently, at most cfg.Workers at a time, and
// waits for them all.
func (r *Runner) each(n int, f func(i int)) {
	workers := min(r.cfg.Workers, n)
	if workers <= 0 {
		return
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}
