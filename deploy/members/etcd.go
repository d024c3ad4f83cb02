package members

import (
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// startTimeout bounds the wait for a quorum: members of a new cluster start
// together, and none is ready before a majority is up.
const startTimeout = 5 * time.Minute

// ETCD is an etcd member as an ifrit.Runner: ready once it serves clients
// (a quorum is up), and stopped cleanly on a signal.
type ETCD struct {
	cfg    ETCDConfig
	logger *slog.Logger
}

// NewETCD returns the member cfg describes.
func NewETCD(cfg ETCDConfig, logger *slog.Logger) *ETCD { return &ETCD{cfg: cfg, logger: logger} }

// Run starts the member and serves until signalled.
func (e *ETCD) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	cfg, err := e.embedConfig()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(e.cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("creating data_dir: %w", err)
	}
	server, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("starting etcd member %s: %w", e.cfg.Name, err)
	}
	defer server.Close()

	timeout := time.NewTimer(startTimeout)
	defer timeout.Stop()
	select {
	case <-server.Server.ReadyNotify():
	case err := <-server.Err():
		return fmt.Errorf("etcd member %s failed while starting: %w", e.cfg.Name, err)
	case <-timeout.C:
		return fmt.Errorf("etcd member %s: no quorum after %s", e.cfg.Name, startTimeout)
	case <-signals:
		return nil
	}
	e.logger.Info("etcd-member-serving", "name", e.cfg.Name, "client_url", e.cfg.AdvertiseClientURL)
	close(ready)

	select {
	case <-signals:
		return nil
	case err := <-server.Err():
		return fmt.Errorf("etcd member %s failed: %w", e.cfg.Name, err)
	case <-server.Server.StopNotify():
		return fmt.Errorf("etcd member %s stopped by itself", e.cfg.Name)
	}
}

func (e *ETCD) embedConfig() (*embed.Config, error) {
	parse := func(key, s string) (url.URL, error) {
		u, err := url.Parse(s)
		if err != nil {
			return url.URL{}, fmt.Errorf("%s: %w", key, err)
		}
		return *u, nil
	}
	lc, err := parse("listen_client_url", e.cfg.ListenClientURL)
	if err != nil {
		return nil, err
	}
	ac, err := parse("advertise_client_url", e.cfg.AdvertiseClientURL)
	if err != nil {
		return nil, err
	}
	lp, err := parse("listen_peer_url", e.cfg.ListenPeerURL)
	if err != nil {
		return nil, err
	}
	ap, err := parse("advertise_peer_url", e.cfg.AdvertisePeerURL)
	if err != nil {
		return nil, err
	}
	cfg := embed.NewConfig()
	cfg.Name = e.cfg.Name
	cfg.Dir = e.cfg.DataDir
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{lc}, []url.URL{ac}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{lp}, []url.URL{ap}
	cfg.InitialCluster = e.cfg.InitialCluster
	cfg.InitialClusterToken = e.cfg.InitialClusterToken
	cfg.ClusterState = e.cfg.InitialClusterState
	cfg.TickMs = uint(e.cfg.HeartbeatInterval.Duration() / time.Millisecond)
	cfg.ElectionMs = uint(e.cfg.ElectionTimeout.Duration() / time.Millisecond)
	if e.cfg.CertFile != "" {
		// Set field by field: the TLSInfo type lives in etcd's client
		// module, which only bbs/ imports.
		t := &cfg.ClientTLSInfo
		t.CertFile, t.KeyFile, t.TrustedCAFile, t.ClientCertAuth = e.cfg.CertFile, e.cfg.KeyFile, e.cfg.CAFile, true
	}
	if e.cfg.PeerCertFile != "" {
		t := &cfg.PeerTLSInfo
		t.CertFile, t.KeyFile, t.TrustedCAFile, t.ClientCertAuth = e.cfg.PeerCertFile, e.cfg.PeerKeyFile, e.cfg.PeerCAFile, true
	}
	// etcd logs through zap; keep its warnings and errors, in JSON, on stderr.
	core := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()),
		zapcore.Lock(os.Stderr), zapcore.WarnLevel)
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.New(core).With(zap.String("member", e.cfg.Name)))
	return cfg, nil
}
