package doppler

import (
	"encoding/binary"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"diego/deploy/clock"
	"diego/metron/events"
)

// subscriberBuffer is how many messages a websocket consumer may fall
// behind before it starts skipping them.
const subscriberBuffer = 1024

// message is one envelope and its encoding (encoded once, sent to many).
type message struct {
	env *events.Envelope
	raw []byte
}

// subscriber is one stream consumer of an app.
type subscriber struct {
	ch      chan message
	skipped atomic.Uint64
}

type metricEntry struct {
	msg message
	at  time.Time
}

// Store keeps the recent logs of each app, the latest container metric of
// each instance, and the stream subscribers; it is shared by the UDP ingest
// and the HTTP handlers. Ingestion never waits on a subscriber.
type Store struct {
	clock      clock.Clock
	maxLogs    int
	metricTTL  time.Duration
	mu         sync.Mutex
	logs       map[string][]message // a ring per app: oldest first once full (see recent)
	logNext    map[string]int
	metrics    map[string]map[int32]metricEntry
	subs       map[string]map[*subscriber]struct{}
	slowSkips  atomic.Uint64
	lastExpiry time.Time
}

// NewStore keeps maxLogs logs per app and metrics for metricTTL.
func NewStore(clk clock.Clock, maxLogs int, metricTTL time.Duration) *Store {
	return &Store{
		clock: clk, maxLogs: maxLogs, metricTTL: metricTTL,
		logs: map[string][]message{}, logNext: map[string]int{},
		metrics: map[string]map[int32]metricEntry{}, subs: map[string]map[*subscriber]struct{}{},
	}
}

// AppID is the app an envelope belongs to ("" for none): a log's app_id, a
// container metric's applicationId, an HTTP event's applicationId as a guid.
func AppID(env *events.Envelope) string {
	switch env.GetEventType() {
	case events.Envelope_LogMessage:
		return env.GetLogMessage().GetAppId()
	case events.Envelope_ContainerMetric:
		return env.GetContainerMetric().GetApplicationId()
	case events.Envelope_HttpStartStop:
		if id := env.GetHttpStartStop().GetApplicationId(); id != nil {
			return FormatUUID(id)
		}
	}
	return ""
}

// FormatUUID writes a dropsonde UUID as a guid (low then high, each
// little-endian, as dropsonde's factories build it).
func FormatUUID(id *events.UUID) string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], id.GetLow())
	binary.LittleEndian.PutUint64(b[8:], id.GetHigh())
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Add keeps and fans out one envelope.
func (s *Store) Add(env *events.Envelope, raw []byte) {
	app := AppID(env)
	if app == "" {
		return
	}
	m := message{env: env, raw: raw}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch env.GetEventType() {
	case events.Envelope_LogMessage:
		ring := s.logs[app]
		if len(ring) < s.maxLogs {
			s.logs[app] = append(ring, m)
		} else {
			ring[s.logNext[app]] = m
			s.logNext[app] = (s.logNext[app] + 1) % s.maxLogs
		}
	case events.Envelope_ContainerMetric:
		byIndex := s.metrics[app]
		if byIndex == nil {
			byIndex = map[int32]metricEntry{}
			s.metrics[app] = byIndex
		}
		byIndex[env.GetContainerMetric().GetInstanceIndex()] = metricEntry{msg: m, at: s.clock.Now()}
		s.expireLocked()
	}
	for sub := range s.subs[app] {
		select {
		case sub.ch <- m:
		default:
			sub.skipped.Add(1)
			s.slowSkips.Add(1)
		}
	}
}

// expireLocked drops metrics older than the TTL, at most once a second.
func (s *Store) expireLocked() {
	now := s.clock.Now()
	if now.Sub(s.lastExpiry) < time.Second {
		return
	}
	s.lastExpiry = now
	for app, byIndex := range s.metrics {
		for i, e := range byIndex {
			if now.Sub(e.at) > s.metricTTL {
				delete(byIndex, i)
			}
		}
		if len(byIndex) == 0 {
			delete(s.metrics, app)
		}
	}
}

// RecentLogs returns an app's kept logs, oldest first.
func (s *Store) RecentLogs(app string) []message {
	s.mu.Lock()
	defer s.mu.Unlock()
	ring := s.logs[app]
	next := s.logNext[app]
	out := make([]message, 0, len(ring))
	out = append(out, ring[next:]...)
	return append(out, ring[:next]...)
}

// ContainerMetrics returns the latest unexpired metric of each instance, by
// index.
func (s *Store) ContainerMetrics(app string) []message {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	var out []message
	var idx []int32
	for i, e := range s.metrics[app] {
		if now.Sub(e.at) <= s.metricTTL {
			idx = append(idx, i)
		}
	}
	sort.Slice(idx, func(a, b int) bool { return idx[a] < idx[b] })
	for _, i := range idx {
		out = append(out, s.metrics[app][i].msg)
	}
	return out
}

// Subscribe registers a stream consumer of app; cancel removes it.
func (s *Store) Subscribe(app string) (sub *subscriber, cancel func()) {
	sub = &subscriber{ch: make(chan message, subscriberBuffer)}
	s.mu.Lock()
	if s.subs[app] == nil {
		s.subs[app] = map[*subscriber]struct{}{}
	}
	s.subs[app][sub] = struct{}{}
	s.mu.Unlock()
	return sub, func() {
		s.mu.Lock()
		delete(s.subs[app], sub)
		if len(s.subs[app]) == 0 {
			delete(s.subs, app)
		}
		s.mu.Unlock()
	}
}

// SlowConsumerSkips counts messages a slow consumer missed.
func (s *Store) SlowConsumerSkips() uint64 { return s.slowSkips.Load() }
