// Package steps runs the executor's actions (spec cell §3.6): one Step type
// per action, each in its own file. A Step is an ifrit.Runner: it closes
// ready when it is ready (a process started, a monitor healthy), and any
// signal interrupts it.
//
// Errors come in three kinds. Emittable errors carry a user-facing message
// (`Exited with status 1`, `exceeded 10s timeout`, `Downloading app
// failed`) that emit_progress and timeout may repeat. Interrupt errors
// (ErrCancelled, ErrExceededGracefulShutdownInterval) are what interrupted
// steps return; they are not displayable, so aggregates leave them out of
// their messages. Everything else is a plain error whose text is shown as
// is.
package steps

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

//go:generate go tool counterfeiter -generate

//counterfeiter:generate . Downloader
//counterfeiter:generate . Uploader

// Step is one node of a container's step tree; it has ifrit.Runner's shape.
type Step interface {
	Run(signals <-chan os.Signal, ready chan<- struct{}) error
}

// Interrupt errors: what a step returns when a signal ended it.
var (
	// ErrCancelled: the step was interrupted and stopped in time.
	ErrCancelled = errors.New("cancelled")
	// ErrExceededGracefulShutdownInterval: an interrupted process had to
	// be killed after the graceful shutdown interval.
	ErrExceededGracefulShutdownInterval = errors.New("exceeded graceful shutdown interval")
	// ErrProcessDidNotExit: an interrupted process did not exit even after
	// SIGKILL and the exit timeout.
	ErrProcessDidNotExit = errors.New("process did not exit")
)

// ErrCodependentStepExited is what a codependent member that exited
// successfully (and so ended its siblings) counts as.
var ErrCodependentStepExited = errors.New("Codependent step exited")

// EmittableError is an error whose message is meant for the app's user.
type EmittableError struct {
	msg     string
	wrapped error
}

// NewEmittableError is an emittable error with a formatted message,
// wrapping the underlying error (which may be nil).
func NewEmittableError(wrapped error, format string, args ...any) *EmittableError {
	return &EmittableError{msg: fmt.Sprintf(format, args...), wrapped: wrapped}
}

func (e *EmittableError) Error() string { return e.msg }
func (e *EmittableError) Unwrap() error { return e.wrapped }
func (e *EmittableError) emittable()    {}

type emittable interface{ emittable() }

// IsEmittable says whether err (or, for an aggregate, one of its members)
// carries a user-facing message.
func IsEmittable(err error) bool {
	var e emittable
	return errors.As(err, &e)
}

// isInterruptError: the error only says the step was interrupted. An
// emittable error or an aggregate is never one, whatever it wraps.
func isInterruptError(err error) bool {
	return isOneOf(err, ErrCancelled, ErrExceededGracefulShutdownInterval)
}

func isOneOf(err error, targets ...error) bool {
	for err != nil {
		for _, t := range targets {
			if err == t {
				return true
			}
		}
		switch err.(type) {
		case emittable, *AggregateError:
			return false
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// IsInterrupted says whether err is entirely the result of an interrupt:
// every member of an aggregate is, and any other error is one of the
// interrupt errors (or ErrProcessDidNotExit, which only follows an
// interrupt). Nil is not.
func IsInterrupted(err error) bool {
	if err == nil {
		return false
	}
	if agg, ok := err.(*AggregateError); ok {
		for _, e := range agg.errs {
			if !IsInterrupted(e) {
				return false
			}
		}
		return true
	}
	return isOneOf(err, ErrCancelled, ErrExceededGracefulShutdownInterval, ErrProcessDidNotExit)
}

// AggregateError is the result of parallel and codependent steps: the
// errors of their failed members, in member order.
type AggregateError struct {
	errs []error
}

// NewAggregateError aggregates the non-nil errs; nil when there are none.
func NewAggregateError(errs ...error) error {
	var kept []error
	for _, e := range errs {
		if e != nil {
			kept = append(kept, e)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	return &AggregateError{errs: kept}
}

// Errors are the aggregated errors.
func (a *AggregateError) Errors() []error { return append([]error(nil), a.errs...) }

func (a *AggregateError) Unwrap() []error { return a.errs }

// Error joins the displayable members' messages with "; ". When no member
// is displayable (every one was interrupted) it is the first member's
// message.
func (a *AggregateError) Error() string {
	if msg := a.displayable(); msg != "" {
		return msg
	}
	return a.errs[0].Error()
}

func (a *AggregateError) displayable() string {
	var parts []string
	for _, e := range a.errs {
		inner, isAggregate := e.(*AggregateError)
		switch {
		case isAggregate:
			if msg := inner.displayable(); msg != "" {
				parts = append(parts, msg)
			}
		case isInterruptError(e):
		default:
			parts = append(parts, e.Error())
		}
	}
	return strings.Join(parts, "; ")
}

// Limiter bounds how many steps of a kind run at once (downloads, uploads,
// health checks). A nil Limiter does not limit.
type Limiter chan struct{}

// NewLimiter allows n at once (n ≤ 0: no limit).
func NewLimiter(n int) Limiter {
	if n <= 0 {
		return nil
	}
	return make(Limiter, n)
}

// acquire waits for a slot or a signal; false means a signal came first.
func (l Limiter) acquire(signals <-chan os.Signal) bool {
	if l == nil {
		return true
	}
	select {
	case l <- struct{}{}:
		return true
	case <-signals:
		return false
	}
}

func (l Limiter) release() {
	if l != nil {
		<-l
	}
}

// running is a started child step.
type running struct {
	signals chan os.Signal
	ready   chan struct{}
	done    chan struct{}
	err     error
}

func start(s Step) *running {
	r := &running{signals: make(chan os.Signal, 1), ready: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = s.Run(r.signals, r.ready)
	}()
	return r
}

// interrupt passes a signal on; one pending signal is enough.
func (r *running) interrupt(sig os.Signal) {
	select {
	case r.signals <- sig:
	default:
	}
}

// runInner runs inner in place of the calling step: its readiness is the
// caller's, signals are passed on. interrupted says whether a signal came.
func runInner(inner Step, signals <-chan os.Signal, ready chan<- struct{}) (err error, interrupted bool) {
	c := start(inner)
	childReady := c.ready
	for {
		select {
		case <-childReady:
			close(ready)
			childReady = nil
		case <-c.done:
			return c.err, interrupted
		case sig := <-signals:
			interrupted = true
			c.interrupt(sig)
		}
	}
}

// HumanSize renders a byte count as 12B, 1K, 1.5M, 2G: the size in the
// "Downloaded <artifact> (<size>)" lines, for download actions and cached
// dependencies alike.
func HumanSize(n int64) string {
	units := []struct {
		suffix string
		size   float64
	}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}}
	for _, u := range units {
		if float64(n) >= u.size {
			s := fmt.Sprintf("%.1f", float64(n)/u.size)
			return strings.TrimSuffix(s, ".0") + u.suffix
		}
	}
	return fmt.Sprintf("%dB", n)
}

// truncateMessage cuts a message for the app log at max bytes (on a rune
// boundary) and says so.
func truncateMessage(msg string, max int) string {
	if len(msg) <= max {
		return msg
	}
	cut := max
	for cut > 0 && !isRuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + " (error truncated)"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
