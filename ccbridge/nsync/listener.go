package nsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"diego/ccbridge/ccclient"
	"diego/deploy/logging"
	"diego/deploy/routes"
	"diego/receptor"
)

// Receptor is what nsync needs of the receptor's API (receptor/client).
type Receptor interface {
	GetDesiredLRP(ctx context.Context, processGuid string) (receptor.DesiredLRPResponse, error)
	CreateDesiredLRP(ctx context.Context, req receptor.DesiredLRPCreateRequest) error
	UpdateDesiredLRP(ctx context.Context, processGuid string, req receptor.DesiredLRPUpdateRequest) error
	DeleteDesiredLRP(ctx context.Context, processGuid string) error
	DesiredLRPsByDomain(ctx context.Context, domain string) ([]receptor.DesiredLRPResponse, error)
	KillActualLRPByProcessGuidAndIndex(ctx context.Context, processGuid string, index int) error
	CreateTask(ctx context.Context, req receptor.TaskCreateRequest) error
	CancelTask(ctx context.Context, taskGuid string) error
	UpsertDomain(ctx context.Context, domain string, ttl time.Duration) error
}

// maxBody bounds a request body; a desire message is a few kilobytes.
const maxBody = 4 << 20

// desireAttempts is how often a create-or-update is tried while it
// conflicts (spec bridge §3.1).
const desireAttempts = 2

// ListenerDeps are the listener's collaborators.
type ListenerDeps struct {
	Logger   *slog.Logger
	Receptor Receptor
	Recipes  RecipeBuilder
}

// NewListener is the handler of the listener's routes (spec bridge §3.1,
// §3.5); every answer's status is the contract the CC relies on (§9.8).
func NewListener(deps ListenerDeps) (http.Handler, error) {
	l := &listener{ListenerDeps: deps}
	return routes.NewRouter(Routes, map[string]http.Handler{
		DesireAppRoute:  http.HandlerFunc(l.desireApp),
		StopAppRoute:    http.HandlerFunc(l.stopApp),
		KillIndexRoute:  http.HandlerFunc(l.killIndex),
		DesireTaskRoute: http.HandlerFunc(l.desireTask),
		CancelTaskRoute: http.HandlerFunc(l.cancelTask),
	})
}

type listener struct{ ListenerDeps }

// errConflict ends a create-or-update attempt that lost a race.
var errConflict = errors.New("conflict")

// errBadRequest marks a failure caused by the request itself (400).
type errBadRequest struct{ err error }

func (e errBadRequest) Error() string { return e.err.Error() }
func (e errBadRequest) Unwrap() error { return e.err }

func isReceptorError(err error, name string) bool {
	return errors.Is(err, &receptor.Error{Type: name})
}

func (l *listener) desireApp(w http.ResponseWriter, r *http.Request) {
	processGuid := routes.Param(r, "process_guid")
	logger := logging.Session(l.Logger, "desire-app", "process_guid", processGuid)
	var req ccclient.DesireAppRequestFromCC
	if err := decode(r, &req); err != nil {
		logger.Error("invalid-request", "error", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if req.ProcessGuid != processGuid {
		logger.Error("process-guid-mismatch", "error", fmt.Errorf("body process_guid %q differs from the path", req.ProcessGuid))
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var err error
	for attempt := 0; attempt < desireAttempts; attempt++ {
		if err = l.createOrUpdate(r.Context(), logger, req); !errors.Is(err, errConflict) {
			break
		}
	}
	var bad errBadRequest
	switch {
	case err == nil:
		w.WriteHeader(http.StatusAccepted)
	case errors.As(err, &bad):
		logger.Error("failed-to-build-recipe", "error", err)
		w.WriteHeader(http.StatusBadRequest)
	case errors.Is(err, errConflict):
		logger.Error("conflict", "error", err)
		w.WriteHeader(http.StatusConflict)
	default:
		logger.Error("failed-to-desire", "error", err)
		w.WriteHeader(http.StatusServiceUnavailable)
	}
}

// createOrUpdate desires the app's LRP, or updates the one there.
func (l *listener) createOrUpdate(ctx context.Context, logger *slog.Logger, req ccclient.DesireAppRequestFromCC) error {
	existing, err := l.Receptor.GetDesiredLRP(ctx, req.ProcessGuid)
	switch {
	case isReceptorError(err, receptor.DesiredLRPNotFound):
		create, err := l.Recipes.BuildDesiredLRP(req)
		if err != nil {
			return errBadRequest{err}
		}
		err = l.Receptor.CreateDesiredLRP(ctx, create)
		switch {
		case err == nil:
			logger.Info("desired-lrp-created")
			return nil
		case isReceptorError(err, receptor.DesiredLRPAlreadyExists):
			return fmt.Errorf("%w: created meanwhile", errConflict)
		case isReceptorError(err, receptor.InvalidLRP), isReceptorError(err, receptor.InvalidJSON):
			return errBadRequest{err}
		}
		return fmt.Errorf("creating desired LRP: %w", err)
	case err != nil:
		return fmt.Errorf("fetching desired LRP: %w", err)
	}
	update, err := UpdateRequest(req, existing.Routes)
	if err != nil {
		return errBadRequest{err}
	}
	err = l.Receptor.UpdateDesiredLRP(ctx, req.ProcessGuid, update)
	switch {
	case err == nil:
		logger.Info("desired-lrp-updated")
		return nil
	case isReceptorError(err, receptor.ResourceConflict), isReceptorError(err, receptor.DesiredLRPNotFound):
		return fmt.Errorf("%w: %v", errConflict, err)
	case isReceptorError(err, receptor.InvalidLRP), isReceptorError(err, receptor.InvalidRequest):
		return errBadRequest{err}
	}
	return fmt.Errorf("updating desired LRP: %w", err)
}

func (l *listener) stopApp(w http.ResponseWriter, r *http.Request) {
	processGuid := routes.Param(r, "process_guid")
	logger := logging.Session(l.Logger, "stop-app", "process_guid", processGuid)
	err := l.Receptor.DeleteDesiredLRP(r.Context(), processGuid)
	switch {
	case err == nil:
		logger.Info("desired-lrp-removed")
		w.WriteHeader(http.StatusAccepted)
	case isReceptorError(err, receptor.DesiredLRPNotFound):
		logger.Info("desired-lrp-not-found")
		w.WriteHeader(http.StatusNotFound)
	default:
		logger.Error("failed-to-remove-desired-lrp", "error", err)
		w.WriteHeader(http.StatusServiceUnavailable)
	}
}

func (l *listener) killIndex(w http.ResponseWriter, r *http.Request) {
	processGuid := routes.Param(r, "process_guid")
	logger := logging.Session(l.Logger, "kill-index", "process_guid", processGuid)
	index, err := strconv.Atoi(routes.Param(r, "index"))
	if err != nil || index < 0 {
		logger.Error("invalid-index", "error", fmt.Errorf("index %q is not a non-negative integer", routes.Param(r, "index")))
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	logger = logger.With("index", index)
	err = l.Receptor.KillActualLRPByProcessGuidAndIndex(r.Context(), processGuid, index)
	switch {
	case err == nil:
		logger.Info("actual-lrp-retired")
		w.WriteHeader(http.StatusAccepted)
	case isReceptorError(err, receptor.ActualLRPIndexNotFound), isReceptorError(err, receptor.DesiredLRPNotFound):
		logger.Info("actual-lrp-not-found")
		w.WriteHeader(http.StatusNotFound)
	default:
		logger.Error("failed-to-retire-actual-lrp", "error", err)
		w.WriteHeader(http.StatusServiceUnavailable)
	}
}

func (l *listener) desireTask(w http.ResponseWriter, r *http.Request) {
	logger := logging.Session(l.Logger, "desire-task")
	var req ccclient.TaskRequestFromCC
	if err := decode(r, &req); err != nil {
		logger.Error("invalid-request", "error", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	logger = logger.With("task_guid", req.TaskGuid)
	task, err := l.Recipes.BuildTask(req)
	if err != nil {
		logger.Error("failed-to-build-task", "error", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	err = l.Receptor.CreateTask(r.Context(), task)
	switch {
	case err == nil:
		logger.Info("task-desired")
		w.WriteHeader(http.StatusAccepted)
	case isReceptorError(err, receptor.TaskGuidAlreadyExists):
		logger.Info("task-already-exists")
		w.WriteHeader(http.StatusConflict)
	case isReceptorError(err, receptor.InvalidTask), isReceptorError(err, receptor.InvalidJSON):
		logger.Error("invalid-task", "error", err)
		w.WriteHeader(http.StatusBadRequest)
	default:
		logger.Error("failed-to-desire-task", "error", err)
		w.WriteHeader(http.StatusServiceUnavailable)
	}
}

func (l *listener) cancelTask(w http.ResponseWriter, r *http.Request) {
	taskGuid := routes.Param(r, "task_guid")
	logger := logging.Session(l.Logger, "cancel-task", "task_guid", taskGuid)
	err := l.Receptor.CancelTask(r.Context(), taskGuid)
	switch {
	case err == nil:
		logger.Info("task-cancelled")
		w.WriteHeader(http.StatusAccepted)
	case isReceptorError(err, receptor.TaskNotFound):
		logger.Info("task-not-found")
		w.WriteHeader(http.StatusNotFound)
	default:
		logger.Error("failed-to-cancel-task", "error", err)
		w.WriteHeader(http.StatusServiceUnavailable)
	}
}

// decode reads a JSON body that must be a single object.
func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("reading body: %w", err)
	}
	if len(body) > maxBody {
		return fmt.Errorf("body larger than %d bytes", maxBody)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decoding body: %w", err)
	}
	return nil
}
