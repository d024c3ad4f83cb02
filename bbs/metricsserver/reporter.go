package metricsserver

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	bbsclient "diego/bbs/client"
	"diego/deploy/clock"
	"diego/deploy/logging"
	"diego/deploy/routes"
	"diego/models"
)

// BBS is what a report reads (bbs/client).
type BBS interface {
	Tasks(ctx context.Context, f bbsclient.TaskFilter) ([]*models.Task, error)
	DesiredLRPSchedulingInfos(ctx context.Context, f bbsclient.DesiredLRPFilter) ([]*models.DesiredLRPSchedulingInfo, error)
	ActualLRPs(ctx context.Context, f bbsclient.ActualLRPFilter) ([]*models.ActualLRP, error)
	Domains(ctx context.Context) ([]string, error)
	Cells(ctx context.Context) ([]*models.CellPresence, error)
}

// Emitter sends gauges and durations (metron/emitter).
type Emitter interface {
	SendValue(name string, value float64, unit string)
	SendDuration(name string, d time.Duration)
}

// Reporter is the ifrit runner that reports at once and then every interval.
type Reporter struct {
	logger   *slog.Logger
	clock    clock.Clock
	bbs      BBS
	emitter  Emitter
	interval time.Duration
	timeout  time.Duration

	mu     sync.Mutex
	latest map[string]float64
}

// NewReporter reports every interval, each read bounded by timeout.
func NewReporter(cfg ReporterConfig, deps ReporterDeps) *Reporter {
	return &Reporter{logger: logging.Session(deps.Logger, "reporter"), clock: deps.Clock, bbs: deps.BBS, emitter: deps.Emitter,
		interval: cfg.Interval, timeout: cfg.Timeout, latest: map[string]float64{}}
}

// ReporterConfig times the reports: one every Interval, its reads bounded
// by Timeout.
type ReporterConfig struct {
	Interval time.Duration
	Timeout  time.Duration
}

// ReporterDeps are the reporter's collaborators.
type ReporterDeps struct {
	Logger  *slog.Logger
	Clock   clock.Clock
	BBS     BBS
	Emitter Emitter
}

func (r *Reporter) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	ticker := r.clock.NewTicker(r.interval)
	defer ticker.Stop()
	close(ready)
	r.report()
	for {
		select {
		case <-signals:
			return nil
		case <-ticker.C():
			r.report()
		}
	}
}

// report reads the BBS once, emits every figure and keeps them for the API.
func (r *Reporter) report() {
	start := r.clock.Now()
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	var s Snapshot
	s.Tasks, s.TasksErr = r.bbs.Tasks(ctx, bbsclient.TaskFilter{})
	s.SchedulingInfos, s.SchedulingInfosErr = r.bbs.DesiredLRPSchedulingInfos(ctx, bbsclient.DesiredLRPFilter{})
	s.ActualLRPs, s.ActualLRPsErr = r.bbs.ActualLRPs(ctx, bbsclient.ActualLRPFilter{})
	s.Domains, s.DomainsErr = r.bbs.Domains(ctx)
	s.Cells, s.CellsErr = r.bbs.Cells(ctx)
	for _, err := range []error{s.TasksErr, s.SchedulingInfosErr, s.ActualLRPsErr, s.DomainsErr, s.CellsErr} {
		if err != nil {
			r.logger.Error("failed-to-read", "error", err)
			break
		}
	}
	figures := Figures(s)
	for name, v := range figures {
		r.emitter.SendValue(name, v, "Metric")
	}
	d := r.clock.Since(start)
	r.emitter.SendDuration("MetricsReportingDuration", d)
	figures["MetricsReportingDuration"] = float64(d)
	r.mu.Lock()
	r.latest = figures
	r.mu.Unlock()
	r.logger.Debug("reported", "duration", d.String())
}

// Latest is a copy of the last report's figures.
func (r *Reporter) Latest() map[string]float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]float64, len(r.latest))
	for k, v := range r.latest {
		out[k] = v
	}
	return out
}

// MetricsRoute is the metrics-server's one route.
const MetricsRoute = "Metrics"

// Routes is the metrics-server's route table.
var Routes = routes.Table{{Name: MetricsRoute, Method: http.MethodGet, Path: "/v1/metrics"}}

// NewHandler serves GET /v1/metrics: {"<metric name>": <number>, …}.
func NewHandler(r *Reporter) (http.Handler, error) {
	return routes.NewRouter(Routes, map[string]http.Handler{
		MetricsRoute: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(r.Latest())
		}),
	})
}
