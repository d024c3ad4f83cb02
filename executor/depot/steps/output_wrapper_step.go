package steps

import (
	"io"
	"os"
	"strings"
	"sync"

	"diego/executor/depot/log_streamer"
)

// maxCapturedOutput bounds what an OutputBuffer keeps.
const maxCapturedOutput = 10 * 1024

// OutputBuffer keeps the first 10 KiB written to it; safe for concurrent
// use.
type OutputBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *OutputBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := maxCapturedOutput - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// String is what was captured, without surrounding whitespace.
func (b *OutputBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.TrimSpace(string(b.buf))
}

// CaptureStderr is streamer with its stderr also copied into buffer, for
// a health check whose output explains its failure.
func CaptureStderr(streamer log_streamer.LogStreamer, buffer *OutputBuffer) log_streamer.LogStreamer {
	return &capturingStreamer{LogStreamer: streamer, stderr: io.MultiWriter(streamer.Stderr(), buffer)}
}

type capturingStreamer struct {
	log_streamer.LogStreamer
	stderr io.Writer
}

func (c *capturingStreamer) Stderr() io.Writer { return c.stderr }

type outputWrapperStep struct {
	inner  Step
	buffer *OutputBuffer
}

// NewOutputWrapper makes a failing inner step's message its captured
// output, when there is any (spec cell §3.8: the healthcheck binary's
// stderr says why the check failed). Interrupts pass through unchanged.
func NewOutputWrapper(inner Step, buffer *OutputBuffer) Step {
	return &outputWrapperStep{inner: inner, buffer: buffer}
}

func (s *outputWrapperStep) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	err, _ := runInner(s.inner, signals, ready)
	if err == nil || IsInterrupted(err) {
		return err
	}
	if out := s.buffer.String(); out != "" {
		return NewEmittableError(err, "%s", out)
	}
	return err
}
