// Package agent is metron, the agent on every VM (spec cell §5.3, §7.5): it
// reads dropsonde envelopes on UDP 127.0.0.1:3457, keeps counter totals,
// merges legacy HttpStart/HttpStop pairs, tags each envelope with the VM's
// deployment, job, index and ip, and forwards it to one doppler over UDP with
// a 32-byte HMAC-SHA256 signature. Nothing in it waits on the doppler: a full
// forwarding queue drops envelopes, and the drops are counted.
package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"diego/deploy/clock"
	"diego/metron"
	"diego/metron/events"
)

// Origin is the origin of the agent's own metrics (Diego's "MetronAgent").
const Origin = "MetronAgent"

// The names of the agent's own counters, as Diego's metron reports them.
const (
	ReceivedMessageCount = "dropsondeAgentListener.receivedMessageCount"
	ReceivedByteCount    = "dropsondeAgentListener.receivedByteCount"
	UnmarshalErrors      = "dropsondeUnmarshaller.unmarshalErrors"
	DroppedMessageCount  = "MessageBuffer.droppedMessageCount"
	SentMessageCount     = "udp.sentMessageCount"
	SendErrorCount       = "udp.sendErrorCount"
)

// Config is what the agent needs from its configuration.
type Config struct {
	// ListenAddr is the UDP address producers send to (127.0.0.1:3457).
	ListenAddr string
	// DopplerAddr is the doppler's dropsonde UDP address.
	DopplerAddr string
	// SharedSecret keys the datagram signature.
	SharedSecret string
	// Deployment, Job, Index and IP tag every envelope that lacks them.
	Deployment, Job, Index, IP string
	// ReportInterval is how often the agent sends its own counters.
	ReportInterval time.Duration
	// QueueSize bounds the envelopes waiting to be forwarded.
	QueueSize int
}

// Deps are the agent's collaborators.
type Deps struct {
	Logger *slog.Logger
	Clock  clock.Clock
}

// Stats are the agent's running counts.
type Stats struct {
	Received, ReceivedBytes, UnmarshalErrors, Dropped, Sent, SendErrors uint64
}

// Agent is an ifrit runner.
type Agent struct {
	cfg  Config
	deps Deps

	received, receivedBytes, unmarshalErrors, dropped, sent, sendErrors atomic.Uint64

	addrMu sync.Mutex
	addr   net.Addr
}

// New returns an agent; Run binds and serves.
func New(cfg Config, deps Deps) *Agent {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 10000
	}
	if cfg.ReportInterval <= 0 {
		cfg.ReportInterval = 5 * time.Second
	}
	return &Agent{cfg: cfg, deps: deps}
}

// Stats returns the counts so far.
func (a *Agent) Stats() Stats {
	return Stats{
		Received: a.received.Load(), ReceivedBytes: a.receivedBytes.Load(), UnmarshalErrors: a.unmarshalErrors.Load(),
		Dropped: a.dropped.Load(), Sent: a.sent.Load(), SendErrors: a.sendErrors.Load(),
	}
}

// Addr is the bound UDP address, once Run is ready.
func (a *Agent) Addr() net.Addr {
	a.addrMu.Lock()
	defer a.addrMu.Unlock()
	return a.addr
}

// Run listens, forwards and reports until signalled.
func (a *Agent) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	logger := a.deps.Logger.With("session", "metron")
	in, err := net.ListenPacket("udp", a.cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("metron: listening on %s: %w", a.cfg.ListenAddr, err)
	}
	// A big receive buffer absorbs bursts while the reader catches up.
	if u, ok := in.(*net.UDPConn); ok {
		_ = u.SetReadBuffer(8 << 20)
	}
	out, err := net.Dial("udp", a.cfg.DopplerAddr)
	if err != nil {
		in.Close()
		return fmt.Errorf("metron: dialing doppler %s: %w", a.cfg.DopplerAddr, err)
	}
	a.addrMu.Lock()
	a.addr = in.LocalAddr()
	a.addrMu.Unlock()

	queue := make(chan *events.Envelope, a.cfg.QueueSize)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a.forward(out, queue, stop) }()
	go func() { defer wg.Done(); a.read(logger, in, queue) }()

	ticker := a.deps.Clock.NewTicker(a.cfg.ReportInterval)
	defer ticker.Stop()
	logger.Info("listening", "listen_addr", a.addr.String(), "doppler_address", a.cfg.DopplerAddr)
	close(ready)
	var last Stats
	for {
		select {
		case <-ticker.C():
			last = a.report(queue, last)
		case <-signals:
			in.Close()
			close(stop)
			wg.Wait()
			out.Close()
			return nil
		}
	}
}

// read decodes datagrams until the socket closes. It never blocks on the
// forwarding queue.
func (a *Agent) read(logger *slog.Logger, in net.PacketConn, queue chan<- *events.Envelope) {
	agg := newAggregator()
	buf := make([]byte, 65536)
	for {
		n, _, err := in.ReadFrom(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				logger.Error("reading-failed", "error", err)
			}
			return
		}
		a.received.Add(1)
		a.receivedBytes.Add(uint64(n))
		env, err := metron.DecodeEnvelope(buf[:n])
		if err != nil {
			a.unmarshalErrors.Add(1)
			logger.Debug("dropping-invalid-envelope", "error", err)
			continue
		}
		if env = agg.process(env); env == nil {
			continue
		}
		a.tag(env)
		a.enqueue(queue, env)
	}
}

func (a *Agent) enqueue(queue chan<- *events.Envelope, env *events.Envelope) {
	select {
	case queue <- env:
	default:
		a.dropped.Add(1)
	}
}

// tag fills in what the producer left empty (spec cell §5.3, tagger).
func (a *Agent) tag(env *events.Envelope) {
	if env.GetDeployment() == "" && a.cfg.Deployment != "" {
		env.Deployment = proto.String(a.cfg.Deployment)
	}
	if env.GetJob() == "" && a.cfg.Job != "" {
		env.Job = proto.String(a.cfg.Job)
	}
	if env.GetIndex() == "" && a.cfg.Index != "" {
		env.Index = proto.String(a.cfg.Index)
	}
	if env.GetIp() == "" && a.cfg.IP != "" {
		env.Ip = proto.String(a.cfg.IP)
	}
}

// forward signs and sends each queued envelope as one datagram.
func (a *Agent) forward(out net.Conn, queue <-chan *events.Envelope, stop <-chan struct{}) {
	secret := []byte(a.cfg.SharedSecret)
	send := func(env *events.Envelope) {
		b, err := proto.Marshal(env)
		if err == nil && len(b)+metron.SignatureSize > metron.MaxDatagramSize {
			err = metron.ErrOversized
		}
		if err == nil {
			_, err = out.Write(metron.Sign(secret, b))
		}
		if err != nil {
			a.sendErrors.Add(1) // an absent doppler refuses: UDP loses it
			return
		}
		a.sent.Add(1)
	}
	for {
		select {
		case env := <-queue:
			send(env)
		case <-stop:
			for {
				select {
				case env := <-queue:
					send(env)
				default:
					return
				}
			}
		}
	}
}

// report sends the agent's own counters (the deltas since the last report,
// with running totals) through the same queue, tagged like everything else.
func (a *Agent) report(queue chan<- *events.Envelope, last Stats) Stats {
	now := a.Stats()
	now64 := a.deps.Clock.Now().UnixNano()
	for _, c := range []struct {
		name        string
		total, prev uint64
	}{
		{ReceivedMessageCount, now.Received, last.Received},
		{ReceivedByteCount, now.ReceivedBytes, last.ReceivedBytes},
		{UnmarshalErrors, now.UnmarshalErrors, last.UnmarshalErrors},
		{DroppedMessageCount, now.Dropped, last.Dropped},
		{SentMessageCount, now.Sent, last.Sent},
		{SendErrorCount, now.SendErrors, last.SendErrors},
	} {
		env := &events.Envelope{
			Origin: proto.String(Origin), EventType: events.Envelope_CounterEvent.Enum(), Timestamp: proto.Int64(now64),
			CounterEvent: &events.CounterEvent{Name: proto.String(c.name), Delta: proto.Uint64(c.total - c.prev), Total: proto.Uint64(c.total)},
		}
		a.tag(env)
		a.enqueue(queue, env)
	}
	return now
}
