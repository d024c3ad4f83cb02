package router

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"diego/deploy/clock"
	"diego/deploy/logging"
	"diego/deploy/tlsconfig"
	"diego/routeemitter"
	emitterconfig "diego/routeemitter/config"
)

// Subscriber is the router's side of the NATS protocol (spec bridge §7):
// it applies router.register and router.unregister to the registry,
// answers router.greet, publishes router.start at start, on every
// reconnection and every publish interval, and prunes stale endpoints. It
// is the only package of the router that opens a NATS connection.
type Subscriber struct {
	cfg      SubscriberConfig
	logger   *slog.Logger
	clock    clock.Clock
	registry *Registry
	conn     *nats.Conn

	connected     chan struct{}
	connectedOnce sync.Once
}

// SubscriberConfig holds the NATS settings and the protocol's timings.
type SubscriberConfig struct {
	NATS emitterconfig.NATS
	// Start is what router.start says.
	Start                   routeemitter.RouterStart
	PublishStartInterval    time.Duration
	PruneInterval           time.Duration
	SuspendPruningWhileDown bool
}

// NewSubscriber builds the subscriber; Run connects.
func NewSubscriber(logger *slog.Logger, clk clock.Clock, registry *Registry, cfg SubscriberConfig) *Subscriber {
	return &Subscriber{cfg: cfg, logger: logging.Session(logger, "nats"), clock: clk, registry: registry,
		connected: make(chan struct{})}
}

// Connected is closed once the subscriber first reaches NATS with its
// subscriptions in place: registrations can arrive from then on.
func (s *Subscriber) Connected() <-chan struct{} { return s.connected }

func (s *Subscriber) markConnected() { s.connectedOnce.Do(func() { close(s.connected) }) }

// Run connects (retrying until NATS answers), subscribes, announces
// itself, and prunes until signalled.
func (s *Subscriber) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	start, _ := json.Marshal(s.cfg.Start)
	// subscribed says the subscriptions are made: a connection made before
	// them is marked connected once they are.
	var subscribed atomic.Bool
	publishStart := func(c *nats.Conn) {
		if err := c.Publish(routeemitter.StartSubject, start); err != nil {
			s.logger.Error("publish-start-failed", "error", err)
		}
	}
	opts := []nats.Option{
		nats.Name("router-" + s.cfg.Start.ID),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500 * time.Millisecond),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { s.logger.Error("nats-disconnected", "error", err) }),
		nats.ReconnectHandler(func(c *nats.Conn) {
			s.logger.Info("nats-reconnected", "url", c.ConnectedUrlRedacted())
			publishStart(c)
		}),
		nats.ConnectHandler(func(c *nats.Conn) {
			s.logger.Info("nats-connected", "url", c.ConnectedUrlRedacted())
			// router.start asks for every registration: only once the
			// subscriptions are there to receive them (else Run sends it).
			if subscribed.Load() {
				publishStart(c)
				s.markConnected()
			}
		}),
	}
	n := s.cfg.NATS
	if n.NATSUsername != "" {
		opts = append(opts, nats.UserInfo(n.NATSUsername, n.NATSPassword))
	}
	if n.NATSCACertFile != "" {
		tc, err := tlsconfig.ClientConfig(n.NATSClientCertFile, n.NATSClientKeyFile, n.NATSCACertFile)
		if err != nil {
			return fmt.Errorf("nats TLS: %w", err)
		}
		opts = append(opts, nats.Secure(tc))
	}
	conn, err := nats.Connect(strings.Join(n.Servers(), ","), opts...)
	if err != nil {
		return fmt.Errorf("connecting to nats: %w", err)
	}
	defer conn.Close()
	s.conn = conn
	for subject, handler := range map[string]nats.MsgHandler{
		routeemitter.RegisterSubject:   s.onRegister,
		routeemitter.UnregisterSubject: s.onUnregister,
		routeemitter.GreetSubject: func(m *nats.Msg) {
			if m.Reply == "" {
				s.logger.Error("greet-without-reply-subject")
				return
			}
			if err := conn.Publish(m.Reply, start); err != nil {
				s.logger.Error("greet-reply-failed", "error", err)
			}
		},
	} {
		if _, err := conn.Subscribe(subject, handler); err != nil {
			return fmt.Errorf("subscribing to %s: %w", subject, err)
		}
	}
	subscribed.Store(true)
	if conn.IsConnected() {
		// The connect handler may have fired before the subscriptions.
		publishStart(conn)
		s.markConnected()
	}
	close(ready)

	prune := s.clock.NewTicker(s.cfg.PruneInterval)
	defer prune.Stop()
	announce := s.clock.NewTicker(s.cfg.PublishStartInterval)
	defer announce.Stop()
	for {
		select {
		case <-signals:
			return nil
		case <-announce.C():
			if conn.IsConnected() {
				publishStart(conn)
			}
		case <-prune.C():
			if s.cfg.SuspendPruningWhileDown && !conn.IsConnected() {
				continue
			}
			if n := s.registry.Prune(s.clock.Now()); n > 0 {
				s.logger.Info("pruned-stale-endpoints", "count", n)
			}
		}
	}
}

// decode reads a registry message; a malformed one is logged and ignored.
func (s *Subscriber) decode(subject string, data []byte) (routeemitter.RegistryMessage, bool) {
	var m routeemitter.RegistryMessage
	if err := json.Unmarshal(data, &m); err != nil {
		s.logger.Error("malformed-message", "subject", subject, "error", err, "payload", truncate(data))
		return m, false
	}
	return m, true
}

func (s *Subscriber) onRegister(msg *nats.Msg) {
	m, ok := s.decode(msg.Subject, msg.Data)
	if !ok {
		return
	}
	if err := s.registry.Register(m, s.clock.Now()); err != nil {
		s.logger.Error("bad-registration", "error", err, "payload", truncate(msg.Data))
	}
}

func (s *Subscriber) onUnregister(msg *nats.Msg) {
	m, ok := s.decode(msg.Subject, msg.Data)
	if !ok {
		return
	}
	if err := s.registry.Unregister(m); err != nil {
		s.logger.Error("bad-unregistration", "error", err, "payload", truncate(msg.Data))
	}
}

func truncate(b []byte) string {
	if len(b) > 256 {
		return string(b[:256]) + "..."
	}
	return string(b)
}
