package steps

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"diego/executor/depot/log_streamer"
)

// transfer is what download and upload share: a slot from the cell-wide
// limiter, the "<verb> <artifact>..." and "<past> <artifact> (<size>)"
// lines, and perform run until it ends or a signal cancels it.
func transfer(signals <-chan os.Signal, limiter Limiter, streamer log_streamer.LogStreamer, logger *slog.Logger,
	artifact, verb, past string, perform func(context.Context) (int64, error)) error {
	if !limiter.acquire(signals) {
		return ErrCancelled
	}
	defer limiter.release()

	if artifact != "" {
		fmt.Fprintf(streamer.Stdout(), "%s %s...\n", verb, artifact)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		size int64
		err  error
	}
	done := make(chan result, 1)
	go func() {
		size, err := perform(ctx)
		done <- result{size, err}
	}()

	var r result
	select {
	case r = <-done:
	case <-signals:
		logger.Info("cancelled")
		cancel()
		<-done
		return ErrCancelled
	}
	if r.err != nil {
		if ctx.Err() != nil {
			return ErrCancelled
		}
		return r.err
	}
	if artifact != "" {
		fmt.Fprintf(streamer.Stdout(), "%s %s (%s)\n", past, artifact, HumanSize(r.size))
	}
	return nil
}
