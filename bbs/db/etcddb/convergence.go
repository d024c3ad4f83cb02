package etcddb

import (
	"context"
	"log/slog"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"diego/bbs/db"
	"diego/deploy/logging"
	"diego/models"
)

// The reads and guarded writes of the convergence passes (spec core §5.6,
// §5.7). The rules themselves are in bbs/converge; these methods gather the
// snapshot (pruning what cannot be decoded) and apply single decisions with
// compare-and-swap, each failing with ResourceConflict when the record is
// no longer as the pass read it.

// pruneKey deletes an undecodable record if it is still at rev.
func (e *ETCDDB) pruneKey(ctx context.Context, logger *slog.Logger, key string, rev int64, cause error) bool {
	err := compareAndDelete(ctx, e.kv, key, rev, indexChange{})
	if err != nil {
		logger.Error("failed-to-prune-undecodable-record", "key", key, "decode_error", cause, "error", err)
		return false
	}
	logger.Info("pruned-undecodable-record", "key", key, "decode_error", cause)
	return true
}

// ConvergenceTasks lists every task, deleting the undecodable ones.
func (e *ETCDDB) ConvergenceTasks(ctx context.Context, logger *slog.Logger) ([]*models.Task, int, error) {
	logger = logging.Session(logger, "convergence-tasks")
	prefix := e.keys.TaskPrefix()
	resp, err := e.kv.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, etcdError("range", prefix, err)
	}
	tasks := make([]*models.Task, 0, len(resp.Kvs))
	pruned := 0
	for _, kv := range resp.Kvs {
		t := &models.Task{}
		if err := decode(string(kv.Key), kv.Value, t); err != nil {
			if e.pruneKey(ctx, logger, string(kv.Key), kv.ModRevision, err) {
				pruned++
			}
			continue
		}
		tasks = append(tasks, t)
	}
	return tasks, pruned, nil
}

// A convergence decision was taken on the pass's snapshot. Each write
// below re-reads the task and applies the decision only while the rule's
// premise still holds of the fresh record (see the matchers); otherwise
// the decision is stale and the answer is ResourceConflict, logged by the
// pass and re-decided by the next one. A write that loses its
// compare-and-swap re-reads and re-checks (retryLostRace), so a concurrent
// write that leaves the premise true (a rejection of an expired pending
// task, a ResolvingTask of an expired completed one) does not stop it.

// sameIncarnation: the fresh task is the one read, in the same state and,
// while RUNNING, on the same cell (what "not started in time" and "cell
// disappeared" were decided on).
func sameIncarnation(read, cur *models.Task) bool {
	return cur.GetState() == read.GetState() && cur.GetCreatedAt() == read.GetCreatedAt() &&
		cur.GetCellId() == read.GetCellId()
}

// sameCompletion: the fresh task is still completed or resolving from the
// completion read (what "expired after completion" was decided on).
func sameCompletion(read, cur *models.Task) bool {
	s := cur.GetState()
	return (s == models.Task_Completed || s == models.Task_Resolving) &&
		cur.GetCreatedAt() == read.GetCreatedAt() && cur.GetFirstCompletedAt() == read.GetFirstCompletedAt()
}

// untouched: the fresh task is exactly as read (same state, same
// updated_at: every task write moves updated_at), as a kick needs.
func untouched(read, cur *models.Task) bool {
	return cur.GetState() == read.GetState() && cur.GetUpdatedAt() == read.GetUpdatedAt()
}

// convergeTaskWrite re-reads read's task and, while premise holds of it,
// applies write; a lost race is retried.
func (e *ETCDDB) convergeTaskWrite(ctx context.Context, logger *slog.Logger, op string, read *models.Task, premise func(read, cur *models.Task) bool, write func(cur *models.Task, rev int64) error) error {
	guid := read.GetTaskGuid()
	return retryLostRace(ctx, logger, op, func(attempt int) error {
		cur, rev, err := e.task(ctx, guid)
		if err != nil {
			return err
		}
		staged(op, attempt)
		if !premise(read, cur) {
			logger.Debug("stale-decision", "state", cur.GetState().String())
			return keyError(e.keys.Task(guid), models.ErrResourceConflict)
		}
		return write(cur, rev)
	})
}

// ConvergeFailTask completes the task as failed while it is still the
// incarnation read.
func (e *ETCDDB) ConvergeFailTask(ctx context.Context, logger *slog.Logger, read *models.Task, failureReason string) (*models.Task, error) {
	guid := read.GetTaskGuid()
	logger = logging.Session(logger, "converge-fail-task", "task_guid", guid)
	var after *models.Task
	err := e.convergeTaskWrite(ctx, logger, "converge-fail-task", read, sameIncarnation, func(cur *models.Task, rev int64) error {
		if err := models.ValidateTaskOperation(models.TaskFail, cur.GetState()); err != nil {
			return err
		}
		next := cloneTask(cur)
		next.TaskCompletion(e.now(), true, failureReason, "")
		if err := e.swapTask(ctx, guid, cur, next, rev); err != nil {
			return err
		}
		after = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	logger.Debug("failed", "failure_reason", failureReason)
	return after, nil
}

// DemoteTask puts a RESOLVING task, untouched since read, back to
// COMPLETED.
func (e *ETCDDB) DemoteTask(ctx context.Context, logger *slog.Logger, read *models.Task) (*models.Task, error) {
	guid := read.GetTaskGuid()
	logger = logging.Session(logger, "demote-task", "task_guid", guid)
	var after *models.Task
	err := e.convergeTaskWrite(ctx, logger, "demote-task", read, untouched, func(cur *models.Task, rev int64) error {
		if err := models.ValidateTaskOperation(models.TaskDemote, cur.GetState()); err != nil {
			return err
		}
		next := cloneTask(cur)
		next.State = models.Task_Completed
		next.UpdatedAt = e.now()
		if err := e.swapTask(ctx, guid, cur, next, rev); err != nil {
			return err
		}
		after = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	logger.Debug("demoted")
	return after, nil
}

// DeleteExpiredTask deletes a COMPLETED or RESOLVING task still from the
// completion read.
func (e *ETCDDB) DeleteExpiredTask(ctx context.Context, logger *slog.Logger, read *models.Task) error {
	guid := read.GetTaskGuid()
	logger = logging.Session(logger, "delete-expired-task", "task_guid", guid)
	var state models.Task_State
	err := e.convergeTaskWrite(ctx, logger, "delete-expired-task", read, sameCompletion, func(cur *models.Task, rev int64) error {
		idx := indexChange{del: e.taskIndexKeys(guid, cur)}
		state = cur.GetState()
		return compareAndDelete(ctx, e.kv, e.keys.Task(guid), rev, idx)
	})
	if err != nil {
		return err
	}
	logger.Debug("deleted", "state", state.String())
	return nil
}

// ConvergenceActualLRPs reads every actual record in one range, deleting
// the undecodable ones.
func (e *ETCDDB) ConvergenceActualLRPs(ctx context.Context, logger *slog.Logger) ([]*models.ActualLRP, []*models.ActualLRP, int, error) {
	logger = logging.Session(logger, "convergence-actual-lrps")
	prefix := e.keys.ActualPrefix()
	resp, err := e.kv.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, nil, 0, etcdError("range", prefix, err)
	}
	var instances, evacuating []*models.ActualLRP
	pruned := 0
	for _, kv := range resp.Kvs {
		key := string(kv.Key)
		if !strings.HasSuffix(key, "/instance") && !strings.HasSuffix(key, "/evacuating") {
			continue // not an actual record: neither read nor pruned
		}
		lrp, err := decodeActual(key, kv.Value)
		if err != nil {
			if e.pruneKey(ctx, logger, key, kv.ModRevision, err) {
				pruned++
			}
			continue
		}
		if lrp.GetPresence() == models.ActualLRP_EVACUATING {
			evacuating = append(evacuating, lrp)
		} else {
			instances = append(instances, lrp)
		}
	}
	return instances, evacuating, pruned, nil
}

// UnclaimCrashedActualLRP moves a CRASHED instance back to UNCLAIMED; a
// lost race is re-read, and only a record still CRASHED is unclaimed.
func (e *ETCDDB) UnclaimCrashedActualLRP(ctx context.Context, logger *slog.Logger, key *models.ActualLRPKey) (*models.ActualLRP, *models.ActualLRP, error) {
	logger = logging.Session(logger, "unclaim-crashed-actual-lrp", "process_guid", key.GetProcessGuid(), "index", key.GetIndex())
	return e.unclaimLoop(ctx, logger, "unclaim-crashed-actual-lrp", key, func(cur *models.ActualLRP) bool {
		return cur.GetState() == models.ActualLRPStateCrashed
	})
}

// ConvergenceSchedulingInfos reads every scheduling info and run info at
// one revision and reaps orphaned run infos.
func (e *ETCDDB) ConvergenceSchedulingInfos(ctx context.Context, logger *slog.Logger, orphanedRunInfoAge time.Duration) ([]*models.DesiredLRPSchedulingInfo, db.DesiredLRPGatherStats, error) {
	logger = logging.Session(logger, "convergence-scheduling-infos")
	var stats db.DesiredLRPGatherStats
	ranges, err := getPrefixes(ctx, e.kv, e.keys.SchedulingInfoPrefix(), e.keys.RunInfoPrefix())
	if err != nil {
		return nil, stats, err
	}
	infos := make([]*models.DesiredLRPSchedulingInfo, 0, len(ranges[0]))
	scheduled := make(map[string]bool, len(ranges[0]))
	schedPrefix := e.keys.SchedulingInfoPrefix()
	for _, kv := range ranges[0] {
		// A malformed record still marks its guid as desired, so its run
		// info is not reaped as an orphan.
		scheduled[strings.TrimPrefix(string(kv.Key), schedPrefix)] = true
		s := &models.DesiredLRPSchedulingInfo{}
		if err := decode(string(kv.Key), kv.Value, s); err != nil {
			stats.MalformedSchedulingInfos++
			logger.Error("malformed-scheduling-info", "key", string(kv.Key), "error", err)
			continue
		}
		infos = append(infos, s)
	}

	now := e.clock.Now()
	runPrefix := e.keys.RunInfoPrefix()
	for _, kv := range ranges[1] {
		guid := strings.TrimPrefix(string(kv.Key), runPrefix)
		r := &models.DesiredLRPRunInfo{}
		if err := decode(string(kv.Key), kv.Value, r); err != nil {
			stats.MalformedRunInfos++
			logger.Error("malformed-run-info", "key", string(kv.Key), "error", err)
			continue
		}
		if scheduled[guid] || now.Sub(time.Unix(0, r.GetCreatedAt())) <= orphanedRunInfoAge {
			continue
		}
		schedKey := e.keys.SchedulingInfo(guid)
		err := commitTxn(ctx, e.kv, string(kv.Key), "delete",
			[]clientv3.Cmp{unchanged(string(kv.Key), kv.ModRevision), unchanged(schedKey, 0)},
			[]clientv3.Op{
				clientv3.OpDelete(string(kv.Key)),
				clientv3.OpDelete(e.keys.DesiredByDomain(r.GetDesiredLrpKey().GetDomain(), guid)),
			}, models.ErrResourceConflict)
		if err != nil {
			logger.Error("failed-to-delete-orphaned-run-info", "process_guid", guid, "error", err)
			continue
		}
		stats.OrphanedRunInfos++
		logger.Info("deleted-orphaned-run-info", "process_guid", guid)
	}
	return infos, stats, nil
}
