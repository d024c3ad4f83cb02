// Package emitter is the dropsonde-compatible emitter every diego daemon
// uses to send logs and metrics to its metron agent (spec cell §5.2): UDP to
// 127.0.0.1:<dropsonde_port>, one Envelope per datagram. It never blocks its
// caller: envelopes go through a bounded queue, and when the queue is full
// they are dropped and counted.
package emitter

import (
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"diego/deploy/clock"
	"diego/metron/events"
)

// DefaultAddress is where metron listens (dropsonde_port 3457).
const DefaultAddress = "127.0.0.1:3457"

// CounterInterval is how often summed counter deltas are sent.
const CounterInterval = 5 * time.Second

// queueSize bounds the envelopes waiting to be sent.
const queueSize = 4096

// Units of value metrics.
const (
	UnitNanos  = "nanos"
	UnitMetric = "Metric"
	UnitMiB    = "MiB"
)

// Emitter sends envelopes with one origin ("bbs", "executor", ...).
type Emitter struct {
	origin  string
	clock   clock.Clock
	conn    net.Conn
	queue   chan *events.Envelope
	dropped atomic.Uint64

	mu       sync.Mutex
	counters map[string]uint64
}

// New connects to metron at addr (DefaultAddress when empty). Call Run (it
// is an ifrit runner) to send; until then envelopes wait in the queue.
func New(addr, origin string, clk clock.Clock) (*Emitter, error) {
	if addr == "" {
		addr = DefaultAddress
	}
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("emitter: dialing metron at %s: %w", addr, err)
	}
	return &Emitter{
		origin: origin, clock: clk, conn: conn,
		queue:    make(chan *events.Envelope, queueSize),
		counters: map[string]uint64{},
	}, nil
}

// Dropped is how many envelopes were dropped because the queue was full.
func (e *Emitter) Dropped() uint64 { return e.dropped.Load() }

// Run sends queued envelopes and flushes counters every CounterInterval,
// until signalled; then it flushes what is left and closes the socket.
func (e *Emitter) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	ticker := e.clock.NewTicker(CounterInterval)
	defer ticker.Stop()
	defer e.conn.Close()
	close(ready)
	for {
		select {
		case env := <-e.queue:
			e.send(env)
		case <-ticker.C():
			e.flushCounters()
		case <-signals:
			e.flushCounters()
			for {
				select {
				case env := <-e.queue:
					e.send(env)
				default:
					return nil
				}
			}
		}
	}
}

func (e *Emitter) send(env *events.Envelope) {
	b, err := proto.Marshal(env)
	if err != nil {
		e.dropped.Add(1)
		return
	}
	if _, err := e.conn.Write(b); err != nil {
		e.dropped.Add(1) // metron not listening: UDP loses it, as dropsonde does
	}
}

func (e *Emitter) emit(t events.Envelope_EventType, fill func(*events.Envelope)) {
	env := &events.Envelope{
		Origin:    proto.String(e.origin),
		EventType: t.Enum(),
		Timestamp: proto.Int64(e.clock.Now().UnixNano()),
	}
	fill(env)
	select {
	case e.queue <- env:
	default:
		e.dropped.Add(1)
	}
}

// SendValue sends a ValueMetric (a gauge in unit Metric, a duration in nanos).
func (e *Emitter) SendValue(name string, value float64, unit string) {
	e.emit(events.Envelope_ValueMetric, func(env *events.Envelope) {
		env.ValueMetric = &events.ValueMetric{Name: proto.String(name), Value: proto.Float64(value), Unit: proto.String(unit)}
	})
}

// SendDuration sends a duration metric in nanoseconds.
func (e *Emitter) SendDuration(name string, d time.Duration) {
	e.SendValue(name, float64(d), UnitNanos)
}

// IncrementCounter adds one to a counter (sent summed every CounterInterval).
func (e *Emitter) IncrementCounter(name string) { e.AddToCounter(name, 1) }

// AddToCounter adds delta to a counter.
func (e *Emitter) AddToCounter(name string, delta uint64) {
	e.mu.Lock()
	e.counters[name] += delta
	e.mu.Unlock()
}

func (e *Emitter) flushCounters() {
	e.mu.Lock()
	pending := e.counters
	e.counters = map[string]uint64{}
	e.mu.Unlock()
	for name, delta := range pending {
		e.emit(events.Envelope_CounterEvent, func(env *events.Envelope) {
			env.CounterEvent = &events.CounterEvent{Name: proto.String(name), Delta: proto.Uint64(delta)}
		})
	}
}

// SendAppLog sends a line of an app's stdout.
func (e *Emitter) SendAppLog(appID, message, sourceType, sourceInstance string) {
	e.sendLog(events.LogMessage_OUT, appID, message, sourceType, sourceInstance)
}

// SendAppErrorLog sends a line of an app's stderr.
func (e *Emitter) SendAppErrorLog(appID, message, sourceType, sourceInstance string) {
	e.sendLog(events.LogMessage_ERR, appID, message, sourceType, sourceInstance)
}

func (e *Emitter) sendLog(t events.LogMessage_MessageType, appID, message, sourceType, sourceInstance string) {
	e.emit(events.Envelope_LogMessage, func(env *events.Envelope) {
		env.LogMessage = &events.LogMessage{
			Message: []byte(message), MessageType: t.Enum(), Timestamp: proto.Int64(env.GetTimestamp()),
			AppId: proto.String(appID), SourceType: proto.String(sourceType), SourceInstance: proto.String(sourceInstance),
		}
	})
}

// ContainerMetric is one container's usage.
type ContainerMetric struct {
	ApplicationID                    string
	InstanceIndex                    int32
	CPUPercentage                    float64
	MemoryBytes, DiskBytes           uint64
	MemoryBytesQuota, DiskBytesQuota uint64
}

// SendContainerMetric sends a container's usage.
func (e *Emitter) SendContainerMetric(m ContainerMetric) {
	e.emit(events.Envelope_ContainerMetric, func(env *events.Envelope) {
		env.ContainerMetric = &events.ContainerMetric{
			ApplicationId: proto.String(m.ApplicationID), InstanceIndex: proto.Int32(m.InstanceIndex),
			CpuPercentage: proto.Float64(m.CPUPercentage), MemoryBytes: proto.Uint64(m.MemoryBytes),
			DiskBytes: proto.Uint64(m.DiskBytes), MemoryBytesQuota: proto.Uint64(m.MemoryBytesQuota),
			DiskBytesQuota: proto.Uint64(m.DiskBytesQuota),
		}
	})
}
