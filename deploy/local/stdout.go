package local

import (
	"errors"
	"io"
	"sync/atomic"
	"syscall"
)

// BrokenPipeWriter writes to w until w's reader is gone (EPIPE), then
// drops what follows: `make run | tee run.log` loses its tee at the same
// Ctrl-C that starts the launcher's stop, and the stop must go on (and
// clean up) with nobody reading its output.
type BrokenPipeWriter struct {
	w      io.Writer
	broken atomic.Bool
}

// NewBrokenPipeWriter wraps w (the launcher's stdout).
func NewBrokenPipeWriter(w io.Writer) *BrokenPipeWriter { return &BrokenPipeWriter{w: w} }

// Write never fails once the pipe is broken: it reports p written.
func (b *BrokenPipeWriter) Write(p []byte) (int, error) {
	if b.broken.Load() {
		return len(p), nil
	}
	n, err := b.w.Write(p)
	if errors.Is(err, syscall.EPIPE) {
		b.broken.Store(true)
		return len(p), nil
	}
	return n, err
}

// Broken reports whether the reader went away.
func (b *BrokenPipeWriter) Broken() bool { return b.broken.Load() }
