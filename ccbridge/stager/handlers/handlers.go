// Package handlers serves the stager's API (spec bridge.md §2.2): PUT
// desires the staging task through the receptor, DELETE cancels it, and the
// task's completion callback becomes the staging response POSTed to CC.
package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"diego/ccbridge/stager"
	"diego/ccbridge/stager/recipe"
	"diego/deploy/clock"
	"diego/deploy/logging"
	"diego/deploy/routes"
	"diego/models"
	"diego/receptor"
)

// Receptor is what the stager asks of the receptor.
type Receptor interface {
	CreateTask(ctx context.Context, req receptor.TaskCreateRequest) error
	GetTask(ctx context.Context, taskGuid string) (receptor.TaskResponse, error)
	CancelTask(ctx context.Context, taskGuid string) error
}

// Metrics receives the stager's metrics (§2.5); nil sends none.
type Metrics interface {
	IncrementCounter(name string)
	SendDuration(name string, d time.Duration)
}

// Metric names, Diego's stager's.
const (
	StagingRequestsSucceeded        = "StagingRequestsSucceeded"
	StagingRequestsFailed           = "StagingRequestsFailed"
	StagingRequestSucceededDuration = "StagingRequestSucceededDuration"
	StagingRequestFailedDuration    = "StagingRequestFailedDuration"
)

// CCCompletionTimeout bounds the POST of a staging response to CC (§2.5).
const CCCompletionTimeout = 5 * time.Second

// Deps are the handlers' collaborators.
type Deps struct {
	Logger   *slog.Logger
	Clock    clock.Clock
	Receptor Receptor
	Metrics  Metrics
	// CC posts staging responses; nil means a client with the 5 s timeout.
	CC *http.Client
}

// CC says where and how staging responses go.
type CC struct {
	BaseURL            string
	Username, Password string
}

// Handler serves the staging API.
type Handler struct {
	recipe recipe.Config
	cc     CC
	deps   Deps
}

// New builds the API's router.
func New(r recipe.Config, cc CC, deps Deps) (http.Handler, error) {
	if deps.CC == nil {
		deps.CC = &http.Client{Timeout: CCCompletionTimeout}
	}
	h := &Handler{recipe: r, cc: cc, deps: deps}
	return routes.NewRouter(stager.Routes, map[string]http.Handler{
		stager.StageRoute:            http.HandlerFunc(h.stage),
		stager.StopStagingRoute:      http.HandlerFunc(h.stop),
		stager.StagingCompletedRoute: http.HandlerFunc(h.completed),
	})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if body != nil {
		_ = json.NewEncoder(w).Encode(body)
	}
}

func receptorErrorIs(err error, name string) bool {
	var re *receptor.Error
	return errors.As(err, &re) && re.Type == name
}

// stage is PUT /v1/staging/:staging_guid.
func (h *Handler) stage(w http.ResponseWriter, r *http.Request) {
	guid := routes.Param(r, stager.StagingGuidParam)
	logger := logging.Session(h.deps.Logger, "stage", "task_guid", guid)
	var req stager.StagingRequestFromCC
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		logger.Info("bad-request", "error", err)
		writeJSON(w, http.StatusBadRequest, stager.StagingResponseForCC{Error: &stager.StagingError{
			Id: stager.StagingErrorID, Message: "request body is not a staging request: " + err.Error()}})
		return
	}
	if req.Lifecycle != stager.BuildpackLifecycle {
		logger.Info("no-backend", "lifecycle", req.Lifecycle)
		writeJSON(w, http.StatusNotFound, stager.StagingResponseForCC{Error: &stager.StagingError{
			Id: stager.StagingErrorID, Message: fmt.Sprintf("no backend for lifecycle %q", req.Lifecycle)}})
		return
	}
	task, err := h.recipe.BuildTask(guid, req)
	if err != nil {
		logger.Error("recipe-building-failed", "error", err)
		e := recipe.Sanitize(err.Error())
		writeJSON(w, http.StatusInternalServerError, stager.StagingResponseForCC{Error: &e})
		return
	}
	err = h.deps.Receptor.CreateTask(r.Context(), task)
	if err != nil && !receptorErrorIs(err, receptor.TaskGuidAlreadyExists) {
		logger.Error("desire-task-failed", "error", err)
		e := recipe.Sanitize(err.Error())
		writeJSON(w, http.StatusInternalServerError, stager.StagingResponseForCC{Error: &e})
		return
	}
	logger.Info("staging-task-desired", "app_guid", req.AppId)
	w.WriteHeader(http.StatusAccepted)
}

// stop is DELETE /v1/staging/:staging_guid (§2.7).
func (h *Handler) stop(w http.ResponseWriter, r *http.Request) {
	guid := routes.Param(r, stager.StagingGuidParam)
	logger := logging.Session(h.deps.Logger, "stop-staging", "task_guid", guid)
	task, err := h.deps.Receptor.GetTask(r.Context(), guid)
	switch {
	case receptorErrorIs(err, receptor.TaskNotFound):
		w.WriteHeader(http.StatusNotFound)
		return
	case err != nil:
		logger.Error("get-task-failed", "error", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	var annotation stager.StagingTaskAnnotation
	if err := json.Unmarshal([]byte(task.Annotation), &annotation); err != nil {
		logger.Error("bad-annotation", "error", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusAccepted)
	if err := h.deps.Receptor.CancelTask(r.Context(), guid); err != nil {
		logger.Error("cancel-task-failed", "error", err)
		return
	}
	logger.Info("staging-cancelled")
}

// completed is POST /v1/staging/:staging_guid/completed, the staging
// task's completion callback (§2.5).
func (h *Handler) completed(w http.ResponseWriter, r *http.Request) {
	guid := routes.Param(r, stager.StagingGuidParam)
	logger := logging.Session(h.deps.Logger, "staging-completed", "task_guid", guid)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var cb models.TaskCallbackResponse
	if err := json.Unmarshal(body, &cb); err != nil {
		logger.Info("bad-callback", "error", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if cb.GetTaskGuid() != guid {
		logger.Info("task-guid-mismatch", "body_task_guid", cb.GetTaskGuid())
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var annotation stager.StagingTaskAnnotation
	if err := json.Unmarshal([]byte(cb.GetAnnotation()), &annotation); err != nil {
		logger.Info("bad-annotation", "error", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if annotation.Lifecycle != stager.BuildpackLifecycle {
		logger.Info("no-backend", "lifecycle", annotation.Lifecycle)
		w.WriteHeader(http.StatusNotFound)
		return
	}
	response, err := recipe.Response(&cb)
	if err != nil {
		logger.Error("bad-staging-result", "error", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	payload, err := json.Marshal(response)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	url := annotation.CompletionCallback
	if url == "" {
		url = h.cc.BaseURL + "/internal/staging/" + guid + "/completed"
	}
	status, err := h.postToCC(r.Context(), url, payload)
	if err != nil {
		logger.Error("cc-unreachable", "error", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if status != http.StatusOK {
		logger.Error("cc-refused-staging-response", "status", status)
		w.WriteHeader(status)
		return
	}
	h.record(response.Error == nil, time.Duration(h.deps.Clock.Now().UnixNano()-cb.GetCreatedAt()))
	logger.Info("staging-response-delivered", "failed", cb.GetFailed())
	w.WriteHeader(http.StatusOK)
}

// postToCC posts a staging response with the configured basic auth, which
// wins over any userinfo in url (§2.5).
func (h *Handler) postToCC(ctx context.Context, url string, payload []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if h.cc.Username != "" {
		req.SetBasicAuth(h.cc.Username, h.cc.Password)
	}
	resp, err := h.deps.CC.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func (h *Handler) record(succeeded bool, d time.Duration) {
	if h.deps.Metrics == nil {
		return
	}
	if succeeded {
		h.deps.Metrics.IncrementCounter(StagingRequestsSucceeded)
		h.deps.Metrics.SendDuration(StagingRequestSucceededDuration, d)
		return
	}
	h.deps.Metrics.IncrementCounter(StagingRequestsFailed)
	h.deps.Metrics.SendDuration(StagingRequestFailedDuration, d)
}
