package members

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"diego/deploy/tlsconfig"
)

const natsReadyTimeout = time.Minute

// NATS is a NATS server as an ifrit.Runner, clustered with its routes.
type NATS struct {
	cfg    NATSConfig
	logger *slog.Logger
}

// NewNATS returns the server cfg describes.
func NewNATS(cfg NATSConfig, logger *slog.Logger) *NATS { return &NATS{cfg: cfg, logger: logger} }

// Run starts the server and serves until signalled.
func (n *NATS) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	opts, err := n.options()
	if err != nil {
		return err
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("configuring nats server: %w", err)
	}
	s.Start()
	defer s.WaitForShutdown()
	defer s.Shutdown()
	if !s.ReadyForConnections(natsReadyTimeout) {
		return fmt.Errorf("nats server %s not ready after %s", n.cfg.Name, natsReadyTimeout)
	}
	n.logger.Info("nats-serving", "name", n.cfg.Name, "listen_addr", n.cfg.ListenAddr)
	close(ready)

	stopped := make(chan struct{})
	go func() { s.WaitForShutdown(); close(stopped) }()
	select {
	case <-signals:
		return nil
	case <-stopped:
		return fmt.Errorf("nats server %s shut down by itself", n.cfg.Name)
	}
}

func (n *NATS) options() (*server.Options, error) {
	host, port, err := splitPort(n.cfg.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("listen_addr: %w", err)
	}
	opts := &server.Options{ServerName: n.cfg.Name, Host: host, Port: port, NoSigs: true,
		Username: n.cfg.Username, Password: n.cfg.Password}
	var tlsCfg *tls.Config
	if n.cfg.CertFile != "" {
		if tlsCfg, err = tlsconfig.ServerConfig(n.cfg.CertFile, n.cfg.KeyFile, n.cfg.CAFile); err != nil {
			return nil, fmt.Errorf("nats tls: %w", err)
		}
		// Routes dial as clients with the same certificate.
		pair, err := tls.LoadX509KeyPair(n.cfg.CertFile, n.cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("nats tls: %w", err)
		}
		tlsCfg.Certificates = []tls.Certificate{pair}
		tlsCfg.RootCAs = tlsCfg.ClientCAs
		opts.TLSConfig, opts.TLS, opts.TLSVerify, opts.TLSTimeout = tlsCfg, true, true, 5
	}
	if n.cfg.ClusterListenAddr != "" {
		chost, cport, err := splitPort(n.cfg.ClusterListenAddr)
		if err != nil {
			return nil, fmt.Errorf("cluster_listen_addr: %w", err)
		}
		opts.Cluster = server.ClusterOpts{Name: n.cfg.ClusterName, Host: chost, Port: cport}
		if tlsCfg != nil {
			opts.Cluster.TLSConfig, opts.Cluster.TLSTimeout = tlsCfg.Clone(), 5
		}
		for _, r := range n.cfg.Routes {
			u, err := url.Parse(r)
			if err != nil {
				return nil, fmt.Errorf("routes: %w", err)
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	return opts, nil
}

func splitPort(hostport string) (string, int, error) {
	host, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	return host, port, err
}
