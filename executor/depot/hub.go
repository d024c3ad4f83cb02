package depot

import (
	"sync"

	"diego/executor"
)

// subscriberBuffer is how many events a subscriber may fall behind before
// it is dropped; the rep then resubscribes and resyncs through a list.
const subscriberBuffer = 1024

// Hub fans events out to the /events subscribers. There is no replay
// (spec cell §3.4).
type Hub struct {
	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	closed bool
}

// Subscription is one subscriber's stream.
type Subscription struct {
	hub    *Hub
	events chan executor.Event
	once   sync.Once
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{subs: map[*Subscription]struct{}{}} }

// Subscribe starts a stream of events from now on.
func (h *Hub) Subscribe() *Subscription {
	s := &Subscription{hub: h, events: make(chan executor.Event, subscriberBuffer)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(s.events)
		return s
	}
	h.subs[s] = struct{}{}
	return s
}

// Events is closed when the subscription ends.
func (s *Subscription) Events() <-chan executor.Event { return s.events }

// Close ends the subscription.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.closeLocked()
}

func (s *Subscription) closeLocked() {
	s.once.Do(func() {
		delete(s.hub.subs, s)
		close(s.events)
	})
}

// Emit sends e to every subscriber, dropping one that is too far behind.
func (h *Hub) Emit(e executor.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		select {
		case s.events <- e:
		default:
			s.closeLocked()
		}
	}
}

// Close ends every subscription, at shutdown.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		s.closeLocked()
	}
}
