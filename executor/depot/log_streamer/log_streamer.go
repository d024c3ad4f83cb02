// Package log_streamer turns a container's process output into app log
// messages for metron (spec cell §3.9): one streamer per container, keyed by
// the log_guid, each line one LogMessage tagged with a source type and the
// instance index.
package log_streamer

import (
	"io"
	"strconv"
	"sync"
	"unicode/utf8"
)

//go:generate go tool counterfeiter -generate

//counterfeiter:generate . LogStreamer

// MaxMessageSize is the longest message sent; longer lines are cut into
// chunks at rune boundaries (the modern MAX_MESSAGE_SIZE, spec cell §7.1).
const MaxMessageSize = 61440

// DefaultSourceType is the source type when neither the action nor the
// container names one.
const DefaultSourceType = "LOG"

// LogEmitter is what the streamer needs of the metron emitter
// (diego/metron/emitter.Emitter satisfies it).
type LogEmitter interface {
	SendAppLog(appID, message, sourceType, sourceInstance string)
	SendAppErrorLog(appID, message, sourceType, sourceInstance string)
}

// LogStreamer is a container's log sink.
type LogStreamer interface {
	// Stdout and Stderr take process output: each line (split at \n and
	// \r, empty lines dropped) becomes one OUT or ERR message. A partial
	// line waits for its end or for Flush.
	Stdout() io.Writer
	Stderr() io.Writer
	// Flush sends any partial lines.
	Flush()
	// WithSource is a streamer for the same app and instance with its
	// own line buffers, under source (the current source when empty).
	WithSource(source string) LogStreamer
	// SourceName is the source type messages are sent with.
	SourceName() string
	// Log and LogError send the cell's own lifecycle lines (spec cell
	// §3.3) at once, as OUT and ERR, without touching the line buffers.
	Log(message string)
	LogError(message string)
}

// New is the streamer for one container: guid is log_config.guid (empty
// means no logs at all), sourceName log_config.source_name (empty means
// LOG), index log_config.index.
func New(guid, sourceName string, index int, emitter LogEmitter) LogStreamer {
	if guid == "" || emitter == nil {
		return NewNoop()
	}
	if sourceName == "" {
		sourceName = DefaultSourceType
	}
	return newStreamer(guid, sourceName, strconv.Itoa(index), emitter)
}

type streamer struct {
	guid, source, instance string
	emitter                LogEmitter
	stdout, stderr         *destination
}

func newStreamer(guid, source, instance string, emitter LogEmitter) *streamer {
	s := &streamer{guid: guid, source: source, instance: instance, emitter: emitter}
	s.stdout = &destination{send: func(m string) { emitter.SendAppLog(guid, m, source, instance) }}
	s.stderr = &destination{send: func(m string) { emitter.SendAppErrorLog(guid, m, source, instance) }}
	return s
}

func (s *streamer) Stdout() io.Writer  { return s.stdout }
func (s *streamer) Stderr() io.Writer  { return s.stderr }
func (s *streamer) SourceName() string { return s.source }

func (s *streamer) Flush() {
	s.stdout.flush()
	s.stderr.flush()
}

func (s *streamer) WithSource(source string) LogStreamer {
	if source == "" {
		source = s.source
	}
	return newStreamer(s.guid, source, s.instance, s.emitter)
}

func (s *streamer) Log(message string)      { sendLines(message, s.stdout.send) }
func (s *streamer) LogError(message string) { sendLines(message, s.stderr.send) }

// sendLines sends every line of message, the last one even without its end.
func sendLines(message string, send func(string)) {
	d := &destination{send: send}
	_, _ = d.Write([]byte(message))
	d.flush()
}

// destination is one stream's line buffer.
type destination struct {
	send func(string)

	mu     sync.Mutex
	buffer []byte
}

func (d *destination) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, b := range p {
		if b == '\n' || b == '\r' {
			d.sendLocked()
			continue
		}
		d.buffer = append(d.buffer, b)
		// A line longer than a message goes out in chunks as it comes,
		// which keeps the buffer bounded and gives the same chunks as
		// cutting the whole line would.
		for len(d.buffer) > MaxMessageSize {
			cut := runeCut(d.buffer, MaxMessageSize)
			d.send(string(d.buffer[:cut]))
			d.buffer = append(d.buffer[:0], d.buffer[cut:]...)
		}
	}
	return len(p), nil
}

func (d *destination) flush() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sendLocked()
}

// sendLocked sends the buffered line in chunks; an empty line is dropped.
func (d *destination) sendLocked() {
	rest := d.buffer
	for len(rest) > 0 {
		cut := runeCut(rest, MaxMessageSize)
		d.send(string(rest[:cut]))
		rest = rest[cut:]
	}
	d.buffer = d.buffer[:0]
}

// runeCut is the largest n ≤ max at which b can be cut without splitting a
// UTF-8 rune (max itself when b is not valid UTF-8 there).
func runeCut(b []byte, max int) int {
	if len(b) <= max {
		return len(b)
	}
	for n := max; n > 0 && n > max-utf8.UTFMax; n-- {
		if utf8.RuneStart(b[n]) {
			return n
		}
	}
	return max
}

// NewNoop is a streamer that drops everything (a container without a
// log_guid).
func NewNoop() LogStreamer { return noop{} }

type noop struct{}

func (noop) Stdout() io.Writer               { return io.Discard }
func (noop) Stderr() io.Writer               { return io.Discard }
func (noop) Flush()                          {}
func (n noop) WithSource(string) LogStreamer { return n }
func (noop) SourceName() string              { return DefaultSourceType }
func (noop) Log(string)                      {}
func (noop) LogError(string)                 {}
