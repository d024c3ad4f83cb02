package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/emptypb"

	"diego/auctioneer"
	"diego/bbs"
	"diego/bbs/converge"
	"diego/deploy/logging"
	"diego/models"
)

// The convergence endpoints (spec core §5.5–§5.7, decision 1): gather one
// snapshot through the db, ask bbs/converge for the plan, apply it with
// compare-and-swap through a bounded worker pool. A write that loses a race
// re-reads and applies its decision while the rule's premise still holds of
// the fresh record (bbs/db/etcddb); a decision gone stale is logged and left
// for the next pass.

func (s *Server) convergeHandlers() map[string]http.Handler {
	return map[string]http.Handler{
		bbs.ConvergeTasksRoute: unary(s, "converge-tasks-request", s.convergeTasks),
		bbs.ConvergeLRPsRoute:  unary(s, "converge-lrps-request", s.convergeLRPs),
	}
}

// convergenceWorkers is the size of the pool that applies a plan.
func (s *Server) convergenceWorkers() int {
	if s.deps.ConvergenceWorkers > 0 {
		return s.deps.ConvergenceWorkers
	}
	return converge.DefaultConvergenceWorkers
}

// inParallel runs every job, at most workers at a time, and waits.
func inParallel(workers int, jobs []func()) {
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for _, job := range jobs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			job()
		}()
	}
	wg.Wait()
}

// cellSet is the ids of the present cells.
func (s *Server) cellSet(ctx context.Context, logger *slog.Logger) (map[string]bool, error) {
	cells, err := s.deps.Cells.Cells(ctx, logger)
	if err != nil {
		return nil, err
	}
	set := make(map[string]bool, len(cells))
	for _, c := range cells {
		set[c.GetCellId()] = true
	}
	return set, nil
}

// ---- tasks ----

// convergeTasks runs the pass to the end even if the converger hangs up: a
// pass cut short leaves its auctions unasked until the next one.
func (s *Server) convergeTasks(ctx context.Context, _ *slog.Logger, req *models.ConvergeTasksRequest, _ *models.ConvergeTasksResponse) error {
	return s.ConvergeTasks(context.WithoutCancel(ctx), converge.TaskConfig{
		KickTaskDuration:            time.Duration(req.GetKickTaskDuration()),
		ExpirePendingTaskDuration:   time.Duration(req.GetExpirePendingTaskDuration()),
		ExpireCompletedTaskDuration: time.Duration(req.GetExpireCompletedTaskDuration()),
	})
}

// ConvergeTasks runs one task convergence pass (spec core §5.6): tasks are
// read before the cells, so a task placed on a cell that appeared meanwhile
// is never taken for one on a missing cell.
func (s *Server) ConvergeTasks(ctx context.Context, cfg converge.TaskConfig) error {
	logger := logging.Session(s.deps.Logger, "converge-tasks")
	start := s.deps.Clock.Now()
	logger.Info("starting")

	tasks, pruned, err := s.deps.Tasks.ConvergenceTasks(ctx, logger)
	if err != nil {
		logger.Error("failed-to-list-tasks", "error", err)
		s.sendTaskGauges(unknownTaskCounts)
		return err
	}
	cells, err := s.cellSet(ctx, logger)
	if err != nil {
		logger.Error("failed-to-list-cells", "error", err)
		s.sendTaskGauges(unknownTaskCounts)
		return err
	}
	plan := converge.ConvergeTasks(s.deps.Clock.Now(), tasks, cells, cfg)

	if len(plan.Auction) > 0 {
		reqs := make([]*auctioneer.TaskStartRequest, len(plan.Auction))
		for i, t := range plan.Auction {
			r := auctioneer.NewTaskStartRequestFromModel(t.GetTaskGuid(), t.GetDomain(), t.GetTaskDefinition())
			reqs[i] = &r
		}
		if err := s.deps.Auctioneer.RequestTaskAuctions(ctx, reqs); err != nil {
			logger.Error(converge.LogFailedToRequestTaskAuctions, "count", len(reqs), "error", err)
		}
	}

	var (
		mu       sync.Mutex
		callback []*models.Task
		jobs     []func()
	)
	for _, f := range plan.Fail {
		jobs = append(jobs, func() {
			logger.Info(f.Log, "task_guid", f.Task.GetTaskGuid(), "cell_id", f.Task.GetCellId())
			if _, err := s.deps.Tasks.ConvergeFailTask(ctx, logger, f.Task, f.Reason); err != nil {
				logger.Info("failed-to-fail-task", "task_guid", f.Task.GetTaskGuid(), "error", err)
			}
		})
	}
	for _, t := range plan.Demote {
		jobs = append(jobs, func() {
			after, err := s.deps.Tasks.DemoteTask(ctx, logger, t)
			if err != nil {
				logger.Info("failed-to-demote-task", "task_guid", t.GetTaskGuid(), "error", err)
				return
			}
			if after.GetTaskDefinition().GetCompletionCallbackUrl() != "" {
				mu.Lock()
				callback = append(callback, after)
				mu.Unlock()
			}
		})
	}
	inParallel(s.convergenceWorkers(), jobs)

	for _, t := range append(plan.Callback, callback...) {
		s.deps.Callbacks.Submit(t)
	}

	jobs = jobs[:0]
	for _, d := range plan.Delete {
		jobs = append(jobs, func() {
			logger.Info(d.Log, "task_guid", d.Task.GetTaskGuid())
			if err := s.deps.Tasks.DeleteExpiredTask(ctx, logger, d.Task); err != nil {
				logger.Info("failed-to-delete-task", "task_guid", d.Task.GetTaskGuid(), "error", err)
			}
		})
	}
	inParallel(s.convergenceWorkers(), jobs)

	m := s.deps.Metrics
	m.IncrementCounter("ConvergenceTaskRuns")
	m.AddToCounter("ConvergenceTasksKicked", uint64(plan.Kicked))
	m.AddToCounter("ConvergenceTasksPruned", uint64(pruned))
	m.SendDuration("ConvergenceTaskDuration", s.deps.Clock.Since(start))
	s.sendTaskGauges(plan.Counts)
	logger.Info("done", "duration", s.deps.Clock.Now().Sub(start).String(),
		"pruned", pruned, "kicked", plan.Kicked,
		"pending", plan.Counts.Pending, "running", plan.Counts.Running,
		"completed", plan.Counts.Completed, "resolving", plan.Counts.Resolving)
	return nil
}

// unknownTaskCounts is what a pass that could not read its inputs reports:
// −1 for every gauge (spec core §6.2), so a dashboard shows "unknown", not 0.
var unknownTaskCounts = converge.TaskCounts{Pending: -1, Running: -1, Completed: -1, Resolving: -1}

func (s *Server) sendTaskGauges(c converge.TaskCounts) {
	for name, v := range map[string]int{"TasksPending": c.Pending, "TasksRunning": c.Running,
		"TasksCompleted": c.Completed, "TasksResolving": c.Resolving} {
		s.deps.Metrics.SendValue(name, float64(v), "Metric")
	}
}

// ---- LRPs ----

// convergeLRPs, like convergeTasks, outlives the converger's request.
func (s *Server) convergeLRPs(ctx context.Context, _ *slog.Logger, _ *emptypb.Empty, _ *models.ConvergeLRPsResponse) error {
	return s.ConvergeLRPs(context.WithoutCancel(ctx))
}

// ConvergeLRPs runs one LRP convergence pass (spec core §5.7). The actuals
// are read before the desireds, so an LRP desired meanwhile is never seen
// without the actuals its desire created.
func (s *Server) ConvergeLRPs(ctx context.Context) error {
	logger := logging.Session(s.deps.Logger, "converge-lrps")
	start := s.deps.Clock.Now()
	logger.Info("starting")

	instances, evacuating, prunedActuals, err := s.deps.ActualLRPs.ConvergenceActualLRPs(ctx, logger)
	if err != nil {
		logger.Error("failed-to-list-actual-lrps", "error", err)
		return err
	}
	infos, stats, err := s.deps.DesiredLRPs.ConvergenceSchedulingInfos(ctx, logger, converge.DesiredLRPCreationTimeout)
	if err != nil {
		logger.Error("failed-to-list-desired-lrps", "error", err)
		return err
	}
	domains, err := s.deps.Domains.FreshDomains(ctx, logger)
	if err != nil {
		logger.Error("failed-to-list-domains", "error", err)
		return err
	}
	cells, err := s.cellSet(ctx, logger)
	if err != nil {
		logger.Error("failed-to-list-cells", "error", err)
		return err
	}
	snap := converge.LRPSnapshot{
		Instances:       instances,
		Evacuating:      evacuating,
		SchedulingInfos: make(map[string]*models.DesiredLRPSchedulingInfo, len(infos)),
		FreshDomains:    make(map[string]bool, len(domains)),
		Cells:           cells,
	}
	for _, info := range infos {
		snap.SchedulingInfos[info.GetDesiredLrpKey().GetProcessGuid()] = info
	}
	for _, d := range domains {
		snap.FreshDomains[d] = true
	}
	plan := converge.ConvergeLRPs(s.deps.Clock.Now(), snap)

	calc := logging.Session(logger, "calculate-convergence")
	for _, a := range plan.Actions {
		calc.Info(string(a.Rule), "process_guid", a.Key.GetProcessGuid(), "index", a.Key.GetIndex(),
			"state", a.LRP.GetState(), "cell_id", a.LRP.GetActualLrpInstanceKey().GetCellId())
	}

	var (
		mu      sync.Mutex
		started []converge.LRPAction
		deleted int
		jobs    []func()
	)
	succeeded := func(a converge.LRPAction, removed bool) {
		mu.Lock()
		defer mu.Unlock()
		if a.Starts() {
			started = append(started, a)
		}
		if removed {
			deleted++
		}
	}
	for _, a := range plan.Actions {
		if a.Rule == converge.RuleSkippingUnfreshDomain {
			continue
		}
		jobs = append(jobs, func() {
			if removed, ok := s.applyLRPAction(ctx, logger, a); ok {
				succeeded(a, removed)
			}
		})
	}
	inParallel(s.convergenceWorkers(), jobs)

	if starts := converge.GroupStarts(snap.SchedulingInfos, started); len(starts) > 0 {
		reqs := make([]*auctioneer.LRPStartRequest, len(starts))
		for i, st := range starts {
			r := auctioneer.NewLRPStartRequestFromSchedulingInfo(st.SchedulingInfo, st.Indices...)
			reqs[i] = &r
		}
		if err := s.deps.Auctioneer.RequestLRPAuctions(ctx, reqs); err != nil {
			logger.Error("failed-to-request-lrp-auctions", "count", len(reqs), "error", err)
		}
	}

	c := plan.Counts
	m := s.deps.Metrics
	m.IncrementCounter("ConvergenceLRPRuns")
	m.AddToCounter("ConvergenceLRPPreProcessingActualLRPsDeleted", uint64(prunedActuals))
	m.AddToCounter("ConvergenceLRPPreProcessingMalformedSchedulingInfos", uint64(stats.MalformedSchedulingInfos))
	m.AddToCounter("ConvergenceLRPPreProcessingMalformedRunInfos", uint64(stats.MalformedRunInfos))
	m.AddToCounter("ConvergenceLRPPreProcessingOrphanedRunInfos", uint64(stats.OrphanedRunInfos))
	m.AddToCounter("ConvergenceLRPsDeleted", uint64(deleted))
	m.SendDuration("ConvergenceLRPDuration", s.deps.Clock.Since(start))
	for name, v := range map[string]int{"LRPsDesired": c.Desired, "LRPsUnclaimed": c.Unclaimed, "LRPsClaimed": c.Claimed,
		"LRPsRunning": c.Running, "CrashedActualLRPs": c.Crashed, "CrashingDesiredLRPs": c.CrashingDesired,
		"LRPsMissing": c.Missing, "LRPsExtra": c.Extra, "PresentCells": len(cells)} {
		m.SendValue(name, float64(v), "Metric")
	}
	for d := range snap.FreshDomains {
		m.SendValue("Domain."+d, 1, "Metric")
	}
	logger.Info("done", "duration", s.deps.Clock.Now().Sub(start).String(),
		"actual_lrps_pruned", prunedActuals, "malformed_scheduling_infos", stats.MalformedSchedulingInfos,
		"malformed_run_infos", stats.MalformedRunInfos, "orphaned_run_infos", stats.OrphanedRunInfos,
		"lrps_deleted", deleted, "lrps_desired", c.Desired, "lrps_unclaimed", c.Unclaimed, "lrps_claimed", c.Claimed,
		"lrps_running", c.Running, "crashed_actual_lrps", c.Crashed, "crashing_desired_lrps", c.CrashingDesired,
		"lrps_missing", c.Missing, "lrps_extra", c.Extra, "fresh_domains", domains, "present_cells", len(cells))
	return nil
}

// applyLRPAction makes the writes of one decision. ok reports whether they
// succeeded (so a start joins the auction); removed whether a record was
// deleted (ConvergenceLRPsDeleted).
func (s *Server) applyLRPAction(ctx context.Context, logger *slog.Logger, a converge.LRPAction) (removed, ok bool) {
	key := a.Key
	attrs := []any{"rule", string(a.Rule), "process_guid", key.GetProcessGuid(), "index", key.GetIndex()}
	fail := func(step string, err error) (bool, bool) {
		logger.Info("failed-to-"+step, append(attrs, "error", err)...)
		return removed, false
	}
	switch a.Rule {
	case converge.RuleMissing:
		if _, err := s.deps.ActualLRPs.CreateUnclaimedActualLRP(ctx, logger, key); err != nil {
			return fail("create-actual-lrp", err)
		}
	case converge.RuleMissingCell:
		if err := s.deps.ActualLRPs.RemoveActualLRP(ctx, logger, key.GetProcessGuid(), key.GetIndex(), a.LRP.GetActualLrpInstanceKey()); err != nil {
			return fail("remove-actual-lrp", err)
		}
		removed = true
		if a.Recreate {
			if _, err := s.deps.ActualLRPs.CreateUnclaimedActualLRP(ctx, logger, key); err != nil {
				return fail("create-actual-lrp", err)
			}
		}
	case converge.RuleExtra, converge.RuleNoLongerDesired:
		if err := s.retire(ctx, logger, key); err != nil && !errors.Is(err, models.ErrResourceNotFound) {
			return fail("retire-actual-lrp", err)
		}
	case converge.RuleRestartCrash:
		if _, _, err := s.deps.ActualLRPs.UnclaimCrashedActualLRP(ctx, logger, key); err != nil {
			return fail("unclaim-actual-lrp", err)
		}
	case converge.RuleStaleUnclaimed:
		// Only the start again: no write.
	case converge.RuleRemoveEvacuating:
		if err := s.deps.ActualLRPs.RemoveEvacuatingActualLRP(ctx, logger, key, a.LRP.GetActualLrpInstanceKey()); err != nil {
			return fail("remove-evacuating-actual-lrp", err)
		}
		removed = true
	}
	return removed, true
}
