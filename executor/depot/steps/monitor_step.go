package steps

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"diego/deploy/clock"
	"diego/executor/depot/log_streamer"
)

// Monitor defaults (spec cell §3.8, §7.1).
const (
	DefaultHealthyMonitoringInterval   = 30 * time.Second
	DefaultUnhealthyMonitoringInterval = 500 * time.Millisecond
)

// MonitorConfig times a monitor step.
type MonitorConfig struct {
	Clock clock.Clock
	// StartTimeout is how long the startup phase may last (0: forever).
	StartTimeout time.Duration
	// UnhealthyInterval paces checks until the first success,
	// HealthyInterval after it.
	HealthyInterval, UnhealthyInterval time.Duration
	// Limiter is the health-check work pool shared by every container.
	Limiter Limiter
}

type monitorStep struct {
	newCheck func() Step
	streamer log_streamer.LogStreamer
	logger   *slog.Logger
	cfg      MonitorConfig
}

// NewMonitor is the health monitor built from the monitor action
// (spec cell §3.8). newCheck builds one check (a fresh step each time).
// Checks run every UnhealthyInterval, the first after one interval, until
// one succeeds: the monitor then says `Container became healthy`, closes
// ready, and checks every HealthyInterval until the first failure, which
// ends it with `Instance became unhealthy: <err>`. A startup that outlasts
// StartTimeout ends it with `Instance never healthy after <d>: <err>`.
func NewMonitor(newCheck func() Step, streamer log_streamer.LogStreamer, logger *slog.Logger, cfg MonitorConfig) Step {
	if cfg.Clock == nil {
		cfg.Clock = clock.NewClock()
	}
	if cfg.HealthyInterval <= 0 {
		cfg.HealthyInterval = DefaultHealthyMonitoringInterval
	}
	if cfg.UnhealthyInterval <= 0 {
		cfg.UnhealthyInterval = DefaultUnhealthyMonitoringInterval
	}
	return &monitorStep{newCheck: newCheck, streamer: streamer, logger: logger.With("step", "monitor"), cfg: cfg}
}

func (s *monitorStep) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	startedAt := s.cfg.Clock.Now()
	fmt.Fprintf(s.streamer.Stdout(), "Starting health monitoring of container\n")

	timer := s.cfg.Clock.NewTimer(s.cfg.UnhealthyInterval)
	defer timer.Stop()

	for {
		select {
		case <-signals:
			return ErrCancelled
		case <-timer.C():
		}
		err, interrupted := s.check(signals)
		if interrupted {
			return ErrCancelled
		}
		if err == nil {
			break
		}
		s.logger.Debug("monitor-step.startup-check-failed", "error", err)
		if s.cfg.StartTimeout > 0 {
			if elapsed := s.cfg.Clock.Since(startedAt); elapsed >= s.cfg.StartTimeout {
				s.logger.Info("monitor-step.never-healthy", "elapsed", elapsed.String(), "error", err)
				fmt.Fprintf(s.streamer.Stderr(), "Failed after %s: startup health check never passed.\n", elapsed)
				return NewEmittableError(err, "Instance never healthy after %s: %s", elapsed, err.Error())
			}
		}
		timer.Reset(s.cfg.UnhealthyInterval)
	}

	s.logger.Info("monitor-step.healthy")
	fmt.Fprintf(s.streamer.Stdout(), "Container became healthy\n")
	close(ready)

	for {
		timer.Reset(s.cfg.HealthyInterval)
		select {
		case <-signals:
			return ErrCancelled
		case <-timer.C():
		}
		err, interrupted := s.check(signals)
		if interrupted {
			return ErrCancelled
		}
		if err != nil {
			s.logger.Info("monitor-step.unhealthy", "error", err)
			fmt.Fprintf(s.streamer.Stderr(), "Container became unhealthy\n")
			return NewEmittableError(err, "Instance became unhealthy: %s", err.Error())
		}
	}
}

// check runs one health check in the work pool. interrupted means a signal
// came first (the check, if started, has been interrupted and waited for).
func (s *monitorStep) check(signals <-chan os.Signal) (err error, interrupted bool) {
	if !s.cfg.Limiter.acquire(signals) {
		return nil, true
	}
	defer s.cfg.Limiter.release()
	c := start(s.newCheck())
	select {
	case <-c.done:
		return c.err, false
	case sig := <-signals:
		c.interrupt(sig)
		<-c.done
		return nil, true
	}
}
