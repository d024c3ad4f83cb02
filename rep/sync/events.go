package sync

import (
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"time"

	"diego/deploy/logging"
	"diego/executor"
	executorclient "diego/executor/client"
)

type nextResult struct {
	event executor.Event
	err   error
}

func (g *Generator) runEvents(signals <-chan os.Signal, ready chan<- struct{}) error {
	logger := logging.Session(g.logger, "executor-events")
	backoff := g.cfg.MinResubscribeBackoff
	resubscribing := false
	for {
		stream, err := g.events.SubscribeToEvents()
		if ready != nil {
			// After the first attempt, so that when the executor is up the
			// subscription is in place before the bulk loop's first pass.
			close(ready)
			ready = nil
		}
		if err != nil {
			logger.Error("failed-to-subscribe", "error", err, "retry_in", backoff.String())
			if !g.wait(signals, backoff) {
				return nil
			}
			backoff = min(2*backoff, g.cfg.MaxResubscribeBackoff)
			resubscribing = true
			continue
		}
		logger.Info("subscribed")
		backoff = g.cfg.MinResubscribeBackoff
		if resubscribing {
			// Events were lost while the stream was down: catch up at once.
			g.requestSync()
		}
		if stopped := g.consume(logger, signals, stream); stopped {
			return nil
		}
		logger.Error("event-stream-broke", "retry_in", backoff.String())
		resubscribing = true
		if !g.wait(signals, backoff) {
			return nil
		}
	}
}

// consume pushes a container operation per event until the stream breaks
// (false) or a signal arrives (true).
func (g *Generator) consume(logger *slog.Logger, signals <-chan os.Signal, stream EventStream) bool {
	results := make(chan nextResult)
	done := make(chan struct{})
	defer close(done)
	defer stream.Close()
	go func() {
		for {
			e, err := stream.Next()
			select {
			case results <- nextResult{e, err}:
			case <-done:
				return
			}
			if err != nil && !skippable(err) {
				return
			}
		}
	}()
	for {
		select {
		case <-signals:
			return true
		case r := <-results:
			if r.err != nil {
				if skippable(r.err) {
					logger.Error("skipping-bad-event", "error", r.err)
					continue
				}
				logger.Error("event-stream-error", "error", r.err)
				return false
			}
			guid := r.event.Container.Guid
			if guid == "" {
				continue
			}
			logger.Debug("received-event", "type", string(r.event.Type), "container_guid", guid)
			g.queue.Push(g.ContainerOperation(guid))
		}
	}
}

// skippable errors are one bad event on a working stream.
func skippable(err error) bool {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	return errors.Is(err, executorclient.ErrUnknownEvent) || errors.As(err, &syntaxErr) || errors.As(err, &typeErr)
}

// wait waits d on the clock; false when a signal came first.
func (g *Generator) wait(signals <-chan os.Signal, d time.Duration) bool {
	timer := g.clock.NewTimer(d)
	defer timer.Stop()
	select {
	case <-signals:
		return false
	case <-timer.C():
		return true
	}
}
