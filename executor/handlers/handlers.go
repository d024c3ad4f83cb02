// Package handlers serves the executor API (spec cell §3.2) over the depot.
package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"diego/deploy/logging"
	"diego/deploy/routes"
	"diego/deploy/sse"
	"diego/executor"
	"diego/executor/depot"
)

// Depot is what the API needs of the registry.
type Depot interface {
	AllocateContainers(logger *slog.Logger, requests []executor.AllocationRequest) []executor.AllocationFailure
	GetContainer(guid string) (executor.Container, error)
	ListContainers(filter executor.Tags) []executor.Container
	RunContainer(logger *slog.Logger, req executor.RunRequest) error
	StopContainer(logger *slog.Logger, guid string) error
	DeleteContainer(logger *slog.Logger, guid string) error
	GetFiles(guid, source string) (io.ReadCloser, error)
	GetMetrics(guid string) (executor.ContainerMetrics, error)
	GetAllMetrics() (map[string]executor.ContainerMetrics, error)
	RemainingResources() executor.ExecutorResources
	TotalResources() executor.ExecutorResources
}

// Health answers /ping: nil while garden answers and the last garden
// health check passed.
type Health interface {
	Healthy() error
}

// maxBodyBytes bounds request bodies; a run request with large actions is
// the biggest.
const maxBodyBytes = 16 << 20

type handler struct {
	depot  Depot
	health Health
	hub    *depot.Hub
	logger *slog.Logger
}

// Deps are what the API serves from.
type Deps struct {
	Logger *slog.Logger
	Depot  Depot
	Health Health
	// Hub is the source of /events.
	Hub *depot.Hub
}

// New returns the executor API.
func New(deps Deps) (http.Handler, error) {
	logger := deps.Logger
	h := &handler{depot: deps.Depot, health: deps.Health, hub: deps.Hub, logger: logger}
	wrap := func(name string, f func(http.ResponseWriter, *http.Request, *slog.Logger)) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			l := logging.Session(logger, "executor."+name)
			f(w, r, l)
		})
	}
	return routes.NewRouter(executor.Routes, map[string]http.Handler{
		executor.PingRoute:               wrap("ping", h.ping),
		executor.EventsRoute:             wrap("events", h.events),
		executor.ListContainersRoute:     wrap("list", h.list),
		executor.AllocateContainersRoute: wrap("allocate", h.allocate),
		executor.GetContainerRoute:       wrap("get", h.get),
		executor.RunContainerRoute:       wrap("run", h.run),
		executor.StopContainerRoute:      wrap("stop", h.stop),
		executor.DeleteContainerRoute:    wrap("delete", h.delete),
		executor.GetFilesRoute:           wrap("files", h.files),
		executor.GetMetricsRoute:         wrap("metrics", h.metrics),
		executor.GetAllMetricsRoute:      wrap("all-metrics", h.allMetrics),
		executor.RemainingResourcesRoute: wrap("remaining", h.remaining),
		executor.TotalResourcesRoute:     wrap("total", h.total),
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError names the error in X-Executor-Error (spec cell §3.2); other
// errors are 500s.
func writeError(w http.ResponseWriter, l *slog.Logger, err error) {
	var e *executor.Error
	if errors.As(err, &e) {
		w.Header().Set(executor.ErrorHeader, e.Name)
	} else {
		l.Error("failed", "error", err)
	}
	writeJSON(w, executor.StatusOf(err), map[string]string{"error": err.Error()})
}

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBodyBytes))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid request body: %w", err)
	}
	return nil
}

func (h *handler) ping(w http.ResponseWriter, _ *http.Request, l *slog.Logger) {
	if err := h.health.Healthy(); err != nil {
		l.Info("unhealthy", "error", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (h *handler) list(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	filter := executor.Tags{}
	for _, tag := range r.URL.Query()["tag"] {
		k, v, ok := strings.Cut(tag, ":")
		if !ok {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("invalid tag filter %q: want key:value", tag)})
			return
		}
		filter[k] = v
	}
	writeJSON(w, http.StatusOK, h.depot.ListContainers(filter))
}

func (h *handler) allocate(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	var reqs []executor.AllocationRequest
	if err := decode(r, &reqs); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	failures := h.depot.AllocateContainers(l, reqs)
	if failures == nil {
		failures = []executor.AllocationFailure{}
	}
	writeJSON(w, http.StatusOK, failures)
}

func (h *handler) get(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	c, err := h.depot.GetContainer(routes.Param(r, "guid"))
	if err != nil {
		writeError(w, l, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (h *handler) run(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	var req executor.RunRequest
	if err := decode(r, &req); err != nil {
		writeError(w, l, fmt.Errorf("%w: %v", executor.ErrStepsInvalid, err))
		return
	}
	req.Guid = routes.Param(r, "guid")
	if err := h.depot.RunContainer(l, req); err != nil {
		writeError(w, l, err)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

func (h *handler) stop(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	if err := h.depot.StopContainer(l, routes.Param(r, "guid")); err != nil {
		writeError(w, l, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (h *handler) delete(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	if err := h.depot.DeleteContainer(l, routes.Param(r, "guid")); err != nil {
		writeError(w, l, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (h *handler) files(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	stream, err := h.depot.GetFiles(routes.Param(r, "guid"), r.URL.Query().Get("source"))
	if err != nil {
		writeError(w, l, err)
		return
	}
	defer stream.Close()
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, stream); err != nil {
		l.Info("stream-cut", "error", err)
	}
}

func (h *handler) metrics(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	m, err := h.depot.GetMetrics(routes.Param(r, "guid"))
	if err != nil {
		writeError(w, l, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

func (h *handler) allMetrics(w http.ResponseWriter, _ *http.Request, l *slog.Logger) {
	m, err := h.depot.GetAllMetrics()
	if err != nil {
		writeError(w, l, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

func (h *handler) remaining(w http.ResponseWriter, _ *http.Request, _ *slog.Logger) {
	writeJSON(w, http.StatusOK, h.depot.RemainingResources())
}

func (h *handler) total(w http.ResponseWriter, _ *http.Request, _ *slog.Logger) {
	writeJSON(w, http.StatusOK, h.depot.TotalResources())
}

// events streams container events as SSE (spec cell §3.4): ids count from
// 0 per connection, and there is no replay.
func (h *handler) events(w http.ResponseWriter, r *http.Request, l *slog.Logger) {
	// Subscribed before the headers go out: a client that acts as soon as
	// it sees them must not miss the events that follow.
	sub := h.hub.Subscribe()
	defer sub.Close()
	stream, err := sse.NewWriter(w)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case e, ok := <-sub.Events():
			if !ok {
				l.Info("subscriber-dropped")
				return
			}
			data, err := json.Marshal(e)
			if err != nil {
				l.Error("encoding-event-failed", "error", err)
				continue
			}
			if err := stream.Send(string(e.Type), data); err != nil {
				return
			}
		}
	}
}
