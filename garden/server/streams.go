package server

import (
	"bytes"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"diego/deploy/clock"
	"diego/garden"
)

// The output buffering of spec cell §2.6: each Run or Attach gets a stream
// id, and its stdout and stderr go into channels of outputChunks chunks
// that the attach connections drain. A stream stays attachable for
// streamRetention after its process exits.
const (
	outputChunks    = 4000
	streamRetention = time.Minute
)

// streamRegistry holds the live streams by id.
type streamRegistry struct {
	clock  clock.Clock
	lastID atomic.Uint64

	mu      sync.Mutex
	streams map[string]*stream
	stopped chan struct{}
	stop    sync.Once
}

func newStreamRegistry(clk clock.Clock) *streamRegistry {
	return &streamRegistry{clock: clk, streams: map[string]*stream{}, stopped: make(chan struct{})}
}

// New makes a stream with the next server-wide id, not yet attachable.
func (r *streamRegistry) New() *stream {
	id := strconv.FormatUint(r.lastID.Add(1), 10)
	st := &stream{
		id:       id,
		stdout:   make(chan []byte, outputChunks),
		stderr:   make(chan []byte, outputChunks),
		exited:   make(chan struct{}),
		discard:  make(chan struct{}),
		orphaned: make(chan struct{}),
	}
	st.stdin = newStdinPipe()
	return st
}

// Register makes st attachable under its id for processID.
func (r *streamRegistry) Register(st *stream, processID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st.processID = processID
	select {
	case <-r.stopped:
		st.Discard()
		return
	default:
	}
	r.streams[st.id] = st
}

// Get finds a stream by id.
func (r *streamRegistry) Get(id string) (*stream, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.streams[id]
	return st, ok
}

// Exited marks st's process as exited: readers drain what is buffered and
// finish, and the stream is forgotten after streamRetention.
func (r *streamRegistry) Exited(st *stream) {
	st.markExited()
	timer := r.clock.NewTimer(streamRetention)
	go func() {
		select {
		case <-timer.C():
		case <-r.stopped:
			timer.Stop()
		}
		r.mu.Lock()
		if r.streams[st.id] == st {
			delete(r.streams, st.id)
		}
		r.mu.Unlock()
		st.Discard()
	}()
}

// Stop discards every stream: output written from now on is dropped, so
// processes that outlive the server never block on a full buffer.
func (r *streamRegistry) Stop() {
	r.stop.Do(func() {
		r.mu.Lock()
		close(r.stopped)
		for id, st := range r.streams {
			st.Discard()
			delete(r.streams, id)
		}
		r.mu.Unlock()
	})
}

// stream is one Run's or Attach's I/O between the backend's process and the
// client's connections.
type stream struct {
	id        string
	processID string

	stdout, stderr chan []byte
	stdin          *stdinPipe

	exited      chan struct{} // closed once Process.Wait has returned
	exitOnce    sync.Once
	discard     chan struct{} // closed when nobody can read the output any more
	discardOnce sync.Once
	orphaned    chan struct{} // closed when the main connection has ended
	orphanOnce  sync.Once
}

// ProcessIO is what the backend's process writes to and reads from.
func (st *stream) ProcessIO() garden.ProcessIO {
	return garden.ProcessIO{
		Stdin:  st.stdin.r,
		Stdout: &outputWriter{ch: st.stdout, discard: st.discard, orphaned: st.orphaned},
		Stderr: &outputWriter{ch: st.stderr, discard: st.discard, orphaned: st.orphaned},
	}
}

func (st *stream) markExited() { st.exitOnce.Do(func() { close(st.exited) }) }

// Unused releases a stream whose process never started.
func (st *stream) Unused() {
	st.stdin.Finish()
	st.stdin.Abandon()
	st.Discard()
}

// Discard drops the stream's output from now on.
func (st *stream) Discard() { st.discardOnce.Do(func() { close(st.discard) }) }

// Orphan says the client's main connection has ended: output still fills
// the buffer for a late reader, but no longer blocks the process.
func (st *stream) Orphan() { st.orphanOnce.Do(func() { close(st.orphaned) }) }

// CopyOutput writes ch's chunks to w until the process has exited and the
// buffer is empty, the stream is discarded, a write fails or gone closes.
func (st *stream) CopyOutput(ch chan []byte, w io.Writer, gone <-chan struct{}) error {
	for {
		select {
		case chunk := <-ch:
			if _, err := w.Write(chunk); err != nil {
				return err
			}
		case <-st.exited:
			// Everything the process wrote is in the buffer by now
			// (Wait returns after the output).
			for {
				select {
				case chunk := <-ch:
					if _, err := w.Write(chunk); err != nil {
						return err
					}
				default:
					return nil
				}
			}
		case <-st.discard:
			return nil
		case <-gone:
			return io.ErrClosedPipe
		}
	}
}

// outputWriter is a process's stdout or stderr: each write is one chunk in
// the stream's channel. A full channel blocks the writer (and so the
// process) while a client may still drain it; once the stream is
// discarded, or its main connection has ended, what does not fit is
// dropped, so a process never stalls for a client that has gone.
type outputWriter struct {
	ch       chan []byte
	discard  <-chan struct{}
	orphaned <-chan struct{}
}

func (w *outputWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	chunk := bytes.Clone(p)
	select {
	case w.ch <- chunk:
	case <-w.discard:
	case <-w.orphaned:
		select {
		case w.ch <- chunk:
		default:
		}
	}
	return len(p), nil
}

// stdinPipe carries the client's stdin payloads to the process. Writes go
// through a queue and a goroutine, so that a process that does not read its
// stdin holds up further stdin but not signals and tty changes, which the
// connection's reader handles itself.
type stdinPipe struct {
	r     *io.PipeReader
	w     *io.PipeWriter
	queue chan stdinOp
}

type stdinOp struct {
	data  []byte
	close bool
	err   error
}

// stdinQueue is how many stdin payloads may wait for the process.
const stdinQueue = 64

func newStdinPipe() *stdinPipe {
	pr, pw := io.Pipe()
	p := &stdinPipe{r: pr, w: pw, queue: make(chan stdinOp, stdinQueue)}
	go p.pump()
	return p
}

func (p *stdinPipe) pump() {
	for op := range p.queue {
		if op.close {
			_ = p.w.CloseWithError(op.err)
			continue
		}
		// After a close (or once the process is gone) writes fail fast.
		_, _ = p.w.Write(op.data)
	}
}

// Write queues data for the process.
func (p *stdinPipe) Write(data []byte) { p.queue <- stdinOp{data: data} }

// Close queues an end of stdin: EOF for a nil err, err otherwise.
func (p *stdinPipe) Close(err error) { p.queue <- stdinOp{close: true, err: err} }

// Finish is called once nothing more will be queued.
func (p *stdinPipe) Finish() { close(p.queue) }

// Abandon makes pending and later writes fail: the process has exited and
// nobody reads stdin any more.
func (p *stdinPipe) Abandon() { _ = p.r.CloseWithError(io.ErrClosedPipe) }
