// Package sse reads server-sent event streams: the BBS and the receptor both
// stream events this way, and their clients share this reader.
package sse

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// ErrClosed is what Next returns after Close.
var ErrClosed = errors.New("event source closed")

// Event is one event: its name (the `event:` field) and its data (every
// `data:` line, joined with newlines).
type Event struct {
	Name, Data string
}

// Reader reads events from a stream body.
type Reader struct {
	body   io.ReadCloser
	lines  *bufio.Reader
	mu     sync.Mutex
	closed bool
}

// NewReader reads body.
func NewReader(body io.ReadCloser) *Reader {
	return &Reader{body: body, lines: bufio.NewReader(body)}
}

// Next blocks until the next event. It returns io.EOF when the server ends
// the stream and ErrClosed after Close. Comments and id fields are skipped.
func (r *Reader) Next() (Event, error) {
	var e Event
	var haveData bool
	for {
		line, err := r.lines.ReadString('\n')
		if err != nil {
			if r.isClosed() {
				return Event{}, ErrClosed
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return Event{}, io.EOF
			}
			return Event{}, fmt.Errorf("reading event stream: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if haveData {
				return e, nil
			}
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			e.Name = value
		case "data":
			if haveData {
				e.Data += "\n"
			}
			e.Data += value
			haveData = true
		}
	}
}

// Close ends the stream; a blocked Next returns ErrClosed.
func (r *Reader) Close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	return r.body.Close()
}

func (r *Reader) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}
