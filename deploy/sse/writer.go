package sse

import (
	"errors"
	"fmt"
	"net/http"
)

// Writer writes a server-sent event stream: the headers the BBS, the
// receptor and the executor all send, then events with ids counting from 0
// per connection, each flushed at once.
type Writer struct {
	w       http.ResponseWriter
	flusher http.Flusher
	id      int
}

// ErrCannotFlush is NewWriter's answer for a response that cannot stream.
var ErrCannotFlush = errors.New("streaming events: the response writer cannot flush")

// NewWriter starts the stream: 200 with the event-stream headers.
func NewWriter(w http.ResponseWriter) (*Writer, error) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		return nil, ErrCannotFlush
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Connection", "keep-alive")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	return &Writer{w: w, flusher: flusher}, nil
}

// Send writes one event; an error means the client is gone.
func (s *Writer) Send(name string, data []byte) error {
	if _, err := fmt.Fprintf(s.w, "id: %d\nevent: %s\ndata: %s\n\n", s.id, name, data); err != nil {
		return err
	}
	s.flusher.Flush()
	s.id++
	return nil
}
