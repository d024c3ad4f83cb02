package tps

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"diego/deploy/clock"
	"diego/deploy/logging"
	"diego/deploy/routes"
	"diego/receptor"
)

// Receptor is what the listener needs of the receptor's API.
type Receptor interface {
	ActualLRPsByProcessGuid(ctx context.Context, processGuid string) ([]receptor.ActualLRPResponse, error)
	GetDesiredLRP(ctx context.Context, processGuid string) (receptor.DesiredLRPResponse, error)
}

// Doppler is what the stats route needs of doppler.
type Doppler interface {
	ContainerMetrics(ctx context.Context, appID, authorization string) (map[int32]ContainerMetric, error)
}

// ListenerConfig are the listener's limits (spec bridge §4.1).
type ListenerConfig struct {
	MaxInFlightRequests int
	BulkWorkers         int
}

// ListenerDeps are the listener's collaborators.
type ListenerDeps struct {
	Logger   *slog.Logger
	Clock    clock.Clock
	Receptor Receptor
	Doppler  Doppler
}

// guidsPattern is what the bulk route accepts in ?guids=.
var guidsPattern = regexp.MustCompile(`^([A-Za-z0-9_-]+,)*[A-Za-z0-9_-]+$`)

// NewListener is the handler of the listener's routes. All routes share one
// semaphore: when it is full a request is refused with 503 at once.
func NewListener(cfg ListenerConfig, deps ListenerDeps) (http.Handler, error) {
	if cfg.MaxInFlightRequests < 1 {
		cfg.MaxInFlightRequests = 1
	}
	if cfg.BulkWorkers < 1 {
		cfg.BulkWorkers = 1
	}
	l := &listener{cfg: cfg, ListenerDeps: deps, inFlight: make(chan struct{}, cfg.MaxInFlightRequests)}
	return routes.NewRouter(Routes, map[string]http.Handler{
		LRPStatusRoute:     l.limit(http.HandlerFunc(l.status)),
		LRPStatsRoute:      l.limit(http.HandlerFunc(l.stats)),
		BulkLRPStatusRoute: l.limit(http.HandlerFunc(l.bulkStatus)),
	})
}

type listener struct {
	cfg ListenerConfig
	ListenerDeps
	inFlight chan struct{}
}

func (l *listener) limit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case l.inFlight <- struct{}{}:
			defer func() { <-l.inFlight }()
			next.ServeHTTP(w, r)
		default:
			l.Logger.Info("request-refused-too-many-in-flight", "path", r.URL.Path)
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(v)
}

func (l *listener) status(w http.ResponseWriter, r *http.Request) {
	guid := routes.Param(r, "guid")
	logger := logging.Session(l.Logger, "lrp-status", "process_guid", guid)
	actuals, err := l.Receptor.ActualLRPsByProcessGuid(r.Context(), guid)
	if err != nil {
		logger.Error("failed-to-fetch-actual-lrps", "error", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	now := l.Clock.Now()
	out := make([]LRPInstance, 0, len(actuals))
	for _, a := range actuals {
		out = append(out, Instance(a, now))
	}
	writeJSON(w, out)
}

func (l *listener) stats(w http.ResponseWriter, r *http.Request) {
	guid := routes.Param(r, "guid")
	logger := logging.Session(l.Logger, "lrp-stats", "process_guid", guid)
	authorization := r.Header.Get("Authorization")
	if authorization == "" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	desired, err := l.Receptor.GetDesiredLRP(r.Context(), guid)
	if errors.Is(err, &receptor.Error{Type: receptor.DesiredLRPNotFound}) {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if err != nil {
		logger.Error("failed-to-fetch-desired-lrp", "error", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	actuals, err := l.Receptor.ActualLRPsByProcessGuid(r.Context(), guid)
	if err != nil {
		logger.Error("failed-to-fetch-actual-lrps", "error", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	appID := desired.MetricsGuid
	if appID == "" {
		appID = desired.LogGuid
	}
	// Without metrics the CC still shows states; usage is reported as zero.
	metrics, err := l.Doppler.ContainerMetrics(r.Context(), appID, authorization)
	if err != nil {
		logger.Error("failed-to-fetch-container-metrics", "error", err)
		metrics = nil
	}
	now := l.Clock.Now()
	out := make([]LRPInstance, 0, len(actuals))
	for _, a := range actuals {
		var metric *ContainerMetric
		if m, ok := metrics[a.Index]; ok {
			metric = &m
		}
		out = append(out, StatsInstance(a, metric, now))
	}
	writeJSON(w, out)
}

func (l *listener) bulkStatus(w http.ResponseWriter, r *http.Request) {
	logger := logging.Session(l.Logger, "bulk-lrp-status")
	param := r.URL.Query().Get("guids")
	if !guidsPattern.MatchString(param) {
		logger.Error("invalid-guids", "error", errors.New("guids must be a comma-separated list of process guids"))
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	guids := strings.Split(param, ",")
	now := l.Clock.Now()
	var mu sync.Mutex
	out := make(map[string][]LRPInstance, len(guids))
	work := make(chan string)
	var wg sync.WaitGroup
	for range min(l.cfg.BulkWorkers, len(guids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for guid := range work {
				actuals, err := l.Receptor.ActualLRPsByProcessGuid(r.Context(), guid)
				if err != nil {
					logger.Error("failed-to-fetch-actual-lrps", "process_guid", guid, "error", err)
					continue
				}
				instances := make([]LRPInstance, 0, len(actuals))
				for _, a := range actuals {
					instances = append(instances, Instance(a, now))
				}
				mu.Lock()
				out[guid] = instances
				mu.Unlock()
			}
		}()
	}
	for _, g := range guids {
		work <- g
	}
	close(work)
	wg.Wait()
	writeJSON(w, out)
}
