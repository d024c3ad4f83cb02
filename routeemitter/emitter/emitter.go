// Package emitter is the route-emitter's NATS side (spec bridge §6.1,
// §6.2): it publishes registrations and unregistrations, greets the routers
// to learn their register interval, and reports every router.start and
// every reconnection, after which the watcher re-emits everything. It is
// the only package of the route-emitter that opens a NATS connection.
package emitter

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"diego/deploy/logging"
	"diego/deploy/tlsconfig"
	"diego/routeemitter"
	"diego/routeemitter/config"
	"diego/routeemitter/routingtable"
)

// Config says how to reach NATS and how to publish.
type Config struct {
	NATS config.NATS
	// Workers publish a large batch in parallel (route_emitting_workers).
	Workers int
	// GreetInterval is how often router.greet is repeated until a router
	// answers (1 s in Diego).
	GreetInterval time.Duration
	// Name is the connection's name in the NATS server's monitoring.
	Name string
}

// NATS is the emitter's connection. Connect returns it connected or
// reconnecting: a NATS that is down at start is retried forever.
type NATS struct {
	cfg    Config
	logger *slog.Logger
	conn   *nats.Conn

	starts      chan routeemitter.RouterStart
	reconnected chan struct{}
}

// Connect dials NATS with reconnects that never give up.
func Connect(logger *slog.Logger, cfg Config) (*NATS, error) {
	if cfg.Workers < 1 {
		cfg.Workers = 1
	}
	if cfg.GreetInterval <= 0 {
		cfg.GreetInterval = time.Second
	}
	n := &NATS{
		cfg: cfg, logger: logging.Session(logger, "nats"),
		starts:      make(chan routeemitter.RouterStart, 1),
		reconnected: make(chan struct{}, 1),
	}
	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500 * time.Millisecond),
		nats.PingInterval(20 * time.Second),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			n.logger.Error("nats-disconnected", "error", err)
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			n.logger.Info("nats-reconnected", "url", c.ConnectedUrlRedacted())
			notify(n.reconnected)
		}),
		nats.ConnectHandler(func(c *nats.Conn) {
			n.logger.Info("nats-connected", "url", c.ConnectedUrlRedacted())
		}),
	}
	if cfg.NATS.NATSUsername != "" {
		opts = append(opts, nats.UserInfo(cfg.NATS.NATSUsername, cfg.NATS.NATSPassword))
	}
	if cfg.NATS.NATSCACertFile != "" {
		tc, err := tlsconfig.ClientConfig(cfg.NATS.NATSClientCertFile, cfg.NATS.NATSClientKeyFile, cfg.NATS.NATSCACertFile)
		if err != nil {
			return nil, fmt.Errorf("nats TLS: %w", err)
		}
		opts = append(opts, nats.Secure(tc))
	}
	servers := cfg.NATS.Servers()
	conn, err := nats.Connect(joinServers(servers), opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to nats %v: %w", servers, err)
	}
	n.conn = conn
	return n, nil
}

func joinServers(s []string) string {
	out := ""
	for i, a := range s {
		if i > 0 {
			out += ","
		}
		out += a
	}
	return out
}

func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Close drains nothing: registrations not yet flushed are re-sent by the
// next emitter anyway.
func (n *NATS) Close() { n.conn.Close() }

// Starts delivers each router.start (and greet reply) that carries a
// register interval; only the latest is kept.
func (n *NATS) Starts() <-chan routeemitter.RouterStart { return n.starts }

// Reconnected signals each NATS reconnection.
func (n *NATS) Reconnected() <-chan struct{} { return n.reconnected }

// Run subscribes to router.start, then greets every GreetInterval until a
// router answers (Diego's 2016 emitter retried forever, and so does this
// one), and stays until signalled.
func (n *NATS) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	sub, err := n.conn.Subscribe(routeemitter.StartSubject, n.onStart)
	if err != nil {
		return fmt.Errorf("subscribing to %s: %w", routeemitter.StartSubject, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go n.greet(ctx)
	close(ready)
	<-signals
	return nil
}

// greet publishes router.greet with a one-message inbox as reply-to until
// a valid answer arrives.
func (n *NATS) greet(ctx context.Context) {
	answered := make(chan struct{})
	var once sync.Once
	inbox := n.conn.NewRespInbox()
	sub, err := n.conn.Subscribe(inbox, func(m *nats.Msg) {
		if start, ok := n.decodeStart(m.Data); ok {
			n.deliver(start)
			once.Do(func() { close(answered) })
		}
	})
	if err != nil {
		n.logger.Error("greet-subscribe-failed", "error", err)
		return
	}
	defer func() { _ = sub.Unsubscribe() }()
	ticker := time.NewTicker(n.cfg.GreetInterval)
	defer ticker.Stop()
	for {
		if err := n.conn.PublishRequest(routeemitter.GreetSubject, inbox, nil); err != nil {
			n.logger.Error("greet-failed", "error", err)
		}
		select {
		case <-answered:
			return
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func (n *NATS) onStart(m *nats.Msg) {
	if start, ok := n.decodeStart(m.Data); ok {
		n.deliver(start)
	}
}

// decodeStart reads a router.start body; a malformed one, or one without
// a positive interval, is logged and ignored.
func (n *NATS) decodeStart(data []byte) (routeemitter.RouterStart, bool) {
	var start routeemitter.RouterStart
	if err := json.Unmarshal(data, &start); err != nil {
		n.logger.Error("malformed-router-start", "error", err, "payload", truncate(data))
		return start, false
	}
	if start.MinimumRegisterIntervalInSeconds <= 0 {
		n.logger.Error("router-start-without-interval", "payload", truncate(data))
		return start, false
	}
	return start, true
}

func truncate(b []byte) string {
	if len(b) > 256 {
		return string(b[:256]) + "..."
	}
	return string(b)
}

// deliver keeps only the newest start message for the watcher.
func (n *NATS) deliver(start routeemitter.RouterStart) {
	for {
		select {
		case n.starts <- start:
			return
		default:
			select {
			case <-n.starts:
			default:
			}
		}
	}
}

// Emit publishes unregistrations, then registrations, spreading a large
// batch over the workers. A failed publish (NATS down) is logged; the
// periodic re-emit and the sync repair what it lost.
func (n *NATS) Emit(m routingtable.Messages) {
	if m.Empty() {
		return
	}
	n.publishAll(routeemitter.UnregisterSubject, m.Unregistrations)
	n.publishAll(routeemitter.RegisterSubject, m.Registrations)
}

func (n *NATS) publishAll(subject string, msgs []routeemitter.RegistryMessage) {
	if len(msgs) == 0 {
		return
	}
	workers := n.cfg.Workers
	if len(msgs) < 100*workers {
		workers = 1
	}
	chunk := (len(msgs) + workers - 1) / workers
	var wg sync.WaitGroup
	var failed sync.Once
	for start := 0; start < len(msgs); start += chunk {
		part := msgs[start:min(start+chunk, len(msgs))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, msg := range part {
				body, err := json.Marshal(msg)
				if err == nil {
					err = n.conn.Publish(subject, body)
				}
				if err != nil {
					failed.Do(func() { n.logger.Error("publish-failed", "subject", subject, "error", err) })
					return
				}
			}
		}()
	}
	wg.Wait()
}

// Flush waits until the server has every message published so far.
func (n *NATS) Flush(timeout time.Duration) error { return n.conn.FlushTimeout(timeout) }
