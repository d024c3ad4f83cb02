// Package handlers serves the rep API on one listener (spec cell §4.1,
// §7.4 item 1): GET /state, POST /work, the LRP stop and task cancel
// routes the BBS calls, GET /ping and POST /evacuate; or split, as modern
// Diego does, between an admin and a securable (mutual TLS) listener.
package handlers

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"

	"diego/deploy/logging"
	"diego/deploy/routes"
	"diego/rep"
)

//go:generate go tool counterfeiter -generate

// CellRep computes the cell's state and performs work
// (*rep/auctioncellrep.AuctionCellRep).
//
//counterfeiter:generate . CellRep
type CellRep interface {
	State(logger *slog.Logger) (rep.CellState, bool, error)
	Perform(logger *slog.Logger, work rep.Work) (rep.Work, error)
}

// ExecutorClient stops and deletes containers (*executor/client.Client).
//
//counterfeiter:generate . ExecutorClient
type ExecutorClient interface {
	StopContainer(guid string) error
	DeleteContainer(guid string) error
}

// Evacuation starts an evacuation (*rep/evacuator.Flag).
type Evacuation interface {
	Evacuate()
}

// maxWorkBytes bounds a POST /work body; an auction round sends a cell at
// most a few thousand LRPs and tasks.
const maxWorkBytes = 32 << 20

// Deps are what the handlers serve from.
type Deps struct {
	Logger     *slog.Logger
	CellRep    CellRep
	Executor   ExecutorClient
	Evacuation Evacuation
}

// New returns the rep API's handler: every route, for the one listener.
func New(deps Deps) (http.Handler, error) {
	return newRouter(deps, func(string) bool { return true })
}

// NewAdmin serves only /ping and /evacuate: the admin listener beside a
// securable one (diego-release's 127.0.0.1:1800).
func NewAdmin(deps Deps) (http.Handler, error) {
	return newRouter(deps, func(name string) bool { return name == rep.PingRoute || name == rep.EvacuateRoute })
}

// NewSecurable serves every route but /ping and /evacuate, which stay on
// the admin listener (spec cell §4.1, as Diego splits them): the one a
// remote client (auctioneer, BBS) reaches over mutual TLS.
func NewSecurable(deps Deps) (http.Handler, error) {
	return newRouter(deps, func(name string) bool { return name != rep.PingRoute && name != rep.EvacuateRoute })
}

func newRouter(deps Deps, serve func(route string) bool) (http.Handler, error) {
	var table routes.Table
	for _, r := range rep.Routes {
		if serve(r.Name) {
			table = append(table, r)
		}
	}
	all := map[string]http.Handler{
		rep.StateRoute:           &stateHandler{deps},
		rep.PerformRoute:         &performHandler{deps},
		rep.StopLRPInstanceRoute: &stopLRPHandler{deps},
		rep.CancelTaskRoute:      &cancelTaskHandler{deps},
		rep.PingRoute:            http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }),
		rep.EvacuateRoute:        &evacuateHandler{deps},
	}
	handlers := map[string]http.Handler{}
	for _, r := range table {
		handlers[r.Name] = all[r.Name]
	}
	return routes.NewRouter(table, handlers)
}

type stateHandler struct{ Deps }

// ServeHTTP answers 200 with the CellState, the same body with 503 when
// the executor is unhealthy, and 500 when the state cannot be computed.
func (h *stateHandler) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	logger := logging.Session(h.Logger, "state-handler")
	state, healthy, err := h.CellRep.State(logger)
	if err != nil {
		logger.Error("failed-to-fetch-state", "error", err)
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	status := http.StatusOK
	if !healthy {
		logger.Error("cell-not-healthy")
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, state)
}

type performHandler struct{ Deps }

// ServeHTTP answers 200 with the failed part of the work, 400 for a body
// that is not Work, and 500 when Perform fails.
func (h *performHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	logger := logging.Session(h.Logger, "auction-perform-work")
	body, err := io.ReadAll(io.LimitReader(r.Body, maxWorkBytes+1))
	if err != nil {
		logger.Error("failed-to-read-body", "error", err)
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if len(body) > maxWorkBytes {
		logger.Error("body-too-large", "limit", maxWorkBytes)
		writeError(w, http.StatusBadRequest, errBodyTooLarge)
		return
	}
	var work rep.Work
	if err := json.Unmarshal(body, &work); err != nil {
		logger.Error("failed-to-unmarshal", "error", err)
		writeError(w, http.StatusBadRequest, err)
		return
	}
	failed, err := h.CellRep.Perform(logger, work)
	if err != nil {
		logger.Error("failed-to-perform-work", "error", err)
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, failed)
}

type stopLRPHandler struct{ Deps }

// ServeHTTP stops the instance's container (its guid is the instance
// guid, spec cell §7.4 item 2): 202, or 400 without both params, or 500
// when the executor fails.
func (h *stopLRPHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	processGuid := routes.Param(r, "process_guid")
	instanceGuid := routes.Param(r, "instance_guid")
	logger := logging.Session(h.Logger, "handle-stop-lrp-instance", "process_guid", processGuid, "instance_guid", instanceGuid)
	if processGuid == "" || instanceGuid == "" {
		logger.Error("missing-param")
		writeError(w, http.StatusBadRequest, errMissingParam)
		return
	}
	if err := h.Executor.StopContainer(instanceGuid); err != nil {
		logger.Error("failed-to-stop-container", "error", err)
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	logger.Info("stopped")
	w.WriteHeader(http.StatusAccepted)
}

type cancelTaskHandler struct{ Deps }

// ServeHTTP answers 202 at once and deletes the task's container on the
// side; the task processor settles the BBS record from the events.
func (h *cancelTaskHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	taskGuid := routes.Param(r, "task_guid")
	logger := logging.Session(h.Logger, "cancel-task", "task_guid", taskGuid)
	w.WriteHeader(http.StatusAccepted)
	if taskGuid == "" {
		return
	}
	go func() {
		if err := h.Executor.DeleteContainer(taskGuid); err != nil {
			logger.Error("failed-to-delete-container", "error", err)
			return
		}
		logger.Info("deleted-container")
	}()
}

type evacuateHandler struct{ Deps }

// ServeHTTP sets the evacuation flag and tells the drain script where to
// poll until the rep exits.
func (h *evacuateHandler) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	logging.Session(h.Logger, "evacuate").Info("evacuation-requested")
	h.Evacuation.Evacuate()
	writeJSON(w, http.StatusAccepted, EvacuateResponse{PingPath: "/ping"})
}

// EvacuateResponse is POST /evacuate's body.
type EvacuateResponse struct {
	PingPath string `json:"ping_path"`
}

type handlerError string

func (e handlerError) Error() string { return string(e) }

const (
	errMissingParam handlerError = "missing process_guid or instance_guid"
	errBodyTooLarge handlerError = "request body too large"
)

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
