package steps

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"diego/deploy/clock"
)

// TimeoutError is a timeout action whose inner step outlived it.
type TimeoutError struct {
	Timeout time.Duration
	// Inner is what the interrupted inner step returned.
	Inner error
}

// Error is `exceeded <d> timeout`, plus `; <inner message>` when the inner
// error is emittable.
func (e *TimeoutError) Error() string {
	msg := fmt.Sprintf("exceeded %s timeout", e.Timeout)
	if e.Inner != nil && IsEmittable(e.Inner) {
		msg += "; " + e.Inner.Error()
	}
	return msg
}

func (e *TimeoutError) emittable() {}

type timeoutStep struct {
	inner   Step
	timeout time.Duration
	clock   clock.Clock
	logger  *slog.Logger
}

// NewTimeout is the timeout action: the inner step is interrupted when it
// has not finished after timeout, and the step then fails with a
// TimeoutError. Readiness is the inner step's.
func NewTimeout(inner Step, timeout time.Duration, clk clock.Clock, logger *slog.Logger) Step {
	if clk == nil {
		clk = clock.NewClock()
	}
	return &timeoutStep{inner: inner, timeout: timeout, clock: clk, logger: logger.With("step", "timeout", "timeout", timeout.String())}
}

func (s *timeoutStep) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	c := start(s.inner)
	timer := s.clock.NewTimer(s.timeout)
	defer timer.Stop()
	timerC := timer.C()
	childReady := c.ready
	interrupted := false
	for {
		select {
		case <-childReady:
			close(ready)
			childReady = nil
		case <-c.done:
			if c.err == nil && interrupted {
				return ErrCancelled
			}
			return c.err
		case sig := <-signals:
			interrupted = true
			timerC = nil
			c.interrupt(sig)
		case <-timerC:
			s.logger.Info("timeout-step.timed-out")
			c.interrupt(os.Interrupt)
			<-c.done
			return &TimeoutError{Timeout: s.timeout, Inner: c.err}
		}
	}
}
