package router

import (
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"diego/deploy/clock"
	"diego/deploy/logging"
)

// Health is what the status port's /health answers: unavailable until the
// router has waited out its start delay.
type Health struct{ ready atomic.Bool }

// Ready reports whether the router takes requests.
func (h *Health) Ready() bool { return h.ready.Load() }

// MarkReady says the router takes requests from now on.
func (h *Health) MarkReady() { h.ready.Store(true) }

// Warmup holds the router's start back: as gorouter does with
// start_response_delay_interval, once NATS is reached it waits the delay
// (the interval router.start asks emitters to register in) before it is
// ready, so the proxy, the next member, listens only with the routes the
// emitters have sent by then, instead of answering 404 unknown_route for
// live apps (decision 111).
type Warmup struct {
	logger    *slog.Logger
	clock     clock.Clock
	delay     time.Duration
	connected <-chan struct{}
	health    *Health
}

// NewWarmup waits delay after connected is closed, then marks health ready.
func NewWarmup(logger *slog.Logger, clk clock.Clock, delay time.Duration, connected <-chan struct{}, health *Health) *Warmup {
	return &Warmup{logger: logging.Session(logger, "warmup"), clock: clk, delay: delay, connected: connected, health: health}
}

// Run waits for NATS, then the delay, then is ready until signalled.
func (w *Warmup) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	select {
	case <-signals:
		return nil
	case <-w.connected:
	}
	w.logger.Info("waiting-before-listening", "delay", w.delay.String())
	timer := w.clock.NewTimer(w.delay)
	defer timer.Stop()
	select {
	case <-signals:
		return nil
	case <-timer.C():
	}
	w.health.MarkReady()
	close(ready)
	<-signals
	return nil
}
