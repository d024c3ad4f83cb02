package etcddb

import (
	"context"
	"log/slog"

	"google.golang.org/protobuf/proto"

	"diego/bbs/db"
	"diego/deploy/logging"
	"diego/models"
)

// taskIndexKeys are the index entries the task record at guid has in its
// current state: its domain, and its cell while it has one.
func (e *ETCDDB) taskIndexKeys(guid string, t *models.Task) []string {
	var keys []string
	if t.GetDomain() != "" {
		keys = append(keys, e.keys.TaskByDomain(t.GetDomain(), guid))
	}
	if t.GetCellId() != "" {
		keys = append(keys, e.keys.TaskByCell(t.GetCellId(), guid))
	}
	return keys
}

// Tasks lists the tasks matching filter, through the cell or domain index
// when the filter names one, else with one range over every task.
func (e *ETCDDB) Tasks(ctx context.Context, logger *slog.Logger, filter db.TaskFilter) ([]*models.Task, error) {
	logger = logging.Session(logger, "tasks", "domain", filter.Domain, "cell_id", filter.CellID)

	var prefix string
	switch {
	case filter.CellID != "":
		prefix = e.keys.TaskByCellPrefix(filter.CellID)
	case filter.Domain != "":
		prefix = e.keys.TaskByDomainPrefix(filter.Domain)
	default:
		return listRecords[models.Task](ctx, logger, e.kv, e.keys.TaskPrefix())
	}

	if c, ok := e.kv.(*recordCache); ok {
		// The index and its records from one snapshot of the cache.
		taskKey := func(indexKey string) (string, bool) {
			g, ok := guidFromIndexKey(indexKey)
			return e.keys.Task(g), ok
		}
		if kvs, ok := c.indexed(ctx, prefix, taskKey); ok {
			tasks := make([]*models.Task, 0, len(kvs))
			for _, kv := range kvs {
				tasks = appendDecoded(logger, tasks, kv.Key, kv.Value)
			}
			return filterTasks(tasks, filter), nil
		}
	}
	guids, rev, err := indexedGuids(ctx, e.kv, prefix)
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(guids))
	for i, g := range guids {
		keys[i] = e.keys.Task(g)
	}
	// Reading the records at the index's revision gives one consistent
	// snapshot; the filter check below guards against a stray entry anyway.
	tasks, err := getRecords[models.Task](ctx, logger, e.kv, keys, rev)
	if err != nil {
		return nil, err
	}
	return filterTasks(tasks, filter), nil
}

func filterTasks(tasks []*models.Task, filter db.TaskFilter) []*models.Task {
	out := tasks[:0]
	for _, t := range tasks {
		if filter.Domain != "" && t.GetDomain() != filter.Domain {
			continue
		}
		if filter.CellID != "" && t.GetCellId() != filter.CellID {
			continue
		}
		out = append(out, t)
	}
	return out
}

// TaskByGuid returns one task.
func (e *ETCDDB) TaskByGuid(ctx context.Context, logger *slog.Logger, taskGuid string) (*models.Task, error) {
	task, _, err := e.task(ctx, taskGuid)
	return task, err
}

func (e *ETCDDB) task(ctx context.Context, taskGuid string) (*models.Task, int64, error) {
	return getRecord[models.Task](ctx, e.kv, e.keys.Task(taskGuid))
}

// DesireTask creates the task PENDING, stamped now.
func (e *ETCDDB) DesireTask(ctx context.Context, logger *slog.Logger, def *models.TaskDefinition, taskGuid, domain string) (*models.Task, error) {
	logger = logging.Session(logger, "desire-task", "task_guid", taskGuid)
	now := e.now()
	task := &models.Task{
		TaskDefinition: def,
		TaskGuid:       taskGuid,
		Domain:         domain,
		State:          models.Task_Pending,
		CreatedAt:      now,
		UpdatedAt:      now,
	}
	idx := indexChange{put: e.taskIndexKeys(taskGuid, task)}
	if err := create(ctx, e.kv, e.keys.Task(taskGuid), task, idx); err != nil {
		return nil, err
	}
	logger.Debug("desired")
	return task, nil
}

// StartTask claims a PENDING task for cellID. A lost race is re-read: a
// start by the same cell won → no write, should_start false; anything else
// that won is judged as StartTask would judge it arriving second.
func (e *ETCDDB) StartTask(ctx context.Context, logger *slog.Logger, taskGuid, cellID string) (*models.Task, *models.Task, bool, error) {
	logger = logging.Session(logger, "start-task", "task_guid", taskGuid, "cell_id", cellID)
	var (
		before, after *models.Task
		shouldStart   bool
	)
	err := retryFromCache(ctx, logger, "start-task", func(ctx context.Context, attempt int) error {
		cur, rev, err := e.task(ctx, taskGuid)
		if err != nil {
			return err
		}
		staged("start-task", attempt)
		if cur.GetState() == models.Task_Running && cur.GetCellId() == cellID {
			// The rep asking again (e.g. after a lost response): nothing to do.
			before, after, shouldStart = cur, cloneTask(cur), false
			return nil
		}
		if err := models.ValidateTaskOperation(models.TaskStart, cur.GetState()); err != nil {
			return err
		}
		next := cloneTask(cur)
		next.State = models.Task_Running
		next.CellId = cellID
		next.UpdatedAt = e.now()
		if err := e.swapTask(ctx, taskGuid, cur, next, rev); err != nil {
			return err
		}
		before, after, shouldStart = cur, next, true
		return nil
	})
	if err != nil {
		return nil, nil, false, err
	}
	if shouldStart {
		logger.Debug("started")
	}
	return before, after, shouldStart, nil
}

// CancelTask completes a PENDING or RUNNING task as cancelled.
func (e *ETCDDB) CancelTask(ctx context.Context, logger *slog.Logger, taskGuid string) (*models.Task, *models.Task, string, error) {
	logger = logging.Session(logger, "cancel-task", "task_guid", taskGuid)
	before, after, err := e.transitionTask(ctx, logger, "cancel-task", taskGuid, models.TaskCancel, func(t *models.Task) error {
		t.TaskCompletion(e.now(), true, models.TaskCancelledReason, "")
		return nil
	})
	if err != nil {
		return nil, nil, "", err
	}
	logger.Debug("cancelled", "previous_cell_id", before.GetCellId())
	return before, after, before.GetCellId(), nil
}

// FailTask completes a PENDING or RUNNING task as failed.
func (e *ETCDDB) FailTask(ctx context.Context, logger *slog.Logger, taskGuid, failureReason string) (*models.Task, *models.Task, error) {
	logger = logging.Session(logger, "fail-task", "task_guid", taskGuid)
	before, after, err := e.transitionTask(ctx, logger, "fail-task", taskGuid, models.TaskFail, func(t *models.Task) error {
		t.TaskCompletion(e.now(), true, failureReason, "")
		return nil
	})
	if err == nil {
		logger.Debug("failed", "failure_reason", failureReason)
	}
	return before, after, err
}

// RejectTask puts the task back to PENDING, or fails it once its retries
// are used up.
func (e *ETCDDB) RejectTask(ctx context.Context, logger *slog.Logger, taskGuid, rejectionReason string, maxRetries int32) (*models.Task, *models.Task, error) {
	logger = logging.Session(logger, "reject-task", "task_guid", taskGuid)
	before, after, err := e.transitionTask(ctx, logger, "reject-task", taskGuid, models.TaskReject, func(t *models.Task) error {
		now := e.now()
		if t.Reject(now, rejectionReason, maxRetries) {
			t.TaskCompletion(now, true, rejectionReason, "")
		}
		return nil
	})
	if err == nil {
		logger.Debug("rejected", "state", after.GetState().String(), "rejection_count", after.GetRejectionCount())
	}
	return before, after, err
}

// CompleteTask completes a task RUNNING on cellID.
func (e *ETCDDB) CompleteTask(ctx context.Context, logger *slog.Logger, taskGuid, cellID string, failed bool, failureReason, result string) (*models.Task, *models.Task, error) {
	logger = logging.Session(logger, "complete-task", "task_guid", taskGuid, "cell_id", cellID)
	before, after, err := e.transitionTask(ctx, logger, "complete-task", taskGuid, models.TaskComplete, func(t *models.Task) error {
		if t.GetCellId() != cellID {
			return models.NewRunningOnDifferentCellError(cellID, t.GetCellId())
		}
		t.TaskCompletion(e.now(), failed, failureReason, result)
		return nil
	})
	if err == nil {
		logger.Debug("completed", "failed", failed)
	}
	return before, after, err
}

// ResolvingTask marks a COMPLETED task as being resolved.
func (e *ETCDDB) ResolvingTask(ctx context.Context, logger *slog.Logger, taskGuid string) (*models.Task, *models.Task, error) {
	logger = logging.Session(logger, "resolving-task", "task_guid", taskGuid)
	before, after, err := e.transitionTask(ctx, logger, "resolving-task", taskGuid, models.TaskResolving, func(t *models.Task) error {
		t.State = models.Task_Resolving
		t.UpdatedAt = e.now()
		return nil
	})
	if err == nil {
		logger.Debug("resolving")
	}
	return before, after, err
}

// DeleteTask removes a RESOLVING task, guarded by the revision read as
// RESOLVING: a demotion that wins the race makes it InvalidStateTransition,
// a convergence delete that wins makes it ResourceNotFound.
func (e *ETCDDB) DeleteTask(ctx context.Context, logger *slog.Logger, taskGuid string) (*models.Task, error) {
	logger = logging.Session(logger, "delete-task", "task_guid", taskGuid)
	var deleted *models.Task
	err := retryFromCache(ctx, logger, "delete-task", func(ctx context.Context, attempt int) error {
		task, rev, err := e.task(ctx, taskGuid)
		if err != nil {
			return err
		}
		staged("delete-task", attempt)
		if err := models.ValidateTaskOperation(models.TaskDelete, task.GetState()); err != nil {
			return err
		}
		idx := indexChange{del: e.taskIndexKeys(taskGuid, task)}
		if err := compareAndDelete(ctx, e.kv, e.keys.Task(taskGuid), rev, idx); err != nil {
			return err
		}
		deleted = task
		return nil
	})
	if err != nil {
		return nil, err
	}
	logger.Debug("deleted")
	return deleted, nil
}

// transitionTask is the read → validate → modify → compare-and-swap recipe
// shared by the lifecycle calls, repeated on a lost race so the operation
// is judged against the record that won. modify works on a copy and may
// refuse.
func (e *ETCDDB) transitionTask(ctx context.Context, logger *slog.Logger, name, taskGuid string, op models.TaskOperation, modify func(*models.Task) error) (*models.Task, *models.Task, error) {
	var before, after *models.Task
	err := retryFromCache(ctx, logger, name, func(ctx context.Context, attempt int) error {
		cur, rev, err := e.task(ctx, taskGuid)
		if err != nil {
			return err
		}
		staged(name, attempt)
		if err := models.ValidateTaskOperation(op, cur.GetState()); err != nil {
			return err
		}
		next := cloneTask(cur)
		if err := modify(next); err != nil {
			return err
		}
		if err := e.swapTask(ctx, taskGuid, cur, next, rev); err != nil {
			return err
		}
		before, after = cur, next
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return before, after, nil
}

// swapTask writes after over before (read at rev), moving its index keys.
func (e *ETCDDB) swapTask(ctx context.Context, taskGuid string, before, after *models.Task, rev int64) error {
	idx := diffIndex(e.taskIndexKeys(taskGuid, before), e.taskIndexKeys(taskGuid, after))
	return compareAndSwap(ctx, e.kv, e.keys.Task(taskGuid), rev, after, idx)
}

func cloneTask(t *models.Task) *models.Task {
	return proto.Clone(t).(*models.Task)
}
