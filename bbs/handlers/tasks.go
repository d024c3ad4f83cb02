package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"diego/auctioneer"
	"diego/bbs"
	"diego/bbs/db"
	"diego/models"
)

func (s *Server) taskHandlers() map[string]http.Handler {
	byGuidR2 := unary(s, "task-by-guid-r2", s.taskByGuidR2)
	return map[string]http.Handler{
		bbs.TasksRoute:          unary(s, "tasks", s.listTasks),
		bbs.TasksRoute_r2:       unary(s, "tasks-r2", s.listTasksR2),
		bbs.TaskByGuidRoute:     unary(s, "task-by-guid", s.taskByGuid),
		bbs.TaskByGuidRoute_r2:  byGuidR2,
		bbs.TaskByGuidRoute_GET: byGuidR2,
		bbs.DesireTaskRoute:     unary(s, "desire-task", newTaskAuctions(s.deps.Auctioneer).desireTask(s)),
		bbs.StartTaskRoute:      unary(s, "start-task", s.startTask),
		bbs.CancelTaskRoute:     unary(s, "cancel-task", s.cancelTask),
		bbs.FailTaskRoute:       unary(s, "fail-task", s.failTask),
		bbs.RejectTaskRoute:     unary(s, "reject-task", s.rejectTask),
		bbs.CompleteTaskRoute:   unary(s, "complete-task", s.completeTask),
		bbs.ResolvingTaskRoute:  unary(s, "resolving-task", s.resolvingTask),
		bbs.DeleteTaskRoute:     unary(s, "delete-task", s.deleteTask),
	}
}

func (s *Server) listTasks(ctx context.Context, logger *slog.Logger, req *models.TasksRequest, resp *models.TasksResponse) error {
	tasks, err := s.deps.Tasks.Tasks(ctx, logger, db.TaskFilter{Domain: req.GetDomain(), CellID: req.GetCellId()})
	resp.Tasks = tasks
	return err
}

func (s *Server) taskByGuid(ctx context.Context, logger *slog.Logger, req *models.TaskByGuidRequest, resp *models.TaskResponse) error {
	task, err := s.deps.Tasks.TaskByGuid(ctx, logger, req.GetTaskGuid())
	resp.Task = task
	return err
}

// The `.r2` revisions (and the late-2015 GET) serve tasks without image
// layers (spec core §1.2).
func (s *Server) listTasksR2(ctx context.Context, logger *slog.Logger, req *models.TasksRequest, resp *models.TasksResponse) error {
	err := s.listTasks(ctx, logger, req, resp)
	for i, t := range resp.Tasks {
		resp.Tasks[i] = t.VersionDownTo2()
	}
	return err
}

func (s *Server) taskByGuidR2(ctx context.Context, logger *slog.Logger, req *models.TaskByGuidRequest, resp *models.TaskResponse) error {
	err := s.taskByGuid(ctx, logger, req, resp)
	if resp.Task != nil {
		resp.Task = resp.Task.VersionDownTo2()
	}
	return err
}

// desireTask creates the task, then asks for its placement on a best-effort
// basis: a failed request is only logged, and convergence asks again. The
// answer waits for the auction request, as Diego's does; concurrent desires
// share one (taskAuctions).
func (a *taskAuctions) desireTask(s *Server) func(context.Context, *slog.Logger, *models.DesireTaskRequest, *models.TaskLifecycleResponse) error {
	return func(ctx context.Context, logger *slog.Logger, req *models.DesireTaskRequest, _ *models.TaskLifecycleResponse) error {
		task, err := s.deps.Tasks.DesireTask(ctx, logger, req.GetTaskDefinition(), req.GetTaskGuid(), req.GetDomain())
		if err != nil {
			return err
		}
		start := auctioneer.NewTaskStartRequestFromModel(task.GetTaskGuid(), task.GetDomain(), task.GetTaskDefinition())
		if err := a.request(ctx, &start); err != nil {
			logger.Error("failed-requesting-task-auction", "task_guid", task.GetTaskGuid(), "error", err)
		}
		return nil
	}
}

// taskAuctions sends the auction requests of concurrent DesireTask calls
// together (decision 201). At most one request to the auctioneer is in
// flight; the starts that arrive meanwhile wait and leave together in the
// next one (the auctioneer's route takes an array), and each caller gets the
// outcome of the request that carried its start. Under load this is one
// request per round trip instead of one per task; alone, a desire sends at
// once as before.
type taskAuctions struct {
	auctioneer Auctioneer

	mu      sync.Mutex
	sending bool
	next    *auctionBatch // waiting for the request in flight to end
}

// auctionBatch is the starts of one request to the auctioneer.
type auctionBatch struct {
	ctx    context.Context // the first caller's, without its cancellation
	starts []*auctioneer.TaskStartRequest
	done   chan struct{} // closed once err is set
	err    error
}

func newTaskAuctions(a Auctioneer) *taskAuctions { return &taskAuctions{auctioneer: a} }

// request hands start to the auctioneer and returns that request's outcome.
// The request itself outlives ctx (another caller's start may share it); a
// caller whose start waits behind the request in flight stops waiting when
// ctx ends, so that a slow auctioneer costs it no more than its own deadline.
func (a *taskAuctions) request(ctx context.Context, start *auctioneer.TaskStartRequest) error {
	a.mu.Lock()
	if a.sending {
		if a.next == nil {
			a.next = &auctionBatch{ctx: context.WithoutCancel(ctx), done: make(chan struct{})}
		}
		b := a.next
		b.starts = append(b.starts, start)
		a.mu.Unlock()
		select {
		case <-b.done:
			return b.err
		case <-ctx.Done():
			return fmt.Errorf("waiting for the auction request carrying the task: %w", ctx.Err())
		}
	}
	a.sending = true
	a.mu.Unlock()
	b := &auctionBatch{ctx: context.WithoutCancel(ctx), starts: []*auctioneer.TaskStartRequest{start}, done: make(chan struct{})}
	a.send(b)
	return b.err
}

// errAuctionAborted is a batch's outcome when its request never returned
// (the auctioneer client panicked).
var errAuctionAborted = errors.New("the auction request was aborted")

// send makes b's request, then hands the batch that gathered meanwhile, if
// any, to a goroutine of its own, so that no caller's answer waits for
// other callers' requests. It hands over even if the request panics, so
// that the callers waiting on b, and every later desire, are never stuck.
func (a *taskAuctions) send(b *auctionBatch) {
	b.err = errAuctionAborted
	defer func() {
		close(b.done)
		a.mu.Lock()
		next := a.next
		a.next = nil
		a.sending = next != nil
		a.mu.Unlock()
		if next != nil {
			go a.send(next)
		}
	}()
	b.err = a.auctioneer.RequestTaskAuctions(b.ctx, b.starts)
}

func (s *Server) startTask(ctx context.Context, logger *slog.Logger, req *models.StartTaskRequest, resp *models.StartTaskResponse) error {
	_, _, shouldStart, err := s.deps.Tasks.StartTask(ctx, logger, req.GetTaskGuid(), req.GetCellId())
	resp.ShouldStart = shouldStart
	if shouldStart {
		s.deps.Metrics.IncrementCounter("TasksStarted")
	}
	return err
}

// cancelTask completes the task as cancelled and, when a cell was running
// it, tells that cell's rep (best effort: the rep's bulk sync catches up).
func (s *Server) cancelTask(ctx context.Context, logger *slog.Logger, req *models.TaskGuidRequest, _ *models.TaskLifecycleResponse) error {
	_, after, cellID, err := s.deps.Tasks.CancelTask(ctx, logger, req.GetTaskGuid())
	if err != nil {
		return err
	}
	s.deps.Callbacks.Submit(after)
	if cellID == "" {
		return nil
	}
	ctx = context.WithoutCancel(ctx) // the cancel has landed; telling the rep follows it
	cell, err := s.deps.Cells.CellByID(ctx, logger, cellID)
	if err != nil {
		logger.Info("cell-not-found-for-cancel", "cell_id", cellID, "error", err)
		return nil
	}
	rep, err := s.deps.Reps.Rep(cell.GetRepAddress(), cell.GetRepUrl())
	if err == nil {
		err = rep.CancelTask(ctx, req.GetTaskGuid())
	}
	if err != nil {
		logger.Error("failed-to-tell-rep-to-cancel", "cell_id", cellID, "error", err)
	}
	return nil
}

func (s *Server) failTask(ctx context.Context, logger *slog.Logger, req *models.FailTaskRequest, _ *models.TaskLifecycleResponse) error {
	_, after, err := s.deps.Tasks.FailTask(ctx, logger, req.GetTaskGuid(), req.GetFailureReason())
	if err == nil {
		s.deps.Callbacks.Submit(after)
	}
	return err
}

func (s *Server) rejectTask(ctx context.Context, logger *slog.Logger, req *models.RejectTaskRequest, _ *models.TaskLifecycleResponse) error {
	_, after, err := s.deps.Tasks.RejectTask(ctx, logger, req.GetTaskGuid(), req.GetRejectionReason(), s.deps.MaxTaskRetries)
	if err == nil && after.GetState() == models.Task_Completed {
		s.deps.Callbacks.Submit(after)
	}
	return err
}

func (s *Server) completeTask(ctx context.Context, logger *slog.Logger, req *models.CompleteTaskRequest, _ *models.TaskLifecycleResponse) error {
	_, after, err := s.deps.Tasks.CompleteTask(ctx, logger, req.GetTaskGuid(), req.GetCellId(), req.GetFailed(), req.GetFailureReason(), req.GetResult())
	if err == nil {
		if req.GetFailed() {
			s.deps.Metrics.IncrementCounter("TasksFailed")
		} else {
			s.deps.Metrics.IncrementCounter("TasksSucceeded")
		}
		s.deps.Callbacks.Submit(after)
	}
	return err
}

func (s *Server) resolvingTask(ctx context.Context, logger *slog.Logger, req *models.TaskGuidRequest, _ *models.TaskLifecycleResponse) error {
	_, _, err := s.deps.Tasks.ResolvingTask(ctx, logger, req.GetTaskGuid())
	return err
}

func (s *Server) deleteTask(ctx context.Context, logger *slog.Logger, req *models.TaskGuidRequest, _ *models.TaskLifecycleResponse) error {
	_, err := s.deps.Tasks.DeleteTask(ctx, logger, req.GetTaskGuid())
	return err
}
