package steps

import (
	"log/slog"
	"os"
)

type tryStep struct {
	inner  Step
	logger *slog.Logger
}

// NewTry is the try action: the inner step's failure is logged and
// swallowed. Signals pass through; the result is still success.
func NewTry(inner Step, logger *slog.Logger) Step {
	return &tryStep{inner: inner, logger: logger.With("step", "try")}
}

func (s *tryStep) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	if err, _ := runInner(s.inner, signals, ready); err != nil {
		s.logger.Info("try-step.failed", "error", err)
	}
	return nil
}
