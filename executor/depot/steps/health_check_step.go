package steps

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"diego/deploy/clock"
	"diego/executor/depot/log_streamer"
)

// Probe is one declarative check of a container (spec core §1.8): a TCP
// connect or an HTTP GET. It returns nil when the check passes, else an
// error whose text is what the healthcheck binary would print.
type Probe interface {
	Check(ctx context.Context) error
}

// Check is a probe and how often the liveness and readiness phases repeat it.
type Check struct {
	Probe    Probe
	Interval time.Duration
}

// HealthCheckConfig times the declarative health-check steps.
type HealthCheckConfig struct {
	Clock clock.Clock
	// StartTimeout bounds the startup phase (0: no bound).
	StartTimeout time.Duration
	// StartupInterval paces the startup (and until-ready) checks: the
	// unhealthy monitoring interval.
	StartupInterval time.Duration
	// Limiter is the health-check work pool shared by every container.
	Limiter Limiter
}

func (c HealthCheckConfig) withDefaults() HealthCheckConfig {
	if c.Clock == nil {
		c.Clock = clock.NewClock()
	}
	if c.StartupInterval <= 0 {
		c.StartupInterval = DefaultUnhealthyMonitoringInterval
	}
	return c
}

type healthCheckStep struct {
	checks         []Check
	streamer       log_streamer.LogStreamer
	healthStreamer log_streamer.LogStreamer
	logger         *slog.Logger
	cfg            HealthCheckConfig
}

// NewHealthCheck runs a check_definition's checks in place of the monitor
// action (spec cell §3.8's phases, with Diego's startup and liveness
// checks; decision 45). Startup: every check is made at once and then every
// StartupInterval until each has passed once; then `Container became
// healthy` and ready. A startup that outlasts StartTimeout fails with
// `Instance never healthy after <d>: <err>`. Liveness: each check every
// its own Interval; the first failure ends the step with `Instance became
// unhealthy: <err>`. streamer is the app log; healthStreamer the checks'
// log source (HEALTH unless the definition names another).
func NewHealthCheck(checks []Check, streamer, healthStreamer log_streamer.LogStreamer, logger *slog.Logger, cfg HealthCheckConfig) Step {
	return &healthCheckStep{checks: checks, streamer: streamer, healthStreamer: healthStreamer,
		logger: logger.With("step", "health-check"), cfg: cfg.withDefaults()}
}

func (s *healthCheckStep) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	fmt.Fprintf(s.streamer.Stdout(), "Starting health monitoring of container\n")
	startedAt := s.cfg.Clock.Now()
	err, interrupted := untilAllPass(signals, s.checks, s.cfg, startedAt, s.cfg.StartTimeout)
	if interrupted {
		return ErrCancelled
	}
	if err != nil {
		elapsed := s.cfg.Clock.Since(startedAt)
		s.logger.Info("health-check-step.never-healthy", "elapsed", elapsed.String(), "error", err)
		fmt.Fprintf(s.healthStreamer.Stderr(), "%s\n", err)
		fmt.Fprintf(s.streamer.Stderr(), "Failed after %s: startup health check never passed.\n", elapsed)
		return NewEmittableError(err, "Instance never healthy after %s: %s", elapsed, err.Error())
	}
	s.logger.Info("health-check-step.healthy")
	fmt.Fprintf(s.streamer.Stdout(), "Container became healthy\n")
	close(ready)

	err, interrupted = untilFirstFailure(signals, s.checks, s.cfg)
	if interrupted {
		return ErrCancelled
	}
	s.logger.Info("health-check-step.unhealthy", "error", err)
	fmt.Fprintf(s.healthStreamer.Stderr(), "%s\n", err)
	fmt.Fprintf(s.streamer.Stdout(), "Container became unhealthy\n")
	return NewEmittableError(err, "Instance became unhealthy: %s", err.Error())
}

// untilAllPass makes every check at once and then every StartupInterval
// until each has passed once. With a deadline (> 0), it gives up once that
// long has passed since startedAt and returns the last failure.
func untilAllPass(signals <-chan os.Signal, checks []Check, cfg HealthCheckConfig, startedAt time.Time, deadline time.Duration) (err error, interrupted bool) {
	pending := append([]Check(nil), checks...)
	timer := cfg.Clock.NewTimer(cfg.StartupInterval)
	defer timer.Stop()
	for {
		var failed []Check
		var lastErr error
		for _, c := range pending {
			err, interrupted := probeOnce(signals, c.Probe, cfg.Limiter)
			if interrupted {
				return nil, true
			}
			if err != nil {
				failed, lastErr = append(failed, c), err
			}
		}
		if len(failed) == 0 {
			return nil, false
		}
		pending = failed
		if deadline > 0 && cfg.Clock.Since(startedAt) >= deadline {
			return lastErr, false
		}
		timer.Reset(cfg.StartupInterval)
		select {
		case <-signals:
			return nil, true
		case <-timer.C():
		}
	}
}

// untilFirstFailure repeats each check on its own interval, the first an
// interval from now (the checks have just passed), and returns the first
// failure.
func untilFirstFailure(signals <-chan os.Signal, checks []Check, cfg HealthCheckConfig) (err error, interrupted bool) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	failures := make(chan error, len(checks))
	for _, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			interval := c.Interval
			if interval <= 0 {
				interval = DefaultHealthyMonitoringInterval
			}
			timer := cfg.Clock.NewTimer(interval)
			defer timer.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-timer.C():
				}
				if err := probeWithContext(ctx, c.Probe, cfg.Limiter); err != nil {
					if ctx.Err() == nil {
						failures <- err
					}
					return
				}
				timer.Reset(interval)
			}
		}()
	}
	defer func() {
		cancel()
		wg.Wait()
	}()
	select {
	case err := <-failures:
		return err, false
	case <-signals:
		return nil, true
	}
}

// probeOnce runs one probe in the work pool; a signal cancels it.
func probeOnce(signals <-chan os.Signal, p Probe, limiter Limiter) (err error, interrupted bool) {
	if !limiter.acquire(signals) {
		return nil, true
	}
	defer limiter.release()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Check(ctx) }()
	select {
	case err := <-done:
		return err, false
	case <-signals:
		cancel()
		<-done
		return nil, true
	}
}

// probeWithContext runs one probe in the work pool until ctx ends.
func probeWithContext(ctx context.Context, p Probe, limiter Limiter) error {
	if limiter != nil {
		select {
		case limiter <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		defer limiter.release()
	}
	return p.Check(ctx)
}
