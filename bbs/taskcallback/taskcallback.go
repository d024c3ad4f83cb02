// Package taskcallback makes the completion callbacks of tasks (spec core
// §3.6): a pool of workers that resolves a completed task, posts its outcome
// to the task's completion_callback_url, and deletes it once delivered.
package taskcallback

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"

	"diego/deploy/logging"
	"diego/models"
)

// DefaultWorkers is the pool size (task_callback_workers).
const DefaultWorkers = 1000

// MaxAttempts is how many times one callback is posted.
const MaxAttempts = 3

// TaskStore is the part of the task storage the callbacks need.
type TaskStore interface {
	ResolvingTask(ctx context.Context, logger *slog.Logger, taskGuid string) (before, after *models.Task, err error)
	DeleteTask(ctx context.Context, logger *slog.Logger, taskGuid string) (*models.Task, error)
}

// Pool is an ifrit runner; Submit hands it completed tasks.
type Pool struct {
	logger  *slog.Logger
	store   TaskStore
	http    *http.Client
	workers int
	queue   chan *models.Task
}

// Config sizes the pool.
type Config struct {
	// Workers post callbacks at once (DefaultWorkers when 0).
	Workers int
}

// Deps are the tasks' store and the client that posts the callbacks.
type Deps struct {
	Logger     *slog.Logger
	Store      TaskStore
	HTTPClient *http.Client
}

// New builds a pool of workers.
func New(cfg Config, deps Deps) *Pool {
	logger, store, httpClient, workers := deps.Logger, deps.Store, deps.HTTPClient, cfg.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}
	return &Pool{
		logger:  logging.Session(logger, "task-callback"),
		store:   store,
		http:    httpClient,
		workers: workers,
		queue:   make(chan *models.Task, workers),
	}
}

// Submit queues a completed task that has a callback URL. It never blocks:
// when the queue is full the task is left COMPLETED, and convergence submits
// it again on its next kick.
func (p *Pool) Submit(task *models.Task) {
	if task.GetTaskDefinition().GetCompletionCallbackUrl() == "" {
		return
	}
	select {
	case p.queue <- task:
	default:
		p.logger.Info("queue-full", "task_guid", task.GetTaskGuid())
	}
}

func (p *Pool) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < p.workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case task := <-p.queue:
					p.deliver(ctx, task)
				}
			}
		}()
	}
	close(ready)
	<-signals
	cancel()
	wg.Wait()
	return nil
}

// deliver resolves, posts and deletes one task.
func (p *Pool) deliver(ctx context.Context, task *models.Task) {
	guid := task.GetTaskGuid()
	logger := logging.Session(p.logger, "deliver", "task_guid", guid)
	if _, _, err := p.store.ResolvingTask(ctx, logger, guid); err != nil {
		logger.Info("not-resolving", "error", err) // someone else is resolving it
		return
	}
	body, err := json.Marshal(&models.TaskCallbackResponse{
		TaskGuid:      guid,
		Failed:        task.GetFailed(),
		FailureReason: task.GetFailureReason(),
		Result:        task.GetResult(),
		Annotation:    task.GetTaskDefinition().GetAnnotation(),
		CreatedAt:     task.GetCreatedAt(),
	})
	if err != nil {
		logger.Error("encoding-callback", "error", err)
		return
	}
	url := task.GetTaskDefinition().GetCompletionCallbackUrl()
	for attempt := 1; attempt <= MaxAttempts; attempt++ {
		status, err := p.post(ctx, url, body)
		switch {
		case err != nil && retryable(err):
			logger.Info("callback-retrying", "attempt", attempt, "error", err)
			continue
		case err != nil:
			logger.Error("callback-failed", "attempt", attempt, "error", err)
			return
		case status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout:
			logger.Info("callback-retrying", "attempt", attempt, "status", status)
			continue
		}
		if _, err := p.store.DeleteTask(ctx, logger, guid); err != nil {
			logger.Error("failed-to-delete", "error", err)
			return
		}
		logger.Info("delivered", "status", status)
		return
	}
	// Left RESOLVING: convergence demotes it and the callback is tried again.
	logger.Info("exceeded-max-attempts", "attempts", MaxAttempts)
}

func (p *Pool) post(ctx context.Context, url string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.http.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64*1024))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// retryable: only a client timeout or "use of closed network connection".
func retryable(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return strings.Contains(err.Error(), "use of closed network connection")
}
