package sync

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"diego/deploy/logging"
	"diego/executor"
)

// The task failure reasons the rep writes (spec cell §4.5, §4.7).
const (
	TaskReasonFailedToRunContainer   = "failed to run container"
	TaskReasonFailedToFetchResult    = "failed to fetch result"
	TaskReasonInvalidStateTransition = "invalid state transition"
	TaskReasonMissingContainer       = "task container does not exist"
)

// MaxResultFileSize bounds a task's result file (50 KiB).
const MaxResultFileSize = 51200

// ErrResultFileTooLarge is a result file over MaxResultFileSize.
var ErrResultFileTooLarge = fmt.Errorf("result file is too large (over %d bytes)", MaxResultFileSize)

func (p *processor) processTask(ctx context.Context, logger *slog.Logger, c executor.Container) {
	logger = logging.Session(logger, "task-processor", "task_guid", c.Guid, "state", string(c.State))
	if c.State == executor.StateCompleted {
		p.completeTask(ctx, logger, c)
		return
	}
	changed, err := p.bbs.StartTask(ctx, c.Guid, p.cellID)
	switch {
	case errors.Is(err, errInvalidTransition) || errors.Is(err, errResourceNotFound):
		logger.Info("cannot-start-task-deleting-container", "error", err)
		p.deleteContainer(logger, c.Guid)
		return
	case err != nil:
		logger.Error("failed-to-start-task", "error", err)
		return
	case !changed && c.State != executor.StateReserved:
		return // started and run by this rep already
	case !changed:
		// The task is Running on this cell but its container was never
		// run: an earlier StartTask succeeded and its answer was lost (the
		// BBS restarted). Run it now rather than leave it to expire.
		logger.Info("task-started-earlier-running-reserved-container")
	}
	task, err := p.bbs.TaskByGuid(ctx, c.Guid)
	if err != nil {
		logger.Error("failed-to-fetch-task", "error", err)
		return
	}
	req, err := NewTaskRunRequest(task, p.stacks)
	if err == nil {
		req.Guid = c.Guid
		err = p.executor.RunContainer(req)
	}
	if err == nil {
		logger.Info("running-container")
		return
	}
	logger.Error("failed-to-run-container", "error", err)
	p.deleteContainer(logger, c.Guid)
	p.completeTaskWith(ctx, logger, c.Guid, true, TaskReasonFailedToRunContainer, "")
}

// completeTask reports a completed task container, then deletes it.
func (p *processor) completeTask(ctx context.Context, logger *slog.Logger, c executor.Container) {
	rr := c.RunResult
	if rr.Failed && rr.Retryable {
		if err := p.bbs.RejectTask(ctx, c.Guid, rr.FailureReason); err != nil && !definitive(err) {
			// The BBS did not take it (restarting, unreachable): keep the
			// container, and the next pass rejects again.
			logger.Error("failed-to-reject-task-keeping-container", "error", err)
			return
		}
		p.deleteContainer(logger, c.Guid)
		return
	}
	failed, reason, result := rr.Failed, rr.FailureReason, ""
	if file := c.Tags[ResultFileTag]; file != "" && !failed {
		var err error
		result, err = p.readResult(c.Guid, file)
		if err != nil {
			logger.Error("failed-to-fetch-result", "result_file", file, "error", err)
			failed, reason, result = true, TaskReasonFailedToFetchResult, ""
		}
	}
	err := p.bbs.CompleteTask(ctx, c.Guid, p.cellID, failed, reason, result)
	switch {
	case errors.Is(err, errInvalidTransition):
		logger.Info("invalid-transition-failing-task", "error", err)
		p.completeTaskWith(ctx, logger, c.Guid, true, TaskReasonInvalidStateTransition, "")
	case err != nil && !definitive(err):
		// Deleting now would lose the result: the task would later fail
		// as "task container does not exist" (decision 23).
		logger.Error("failed-to-complete-task-keeping-container", "error", err)
		return
	case err != nil:
		logger.Error("failed-to-complete-task", "error", err)
	}
	p.deleteContainer(logger, c.Guid)
}

// definitive says whether a BBS answer settles a task's fate (the task is
// gone, or not in a state to take this), as opposed to a failure to reach
// or be served by the BBS, which a later pass retries.
func definitive(err error) bool {
	return errors.Is(err, errInvalidTransition) || errors.Is(err, errResourceNotFound)
}

func (p *processor) completeTaskWith(ctx context.Context, logger *slog.Logger, guid string, failed bool, reason, result string) {
	if err := p.bbs.CompleteTask(ctx, guid, p.cellID, failed, reason, result); err != nil {
		logger.Error("failed-to-complete-task", "reason", reason, "error", err)
	}
}

// readResult reads the first entry of the tar the executor streams for
// path, up to MaxResultFileSize bytes.
func (p *processor) readResult(guid, path string) (string, error) {
	stream, err := p.executor.GetFiles(guid, path)
	if err != nil {
		return "", err
	}
	defer stream.Close()
	tr := tar.NewReader(stream)
	hdr, err := tr.Next()
	if err != nil {
		return "", fmt.Errorf("reading result tar: %w", err)
	}
	if hdr.Size > MaxResultFileSize {
		return "", ErrResultFileTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(tr, MaxResultFileSize+1))
	if err != nil {
		return "", fmt.Errorf("reading result file: %w", err)
	}
	if len(body) > MaxResultFileSize {
		return "", ErrResultFileTooLarge
	}
	return string(body), nil
}
