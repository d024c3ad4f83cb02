package client

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"diego/bbs"
	"diego/models"

	"google.golang.org/protobuf/proto"
)

// ErrSourceClosed is what Next returns after Close.
var ErrSourceClosed = errors.New("event source closed")

// EventSource reads one BBS event stream (spec core §3.4). There is no
// replay: a consumer that loses its stream lists again and resubscribes.
type EventSource struct {
	body   io.ReadCloser
	reader *bufio.Reader
	mu     sync.Mutex
	closed bool
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
	return &EventSource{body: resp.Body, reader: bufio.NewReader(resp.Body)}, nil
}

// Next blocks until the next event. It returns io.EOF when the server ends
// the stream and ErrSourceClosed after Close.
func (s *EventSource) Next() (models.Event, error) {
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
			payload, err := base64.StdEncoding.DecodeString(data)
			if err != nil {
				return nil, fmt.Errorf("decoding %s event: %w", name, err)
			}
			return models.DecodeEvent(name, payload)
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
