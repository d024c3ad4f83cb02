package client

import (
	"context"
	"fmt"
	"io"

	"diego/deploy/sse"
	"diego/receptor"
)

// ErrSourceClosed is what Next returns after Close.
var ErrSourceClosed = sse.ErrClosed

// EventSource reads the receptor's event stream (GET /v1/events). There is
// no replay: after losing the stream, list again and resubscribe.
type EventSource struct {
	stream *sse.Reader
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
		return nil, &receptor.Error{Type: receptor.InvalidResponse, Message: fmt.Sprintf("event stream answered status %d", resp.StatusCode)}
	}
	return &EventSource{stream: sse.NewReader(resp.Body)}, nil
}

// Next blocks until the next event: one of the receptor's event types, as
// a pointer (*receptor.DesiredLRPCreatedEvent, ...). It returns io.EOF when
// the server ends the stream and ErrSourceClosed after Close.
func (s *EventSource) Next() (receptor.Event, error) {
	e, err := s.stream.Next()
	if err != nil {
		return nil, err
	}
	return receptor.DecodeEvent(e.Name, []byte(e.Data))
}

// Close ends the stream; a blocked Next returns ErrSourceClosed.
func (s *EventSource) Close() error { return s.stream.Close() }
