// Package converge holds the convergence rules of spec core §5.6 (tasks) and
// §5.7 (LRPs) as pure functions over one snapshot of the store: no I/O, time
// passed in. The BBS gathers the snapshot, asks for a plan, and applies the
// plan's writes with compare-and-swap (bbs/handlers).
package converge

import (
	"time"

	"diego/models"
)

// Log names of the task rules (spec core §6.2, session converge-tasks).
const (
	LogFailedToStartInTime          = "failed-to-start-in-time"
	LogCellDisappeared              = "cell-disappeared"
	LogFailedToStartResolvingInTime = "failed-to-start-resolving-in-time"
	LogFailedToResolveInTime        = "failed-to-resolve-in-time"
	LogFailedToRequestTaskAuctions  = "failed-to-request-auctions-for-pending-tasks"
)

// The converger's defaults (spec core §5.5), for callers that need them.
const (
	DefaultKickTaskDuration            = 30 * time.Second
	DefaultExpirePendingTaskDuration   = 30 * time.Minute
	DefaultExpireCompletedTaskDuration = 120 * time.Second
	// DefaultConvergenceWorkers bounds the parallel writes of one pass.
	DefaultConvergenceWorkers = 20
	// DesiredLRPCreationTimeout is how old a run info without a
	// scheduling info must be before it is reaped as orphaned.
	DesiredLRPCreationTimeout = time.Minute
)

// TaskConfig holds the converger's durations (spec core §5.5).
type TaskConfig struct {
	KickTaskDuration            time.Duration
	ExpirePendingTaskDuration   time.Duration
	ExpireCompletedTaskDuration time.Duration
}

// TaskFailure is a task to complete as failed with Reason; Log names the
// rule.
type TaskFailure struct {
	Task   *models.Task
	Reason string
	Log    string
}

// TaskDeletion is an expired COMPLETED or RESOLVING task to delete; Log
// names the rule.
type TaskDeletion struct {
	Task *models.Task
	Log  string
}

// TaskCounts are the tasks per state in the snapshot (the Tasks* gauges).
type TaskCounts struct {
	Pending, Running, Completed, Resolving int
}

// TaskPlan is what one task convergence pass does, in the order of spec
// core §5.6: auction, then the compare-and-swaps (Fail, Demote), then the
// callbacks (Callback, and each demoted task that has a callback URL), then
// Delete. Every task taken from the snapshot appears in at most one list.
type TaskPlan struct {
	// Fail: PENDING past expire_pending (not started within time limit)
	// and RUNNING on a cell that is not present (cell disappeared).
	Fail []TaskFailure
	// Auction: every unexpired PENDING task that has been rejected, on
	// every pass whatever its updated_at (a rejection refreshes updated_at
	// and must not delay the next attempt), and one never rejected once it
	// is kicked (decision 43); one batched auction request.
	Auction []*models.Task
	// Demote: RESOLVING tasks kicked back to COMPLETED; their callback is
	// submitted again after a successful demotion when they have a URL.
	Demote []*models.Task
	// Callback: COMPLETED tasks kicked that have a callback URL.
	Callback []*models.Task
	// Delete: COMPLETED or RESOLVING tasks past expire_completed.
	Delete []TaskDeletion

	Counts TaskCounts
	// Kicked counts the tasks this pass acts on other than by deleting
	// them (ConvergenceTasksKicked).
	Kicked int
}

// ConvergeTasks applies the rules of spec core §5.6 to tasks at now. cells
// is the set of present cell ids. Times are compared in Unix nanoseconds
// as stored; "kick" is now − updated_at ≥ KickTaskDuration. A rejected
// PENDING task is auctioned on every pass, kicked or not, as modern Diego's
// BBS does: an unplaceable task then uses up its max_task_retries
// rejections at the convergence cadence instead of one per kick duration
// after each rejection. A task never rejected is untouched since its
// desire, whose own auction may still be in flight: it waits for its kick,
// so that a second auction cannot race the first placement and reject the
// task the rep has just started (decision 43).
func ConvergeTasks(now time.Time, tasks []*models.Task, cells map[string]bool, cfg TaskConfig) TaskPlan {
	var plan TaskPlan
	nowNs := now.UnixNano()
	elapsed := func(since int64) time.Duration { return time.Duration(nowNs - since) }

	for _, t := range tasks {
		if t == nil {
			continue
		}
		kick := elapsed(t.GetUpdatedAt()) >= cfg.KickTaskDuration
		switch t.GetState() {
		case models.Task_Pending:
			plan.Counts.Pending++
			switch {
			case elapsed(t.GetCreatedAt()) >= cfg.ExpirePendingTaskDuration:
				plan.Fail = append(plan.Fail, TaskFailure{Task: t, Reason: models.TaskNotStartedInTimeReason, Log: LogFailedToStartInTime})
				plan.Kicked++
			case kick || t.GetRejectionCount() > 0:
				plan.Auction = append(plan.Auction, t)
				plan.Kicked++
			}
		case models.Task_Running:
			plan.Counts.Running++
			if !cells[t.GetCellId()] {
				plan.Fail = append(plan.Fail, TaskFailure{Task: t, Reason: models.TaskCellDisappearedReason, Log: LogCellDisappeared})
				plan.Kicked++
			}
		case models.Task_Completed:
			plan.Counts.Completed++
			switch {
			case elapsed(t.GetFirstCompletedAt()) >= cfg.ExpireCompletedTaskDuration:
				plan.Delete = append(plan.Delete, TaskDeletion{Task: t, Log: LogFailedToStartResolvingInTime})
			case kick && t.GetTaskDefinition().GetCompletionCallbackUrl() != "":
				plan.Callback = append(plan.Callback, t)
				plan.Kicked++
			}
		case models.Task_Resolving:
			plan.Counts.Resolving++
			switch {
			case elapsed(t.GetFirstCompletedAt()) >= cfg.ExpireCompletedTaskDuration:
				plan.Delete = append(plan.Delete, TaskDeletion{Task: t, Log: LogFailedToResolveInTime})
			case kick:
				plan.Demote = append(plan.Demote, t)
				plan.Kicked++
			}
		}
	}
	return plan
}
