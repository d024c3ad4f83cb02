package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"diego/receptor"
)

// ErrSourceClosed is what Next returns after Close.
var ErrSourceClosed = errors.New("event source closed")

// EventSource reads the receptor's event stream (GET /v1/events). There is
// no replay: after losing the stream, list again and resubscribe.
type EventSource struct {
	body   io.ReadCloser
	reader *bufio.Reader
	mu     sync.Mutex
	closed bool
}

// SubscribeToEvents opens the event stream.
func (c *Client) SubscribeToEvents(ctx context.Context) (*EventSource, error) {
	httpReq, err := c.newRequest(ctx, request{route: receptor.EventStreamRoute})
	if err != nil {
		return nil, err
	}
	resp, err := c.streamHTTP.Do(httpReq)
	if err != nil {
		return nil, fmt.Errorf("receptor %s: %w", receptor.EventStreamRoute, err)
	}
	if resp.StatusCode != 200 {
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64*1024))
		if err := responseError(resp, body); err != nil {
			return nil, err
		}
	}
	return &EventSource{body: resp.Body, reader: bufio.NewReader(resp.Body)}, nil
}

// Next blocks until the next event: one of the receptor's event types, as
// a pointer (*receptor.DesiredLRPCreatedEvent, ...). It returns io.EOF when
// the server ends the stream and ErrSourceClosed after Close.
func (s *EventSource) Next() (receptor.Event, error) {
	var name, data string
	var haveData bool
	for {
		line, err := s.reader.ReadString('\n')
		if err != nil {
			if s.isClosed() {
				return nil, ErrSourceClosed
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("reading event stream: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if !haveData {
				continue
			}
			return receptor.DecodeEvent(name, []byte(data))
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			name = value
		case "data":
			if haveData {
				data += "\n"
			}
			data += value
			haveData = true
		}
	}
}

// Close ends the stream; a blocked Next returns ErrSourceClosed.
func (s *EventSource) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return s.body.Close()
}

func (s *EventSource) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
