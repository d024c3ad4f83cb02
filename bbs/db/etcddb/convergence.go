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
	err := compareAndDelete(ctx, e.client, key, rev, indexChange{})
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
	resp, err := e.client.Get(ctx, prefix, clientv3.WithPrefix())
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

// taskAsRead re-reads the task of read and returns it with its revision if
// it is unchanged since the pass read it: same state and updated_at (every
// task write moves updated_at). Otherwise ResourceConflict.
func (e *ETCDDB) taskAsRead(ctx context.Context, read *models.Task) (*models.Task, int64, error) {
	guid := read.GetTaskGuid()
	cur, rev, err := e.task(ctx, guid)
	if err != nil {
		return nil, 0, err
	}
	if cur.GetState() != read.GetState() || cur.GetUpdatedAt() != read.GetUpdatedAt() {
		return nil, 0, keyError(e.keys.Task(guid), models.ErrResourceConflict)
	}
	return cur, rev, nil
}

// ConvergeFailTask completes the task as failed if it is still as read.
func (e *ETCDDB) ConvergeFailTask(ctx context.Context, logger *slog.Logger, read *models.Task, failureReason string) (*models.Task, error) {
	guid := read.GetTaskGuid()
	logger = logging.Session(logger, "converge-fail-task", "task_guid", guid)
	before, rev, err := e.taskAsRead(ctx, read)
	if err != nil {
		return nil, err
	}
	if err := models.ValidateTaskOperation(models.TaskFail, before.GetState()); err != nil {
		return nil, err
	}
	after := cloneTask(before)
	after.TaskCompletion(e.now(), true, failureReason, "")
	if err := e.swapTask(ctx, guid, before, after, rev); err != nil {
		return nil, err
	}
	logger.Debug("failed", "failure_reason", failureReason)
	return after, nil
}

// DemoteTask puts a RESOLVING task, still as read, back to COMPLETED.
func (e *ETCDDB) DemoteTask(ctx context.Context, logger *slog.Logger, read *models.Task) (*models.Task, error) {
	guid := read.GetTaskGuid()
	logger = logging.Session(logger, "demote-task", "task_guid", guid)
	before, rev, err := e.taskAsRead(ctx, read)
	if err != nil {
		return nil, err
	}
	if err := models.ValidateTaskOperation(models.TaskDemote, before.GetState()); err != nil {
		return nil, err
	}
	after := cloneTask(before)
	after.State = models.Task_Completed
	after.UpdatedAt = e.now()
	if err := e.swapTask(ctx, guid, before, after, rev); err != nil {
		return nil, err
	}
	logger.Debug("demoted")
	return after, nil
}

// DeleteExpiredTask deletes a COMPLETED or RESOLVING task still as read.
func (e *ETCDDB) DeleteExpiredTask(ctx context.Context, logger *slog.Logger, read *models.Task) error {
	guid := read.GetTaskGuid()
	logger = logging.Session(logger, "delete-expired-task", "task_guid", guid)
	task, rev, err := e.taskAsRead(ctx, read)
	if err != nil {
		return err
	}
	if s := task.GetState(); s != models.Task_Completed && s != models.Task_Resolving {
		return models.NewTaskTransitionError(s, models.Task_Resolving)
	}
	idx := indexChange{del: e.taskIndexKeys(guid, task)}
	if err := compareAndDelete(ctx, e.client, e.keys.Task(guid), rev, idx); err != nil {
		return err
	}
	logger.Debug("deleted", "state", task.GetState().String())
	return nil
}

// ConvergenceActualLRPs reads every actual record in one range, deleting
// the undecodable ones.
func (e *ETCDDB) ConvergenceActualLRPs(ctx context.Context, logger *slog.Logger) ([]*models.ActualLRP, []*models.ActualLRP, int, error) {
	logger = logging.Session(logger, "convergence-actual-lrps")
	prefix := e.keys.ActualPrefix()
	resp, err := e.client.Get(ctx, prefix, clientv3.WithPrefix())
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

// UnclaimCrashedActualLRP moves a CRASHED instance back to UNCLAIMED.
func (e *ETCDDB) UnclaimCrashedActualLRP(ctx context.Context, logger *slog.Logger, key *models.ActualLRPKey) (*models.ActualLRP, *models.ActualLRP, error) {
	logger = logging.Session(logger, "unclaim-crashed-actual-lrp", "process_guid", key.GetProcessGuid(), "index", key.GetIndex())
	before, rev, err := e.actual(ctx, key.GetProcessGuid(), key.GetIndex())
	if err != nil {
		return nil, nil, err
	}
	if before.GetState() != models.ActualLRPStateCrashed {
		logger.Info("not-crashed", "state", before.GetState())
		return nil, nil, models.ErrActualLRPCannotBeUnclaimed
	}
	after, err := e.unclaimed(before, key)
	if err != nil {
		return nil, nil, err
	}
	if err := e.swapInstance(ctx, before, after, rev, models.ErrActualLRPCannotBeUnclaimed); err != nil {
		return nil, nil, err
	}
	logger.Debug("unclaimed", "crash_count", after.GetCrashCount())
	return before, after, nil
}

// ConvergenceSchedulingInfos reads every scheduling info and run info at
// one revision and reaps orphaned run infos.
func (e *ETCDDB) ConvergenceSchedulingInfos(ctx context.Context, logger *slog.Logger, orphanedRunInfoAge time.Duration) ([]*models.DesiredLRPSchedulingInfo, db.DesiredLRPGatherStats, error) {
	logger = logging.Session(logger, "convergence-scheduling-infos")
	var stats db.DesiredLRPGatherStats
	ranges, err := getPrefixes(ctx, e.client, e.keys.SchedulingInfoPrefix(), e.keys.RunInfoPrefix())
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
		err := commitTxn(ctx, e.client, string(kv.Key), "delete",
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
