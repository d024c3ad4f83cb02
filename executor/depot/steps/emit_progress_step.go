package steps

import (
	"fmt"
	"log/slog"
	"os"

	"diego/executor/depot/log_streamer"
)

type emitProgressStep struct {
	inner                                       Step
	startMessage, successMessage, failurePrefix string
	streamer                                    log_streamer.LogStreamer
	logger                                      *slog.Logger
}

// NewEmitProgress is the emit_progress action: startMessage before the
// inner step, successMessage after it succeeds, failurePrefix (with
// `: <message>` for an emittable error) after it fails. Empty messages are
// skipped; the inner error is returned unchanged.
func NewEmitProgress(inner Step, startMessage, successMessage, failurePrefix string, streamer log_streamer.LogStreamer, logger *slog.Logger) Step {
	return &emitProgressStep{
		inner: inner, startMessage: startMessage, successMessage: successMessage, failurePrefix: failurePrefix,
		streamer: streamer, logger: logger.With("step", "emit-progress"),
	}
}

func (s *emitProgressStep) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	if s.startMessage != "" {
		fmt.Fprintf(s.streamer.Stdout(), "%s\n", s.startMessage)
	}
	err, _ := runInner(s.inner, signals, ready)
	switch {
	case err != nil && s.failurePrefix != "":
		msg := s.failurePrefix
		if IsEmittable(err) {
			msg += ": " + err.Error()
		}
		fmt.Fprintf(s.streamer.Stderr(), "%s\n", msg)
	case err == nil && s.successMessage != "":
		fmt.Fprintf(s.streamer.Stdout(), "%s\n", s.successMessage)
	}
	return err
}
