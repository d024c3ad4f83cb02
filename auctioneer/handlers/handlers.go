// Package handlers serves the auctioneer API (spec core §5.1): POST /v1/lrps
// and POST /v1/tasks take JSON arrays of start requests, drop the invalid
// ones, hand the rest to the auction runner and answer 202 {}.
package handlers

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"

	"diego/auctioneer"
	"diego/deploy/logging"
	"diego/deploy/routes"
)

//go:generate go tool counterfeiter -generate
//counterfeiter:generate . Runner

// Runner queues start requests for the next auction round.
type Runner interface {
	Add(lrps []auctioneer.LRPStartRequest, tasks []auctioneer.TaskStartRequest)
}

// Deps are what the API hands its auction requests to.
type Deps struct {
	Logger *slog.Logger
	Runner Runner
}

// New returns the auctioneer API's handler over runner.
func New(deps Deps) (http.Handler, error) {
	logger, runner := deps.Logger, deps.Runner
	return routes.NewRouter(auctioneer.Routes, map[string]http.Handler{
		auctioneer.CreateLRPAuctionsRoute:  &lrpHandler{logger: logger, runner: runner},
		auctioneer.CreateTaskAuctionsRoute: &taskHandler{logger: logger, runner: runner},
	})
}

type lrpHandler struct {
	logger *slog.Logger
	runner Runner
}

func (h *lrpHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	logger := logging.Session(h.logger, "lrp-auction-handler")
	var reqs []auctioneer.LRPStartRequest
	if !decode(logger, w, r, &reqs) {
		return
	}
	valid := make([]auctioneer.LRPStartRequest, 0, len(reqs))
	for i := range reqs {
		if err := reqs[i].Validate(); err != nil {
			logger.Error("start-auction-request-invalid", "process_guid", reqs[i].ProcessGuid, "error", err)
			continue
		}
		valid = append(valid, reqs[i])
	}
	if len(valid) > 0 {
		h.runner.Add(valid, nil)
	}
	logger.Info("submitted", "lrps", len(valid), "dropped", len(reqs)-len(valid))
	accepted(w)
}

type taskHandler struct {
	logger *slog.Logger
	runner Runner
}

func (h *taskHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	logger := logging.Session(h.logger, "task-auction-handler")
	var reqs []auctioneer.TaskStartRequest
	if !decode(logger, w, r, &reqs) {
		return
	}
	valid := make([]auctioneer.TaskStartRequest, 0, len(reqs))
	for i := range reqs {
		if err := reqs[i].Validate(); err != nil {
			logger.Error("start-auction-request-invalid", "task_guid", reqs[i].TaskGuid, "error", err)
			continue
		}
		valid = append(valid, reqs[i])
	}
	if len(valid) > 0 {
		h.runner.Add(nil, valid)
	}
	logger.Info("submitted", "tasks", len(valid), "dropped", len(reqs)-len(valid))
	accepted(w)
}

// decode reads the body into out, answering 500 when it cannot be read and
// 400 when it is not a JSON array of requests.
func decode(logger *slog.Logger, w http.ResponseWriter, r *http.Request, out any) bool {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		logger.Error("failed-to-read-request-body", "error", err)
		writeError(w, http.StatusInternalServerError, err)
		return false
	}
	if err := json.Unmarshal(body, out); err != nil {
		logger.Error("malformed-request", "error", err)
		writeError(w, http.StatusBadRequest, err)
		return false
	}
	return true
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

func accepted(w http.ResponseWriter) {
	writeJSON(w, http.StatusAccepted, struct{}{})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
