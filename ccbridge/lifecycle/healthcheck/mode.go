package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Modes say how often to check and when to stop. A zero interval leaves its
// mode off; with every mode off there is exactly one check.
type Modes struct {
	// StartupInterval: check until the first success, at most
	// StartupTimeout (0: no limit), then go on with the loop mode, if any.
	StartupInterval time.Duration
	StartupTimeout  time.Duration
	// LivenessInterval: the app is alive; check every interval and fail at
	// the first failed check (the executor then crashes the instance).
	LivenessInterval time.Duration
	// ReadinessInterval: the app is ready; check every interval and fail at
	// the first failed check (the executor then marks it not ready).
	ReadinessInterval time.Duration
	// UntilReadyInterval: check every interval until the first success and
	// then succeed; failures are not reported, there is no limit.
	UntilReadyInterval time.Duration
}

// Validate rejects negative durations and more than one loop mode.
func (m Modes) Validate() error {
	named := []struct {
		name string
		d    time.Duration
	}{
		{"startup-interval", m.StartupInterval}, {"startup-timeout", m.StartupTimeout},
		{"liveness-interval", m.LivenessInterval}, {"readiness-interval", m.ReadinessInterval},
		{"until-ready-interval", m.UntilReadyInterval},
	}
	loops := 0
	for _, n := range named {
		if n.d < 0 {
			return fmt.Errorf("-%s must not be negative, got %s", n.name, n.d)
		}
		if n.d > 0 && (n.name == "liveness-interval" || n.name == "readiness-interval" || n.name == "until-ready-interval") {
			loops++
		}
	}
	if loops > 1 {
		return errors.New("at most one of -liveness-interval, -readiness-interval and -until-ready-interval may be set")
	}
	return nil
}

// Run checks as m says and returns nil (exit 0) or the failure that ends it.
// A missing interface ends every mode at once: it is the container's
// configuration, and waiting does not fix it.
func Run(ctx context.Context, check func(context.Context) error, m Modes) error {
	if m.StartupInterval > 0 {
		if err := startup(ctx, check, m.StartupInterval, m.StartupTimeout); err != nil {
			return err
		}
	}
	switch {
	case m.LivenessInterval > 0:
		return whileHealthy(ctx, check, m.LivenessInterval)
	case m.ReadinessInterval > 0:
		return whileHealthy(ctx, check, m.ReadinessInterval)
	case m.UntilReadyInterval > 0:
		return untilHealthy(ctx, check, m.UntilReadyInterval)
	case m.StartupInterval > 0:
		return nil
	default:
		return check(ctx)
	}
}

// startup checks at once and then every interval until a check passes; when
// timeout (if any) runs out first, it fails with the last check's code and
// message followed by the startup failure line.
func startup(ctx context.Context, check func(context.Context) error, interval, timeout time.Duration) error {
	start := time.Now()
	for {
		err := check(ctx)
		if err == nil || Code(err) == CodeNoInterface {
			return err
		}
		wait := interval
		if timeout > 0 {
			elapsed := time.Since(start)
			if elapsed >= timeout {
				return &Error{Code: Code(err), Message: fmt.Sprintf("%s\nFailed after %s: startup health check never passed.",
					err, elapsed.Round(time.Millisecond))}
			}
			// The last check happens at the deadline, not an interval after it.
			wait = min(wait, timeout-elapsed)
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// untilHealthy checks at once and then every interval until a check passes.
func untilHealthy(ctx context.Context, check func(context.Context) error, interval time.Duration) error {
	for {
		err := check(ctx)
		if err == nil || Code(err) == CodeNoInterface {
			return err
		}
		if err := sleep(ctx, interval); err != nil {
			return err
		}
	}
}

// whileHealthy checks every interval, the first one an interval from now
// (the app was just found healthy), and returns the first failure.
func whileHealthy(ctx context.Context, check func(context.Context) error, interval time.Duration) error {
	for {
		if err := sleep(ctx, interval); err != nil {
			return err
		}
		if err := check(ctx); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
