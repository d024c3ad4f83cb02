// Package events fans the BBS's events out to its SSE subscribers (spec core
// §3.3, §3.4). Events enter the hub from the etcd watch (see watcher.go), so
// every BBS instance serves complete streams whatever instance made a change.
package events

import (
	"context"
	"errors"
	"sync"

	"diego/models"
)

// Stream is one of the BBS's event streams.
type Stream int

const (
	// LRPGroupStream is /v1/events*: desired events and the deprecated
	// actual_lrp_{created,changed,removed} group events, plus crashes.
	LRPGroupStream Stream = iota
	// LRPInstanceStream is /v1/events/lrp_instances*: desired events,
	// actual_lrp_instance_* events and crashes.
	LRPInstanceStream
	// TaskStream is /v1/events/tasks*.
	TaskStream
)

// SubscriberBuffer is how many events a subscriber may fall behind before it
// is dropped as a slow consumer.
const SubscriberBuffer = 1024

var (
	// ErrHubClosed is returned by Subscribe and Next once the hub is closed.
	ErrHubClosed = errors.New("event hub closed")
	// ErrSlowConsumer ends a subscription that fell SubscriberBuffer behind.
	ErrSlowConsumer = errors.New("slow consumer: dropped from the event hub")
)

// Hub delivers every emitted event to the subscriptions whose stream and
// cell filter it matches.
type Hub struct {
	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	closed bool
}

// NewHub returns an empty hub.
func NewHub() *Hub {
	return &Hub{subs: map[*Subscription]struct{}{}}
}

// Subscription is one subscriber's queue.
type Subscription struct {
	hub    *Hub
	stream Stream
	cellID string
	ch     chan models.Event
	done   chan struct{}
	once   sync.Once
	err    error // why the subscription ended; set before done closes
}

// Subscribe adds a subscriber to stream; a non-empty cellID passes only the
// actual LRP events whose before or after record is on that cell.
func (h *Hub) Subscribe(stream Stream, cellID string) (*Subscription, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrHubClosed
	}
	s := &Subscription{
		hub: h, stream: stream, cellID: cellID,
		ch:   make(chan models.Event, SubscriberBuffer),
		done: make(chan struct{}),
	}
	h.subs[s] = struct{}{}
	return s, nil
}

// SubscriberCount is how many subscriptions are open.
func (h *Hub) SubscriberCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Emit delivers e to every matching subscriber without blocking; one that
// is full is dropped. alsoCells adds cells the event concerns beyond those
// it names itself (the previous cell of an instance that moved off a cell).
func (h *Hub) Emit(e models.Event, alsoCells ...string) {
	r := route(e)
	r.cells = append(r.cells, alsoCells...)
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if !r.matches(s.stream, s.cellID) {
			continue
		}
		select {
		case s.ch <- e:
		default:
			delete(h.subs, s)
			s.end(ErrSlowConsumer)
		}
	}
}

// Close ends every subscription; later Subscribes fail.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		delete(h.subs, s)
		s.end(ErrHubClosed)
	}
}

// Next returns the next event, in emission order. It fails once the
// subscription has ended and its queue is drained, or when ctx is done.
func (s *Subscription) Next(ctx context.Context) (models.Event, error) {
	select {
	case e := <-s.ch:
		return e, nil
	default:
	}
	select {
	case e := <-s.ch:
		return e, nil
	case <-s.done:
		select {
		case e := <-s.ch:
			return e, nil
		default:
			return nil, s.err
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close removes the subscription from its hub.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	delete(s.hub.subs, s)
	s.hub.mu.Unlock()
	s.end(ErrHubClosed)
}

func (s *Subscription) end(err error) {
	s.once.Do(func() {
		s.err = err
		close(s.done)
	})
}

// routing says which streams an event belongs to and which cells it
// concerns (for cell-filtered subscriptions).
type routing struct {
	streams []Stream
	desired bool // desired events are dropped by cell-filtered streams
	cells   []string
}

func (r routing) matches(stream Stream, cellID string) bool {
	in := false
	for _, s := range r.streams {
		in = in || s == stream
	}
	if !in || cellID == "" {
		return in
	}
	if r.desired {
		return false
	}
	for _, c := range r.cells {
		if c == cellID {
			return true
		}
	}
	return false
}

func route(e models.Event) routing {
	lrpStreams := []Stream{LRPGroupStream, LRPInstanceStream}
	switch e := e.(type) {
	case *models.DesiredLRPCreatedEvent, *models.DesiredLRPChangedEvent, *models.DesiredLRPRemovedEvent:
		return routing{streams: lrpStreams, desired: true}
	case *models.ActualLRPCreatedEvent:
		return routing{streams: []Stream{LRPGroupStream}, cells: groupCells(e.GetActualLrpGroup())}
	case *models.ActualLRPChangedEvent:
		return routing{streams: []Stream{LRPGroupStream}, cells: append(groupCells(e.GetBefore()), groupCells(e.GetAfter())...)}
	case *models.ActualLRPRemovedEvent:
		return routing{streams: []Stream{LRPGroupStream}, cells: groupCells(e.GetActualLrpGroup())}
	case *models.ActualLRPCrashedEvent:
		return routing{streams: lrpStreams, cells: []string{e.GetActualLrpInstanceKey().GetCellId()}}
	case *models.ActualLRPInstanceCreatedEvent:
		return routing{streams: []Stream{LRPInstanceStream}, cells: []string{e.GetActualLrp().GetActualLrpInstanceKey().GetCellId()}}
	case *models.ActualLRPInstanceChangedEvent:
		return routing{streams: []Stream{LRPInstanceStream}, cells: []string{e.GetActualLrpInstanceKey().GetCellId()}}
	case *models.ActualLRPInstanceRemovedEvent:
		return routing{streams: []Stream{LRPInstanceStream}, cells: []string{e.GetActualLrp().GetActualLrpInstanceKey().GetCellId()}}
	case *models.TaskCreatedEvent, *models.TaskChangedEvent, *models.TaskRemovedEvent:
		return routing{streams: []Stream{TaskStream}}
	}
	return routing{}
}

func groupCells(g *models.ActualLRPGroup) []string {
	var cells []string
	for _, lrp := range []*models.ActualLRP{g.GetInstance(), g.GetEvacuating()} {
		if c := lrp.GetActualLrpInstanceKey().GetCellId(); c != "" {
			cells = append(cells, c)
		}
	}
	return cells
}
