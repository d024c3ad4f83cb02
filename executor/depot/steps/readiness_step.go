package steps

import (
	"fmt"
	"log/slog"
	"os"

	"diego/executor/depot/log_streamer"
)

type readinessStep struct {
	checks   []Check
	streamer log_streamer.LogStreamer
	logger   *slog.Logger
	cfg      HealthCheckConfig
	report   func(ready bool)
}

// NewReadiness runs a check_definition's readiness checks (decision 45).
// It is ready at once: readiness decides whether the instance is routable,
// not whether it runs. Until every check has passed once (made at once,
// then every StartupInterval) the instance is not ready; it then reports
// ready and repeats each check on its own Interval; the first failure
// reports not ready and starts over. It never fails: only a signal ends it.
func NewReadiness(checks []Check, streamer log_streamer.LogStreamer, logger *slog.Logger, cfg HealthCheckConfig, report func(ready bool)) Step {
	return &readinessStep{checks: checks, streamer: streamer, logger: logger.With("step", "readiness"),
		cfg: cfg.withDefaults(), report: report}
}

func (s *readinessStep) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	close(ready)
	fmt.Fprintf(s.streamer.Stdout(), "Starting readiness health monitoring of container\n")
	for {
		if _, interrupted := untilAllPass(signals, s.checks, s.cfg, s.cfg.Clock.Now(), 0); interrupted {
			return ErrCancelled
		}
		s.logger.Info("readiness-step.ready")
		fmt.Fprintf(s.streamer.Stdout(), "App is ready!\n")
		s.report(true)

		err, interrupted := untilFirstFailure(signals, s.checks, s.cfg)
		if interrupted {
			return ErrCancelled
		}
		s.logger.Info("readiness-step.not-ready", "error", err)
		fmt.Fprintf(s.streamer.Stdout(), "Oh no! The app is not ready anymore\n")
		fmt.Fprintf(s.streamer.Stderr(), "%s\n", err)
		s.report(false)
	}
}
