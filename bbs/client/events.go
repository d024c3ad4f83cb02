package client

import (
	"context"
	"encoding/base64"
	"fmt"

	"diego/bbs"
	"diego/deploy/sse"
	"diego/models"

	"google.golang.org/protobuf/proto"
)

// ErrSourceClosed is what Next returns after Close.
var ErrSourceClosed = sse.ErrClosed

// EventSource reads one BBS event stream (spec core §3.4). There is no
// replay: a consumer that loses its stream lists again and resubscribes.
type EventSource struct {
	stream *sse.Reader
}

// SubscribeToEvents streams desired LRP events and the (deprecated) actual
// LRP group events.
func (c *Client) SubscribeToEvents(ctx context.Context) (*EventSource, error) {
	return c.subscribe(ctx, bbs.EventStreamRoute, nil)
}

// SubscribeToEventsByCellID streams the actual LRP group events of one cell.
func (c *Client) SubscribeToEventsByCellID(ctx context.Context, cellID string) (*EventSource, error) {
	return c.subscribe(ctx, bbs.EventStreamRoute, &models.EventsByCellId{CellId: cellID})
}

// SubscribeToInstanceEvents streams desired LRP events and actual LRP
// instance events.
func (c *Client) SubscribeToInstanceEvents(ctx context.Context) (*EventSource, error) {
	return c.subscribe(ctx, bbs.LRPInstanceEventStreamRoute, &models.EventsByCellId{})
}

// SubscribeToInstanceEventsByCellID streams the instance events of one cell.
func (c *Client) SubscribeToInstanceEventsByCellID(ctx context.Context, cellID string) (*EventSource, error) {
	return c.subscribe(ctx, bbs.LRPInstanceEventStreamRoute, &models.EventsByCellId{CellId: cellID})
}

// SubscribeToTaskEvents streams task events.
func (c *Client) SubscribeToTaskEvents(ctx context.Context) (*EventSource, error) {
	return c.subscribe(ctx, bbs.TaskEventStreamRoute, nil)
}

func (c *Client) subscribe(ctx context.Context, route string, req proto.Message) (*EventSource, error) {
	resp, err := c.send(ctx, c.streamHTTP, route, req)
	if err != nil {
		return nil, err
	}
	return &EventSource{stream: sse.NewReader(resp.Body)}, nil
}

// Next blocks until the next event. It returns io.EOF when the server ends
// the stream and ErrSourceClosed after Close.
func (s *EventSource) Next() (models.Event, error) {
	e, err := s.stream.Next()
	if err != nil {
		return nil, err
	}
	payload, err := base64.StdEncoding.DecodeString(e.Data)
	if err != nil {
		return nil, fmt.Errorf("decoding %s event: %w", e.Name, err)
	}
	return models.DecodeEvent(e.Name, payload)
}

// Close ends the stream; a blocked Next returns ErrSourceClosed.
func (s *EventSource) Close() error { return s.stream.Close() }
