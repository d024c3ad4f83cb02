// Package db declares the storage operations the BBS handlers and the
// convergence rules need, one narrow interface per record type. The etcd v3
// implementation lives in db/etcddb; handlers and tests depend only on these
// interfaces.
//
// Every error a method returns is a *models.Error or wraps one (errors.As
// finds it, models.ConvertError returns it), following spec core §4.2:
//
//   - a missing record                → ResourceNotFound
//   - a lost compare-and-swap/delete  → ResourceConflict
//   - a create over an existing key   → ResourceExists
//   - an unreadable stored value      → FailedToOpenEnvelope or Deserialize
//   - an illegal lifecycle transition → the operation's own error (§2)
//   - a failure talking to the store  → UnknownError carrying the cause
//
// Nothing retries silently: a lost race is returned to the caller.
package db

import (
	"context"
	"log/slog"

	"diego/models"
)

// TaskFilter narrows Tasks. Empty fields match everything; set fields must
// all match.
type TaskFilter struct {
	Domain string
	CellID string
}

// TaskDB stores tasks and applies the task state machine (spec core §2.1).
// Writes read the record, apply the transition, and compare-and-swap on the
// revision they read. Lifecycle calls return the record before and after the
// change so callers can emit events and run callbacks.
type TaskDB interface {
	// Tasks lists the tasks that match filter. Records that cannot be
	// decoded are skipped (and logged), not fatal.
	Tasks(ctx context.Context, logger *slog.Logger, filter TaskFilter) ([]*models.Task, error)
	// TaskByGuid returns one task, or ResourceNotFound.
	TaskByGuid(ctx context.Context, logger *slog.Logger, taskGuid string) (*models.Task, error)

	// DesireTask creates a PENDING task; ResourceExists if the guid is taken.
	DesireTask(ctx context.Context, logger *slog.Logger, def *models.TaskDefinition, taskGuid, domain string) (*models.Task, error)
	// StartTask moves a PENDING task to RUNNING on cellID. A task already
	// RUNNING on the same cell succeeds with shouldStart=false and no write.
	StartTask(ctx context.Context, logger *slog.Logger, taskGuid, cellID string) (before, after *models.Task, shouldStart bool, err error)
	// CancelTask completes a PENDING or RUNNING task as failed with
	// models.TaskCancelledReason. cellID is the cell it was on ("" if none),
	// so the caller can tell that cell's rep to stop it.
	CancelTask(ctx context.Context, logger *slog.Logger, taskGuid string) (before, after *models.Task, cellID string, err error)
	// FailTask completes a PENDING or RUNNING task as failed with the reason.
	FailTask(ctx context.Context, logger *slog.Logger, taskGuid, failureReason string) (before, after *models.Task, err error)
	// RejectTask puts a PENDING or RUNNING task back to PENDING with one more
	// rejection; once the count before the call reaches maxRetries the task
	// is failed with the rejection reason instead.
	RejectTask(ctx context.Context, logger *slog.Logger, taskGuid, rejectionReason string, maxRetries int32) (before, after *models.Task, err error)
	// CompleteTask completes a task RUNNING on cellID; RunningOnDifferentCell
	// if it runs elsewhere.
	CompleteTask(ctx context.Context, logger *slog.Logger, taskGuid, cellID string, failed bool, failureReason, result string) (before, after *models.Task, err error)
	// ResolvingTask moves a COMPLETED task to RESOLVING.
	ResolvingTask(ctx context.Context, logger *slog.Logger, taskGuid string) (before, after *models.Task, err error)
	// DeleteTask deletes a RESOLVING task, guarded by the revision read as
	// RESOLVING, and returns it as it was.
	DeleteTask(ctx context.Context, logger *slog.Logger, taskGuid string) (task *models.Task, err error)
}
