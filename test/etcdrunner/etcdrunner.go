// Package etcdrunner runs an embedded etcd, alone or as a cluster, as an
// ifrit.Runner for tests. Ports come from test/ports so suites can run in
// parallel; logs are cut to errors so test output stays readable.
package etcdrunner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/tedsuo/ifrit"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"diego/deploy/config"
	"diego/test/certauthority"
	"diego/test/ports"
)

// DefaultStartTimeout bounds the wait for etcd to serve; a cluster member
// is only ready once a quorum of members is up.
const DefaultStartTimeout = 60 * time.Second

// Config describes one etcd member. Every field is optional.
type Config struct {
	// DataDir holds etcd's data; empty means a temp dir made on first Run
	// and removed by Cleanup.
	DataDir string
	// Name is the member name; empty means "etcd0".
	Name string
	// ClientPort and PeerPort default to ports from test/ports.
	ClientPort uint16
	PeerPort   uint16
	// StartTimeout defaults to DefaultStartTimeout.
	StartTimeout time.Duration
	// LogWriter receives etcd's error logs; nil means os.Stderr.
	LogWriter io.Writer
	// TLS, when set, makes the member serve clients over https and
	// require a client certificate signed by TLS.CAFile.
	TLS *TLS
}

// TLS are the files of a member that requires client certificates: its
// server certificate, the CA that signs it and the clients', and the client
// certificate the runner itself presents (Client, Reset), which tests may
// hand to daemons too. NewTLS makes them all.
type TLS struct {
	CAFile     string
	ServerCert string
	ServerKey  string
	ClientCert string
	ClientKey  string
}

// NewTLS makes a CA in dir (test/certauthority), a server certificate for
// 127.0.0.1 and a client certificate.
func NewTLS(dir string) (*TLS, error) {
	ca, err := certauthority.New(dir)
	if err != nil {
		return nil, err
	}
	t := &TLS{CAFile: ca.CAFile()}
	if t.ServerCert, t.ServerKey, err = ca.GenerateServer("etcd"); err != nil {
		return nil, err
	}
	if t.ClientCert, t.ClientKey, err = ca.GenerateClient("etcd-client"); err != nil {
		return nil, err
	}
	return t, nil
}

// Runner is one etcd member. Its data dir outlives Run, so a stopped member
// can be run again and rejoin its cluster with its data.
type Runner struct {
	name         string
	clientPort   uint16
	peerPort     uint16
	startTimeout time.Duration
	logWriter    io.Writer
	tls          *TLS

	// Set by a Cluster so its members find each other.
	initialCluster string
	clusterToken   string

	mu          sync.Mutex
	dataDir     string
	tempDataDir bool
	etcd        *embed.Etcd // while ready
}

// New returns a stopped member; its ports are chosen now so clients can be
// configured before it starts.
func New(cfg Config) *Runner {
	r := &Runner{
		name:         cfg.Name,
		clientPort:   cfg.ClientPort,
		peerPort:     cfg.PeerPort,
		startTimeout: cfg.StartTimeout,
		logWriter:    cfg.LogWriter,
		dataDir:      cfg.DataDir,
		tls:          cfg.TLS,
	}
	if r.name == "" {
		r.name = "etcd0"
	}
	if r.clientPort == 0 {
		r.clientPort = ports.Next()
	}
	if r.peerPort == 0 {
		r.peerPort = ports.Next()
	}
	if r.startTimeout == 0 {
		r.startTimeout = DefaultStartTimeout
	}
	if r.logWriter == nil {
		r.logWriter = os.Stderr
	}
	r.initialCluster = r.name + "=" + r.PeerURL()
	r.clusterToken = "etcdrunner-" + r.name + "-" + strconv.Itoa(int(r.peerPort))
	return r
}

// Name is the member name.
func (r *Runner) Name() string { return r.name }

// ClientURL is where clients reach this member, "http://127.0.0.1:<port>"
// (https with TLS).
func (r *Runner) ClientURL() string {
	scheme := "http://"
	if r.tls != nil {
		scheme = "https://"
	}
	return scheme + "127.0.0.1:" + strconv.Itoa(int(r.clientPort))
}

// PeerURL is where the other members reach this one.
func (r *Runner) PeerURL() string {
	return "http://127.0.0.1:" + strconv.Itoa(int(r.peerPort))
}

// DataDir is the data directory, empty until the first Run if it is a temp dir.
func (r *Runner) DataDir() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dataDir
}

// Run serves until signalled, then stops etcd and returns nil. It returns an
// error if etcd fails to start within the start timeout or fails later.
func (r *Runner) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	logLevel := zap.NewAtomicLevelAt(zapcore.ErrorLevel)
	cfg, err := r.embedConfig(logLevel)
	if err != nil {
		return err
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("starting etcd %s: %w", r.name, err)
	}
	defer func() {
		// Closing makes every listener log its shutdown as an error.
		logLevel.SetLevel(zapcore.FatalLevel)
		e.Close()
	}()

	timeout := time.NewTimer(r.startTimeout)
	defer timeout.Stop()
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		return fmt.Errorf("etcd %s failed while starting: %w", r.name, errOrStopped(err))
	case <-timeout.C:
		return fmt.Errorf("etcd %s not ready after %s", r.name, r.startTimeout)
	case <-signals:
		return nil
	}
	r.setEtcd(e)
	defer r.setEtcd(nil)
	close(ready)

	select {
	case <-signals:
		return nil
	case err := <-e.Err():
		return fmt.Errorf("etcd %s failed: %w", r.name, errOrStopped(err))
	case <-e.Server.StopNotify():
		return fmt.Errorf("etcd %s stopped by itself", r.name)
	}
}

func (r *Runner) setEtcd(e *embed.Etcd) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.etcd = e
}

// IsLeader reports whether this member is running and leads its cluster,
// so a failure test can choose to stop the leader or a follower.
func (r *Runner) IsLeader() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.etcd != nil && r.etcd.Server.Leader() == r.etcd.Server.MemberID()
}

func errOrStopped(err error) error {
	if err == nil {
		return errors.New("server stopped")
	}
	return err
}

func (r *Runner) embedConfig(logLevel zap.AtomicLevel) (*embed.Config, error) {
	dir, err := r.ensureDataDir()
	if err != nil {
		return nil, err
	}
	clientURL, err := url.Parse(r.ClientURL())
	if err != nil {
		return nil, err
	}
	peerURL, err := url.Parse(r.PeerURL())
	if err != nil {
		return nil, err
	}

	cfg := embed.NewConfig()
	cfg.Name = r.name
	cfg.Dir = dir
	cfg.ListenClientUrls = []url.URL{*clientURL}
	cfg.AdvertiseClientUrls = []url.URL{*clientURL}
	cfg.ListenPeerUrls = []url.URL{*peerURL}
	cfg.AdvertisePeerUrls = []url.URL{*peerURL}
	cfg.InitialCluster = r.initialCluster
	cfg.InitialClusterToken = r.clusterToken
	if r.tls != nil {
		cfg.ClientTLSInfo = transport.TLSInfo{
			CertFile: r.tls.ServerCert, KeyFile: r.tls.ServerKey,
			TrustedCAFile: r.tls.CAFile, ClientCertAuth: true,
		}
	}
	cfg.LogLevel = "error"
	core := zapcore.NewCore(
		zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()),
		zapcore.Lock(zapcore.AddSync(r.logWriter)),
		logLevel,
	)
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.New(core).With(zap.String("member", r.name)))
	// Tests never outlive a power cut, and fsync is most of etcd's write
	// latency on a busy CI disk.
	cfg.UnsafeNoFsync = true
	cfg.QuotaBackendBytes = 256 << 20
	return cfg, nil
}

func (r *Runner) ensureDataDir() (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dataDir != "" {
		return r.dataDir, os.MkdirAll(r.dataDir, 0o700)
	}
	dir, err := os.MkdirTemp("", "etcdrunner-"+r.name+"-")
	if err != nil {
		return "", fmt.Errorf("creating data dir for etcd %s: %w", r.name, err)
	}
	r.dataDir, r.tempDataDir = dir, true
	return dir, nil
}

// Cleanup removes the data dir if the runner made it. Call it once the
// member has stopped for good.
func (r *Runner) Cleanup() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.tempDataDir {
		return nil
	}
	r.tempDataDir = false
	dir := r.dataDir
	r.dataDir = ""
	return os.RemoveAll(dir)
}

// Client returns a v3 client for this member (presenting TLS.ClientCert
// with TLS); the caller closes it.
func (r *Runner) Client() (*clientv3.Client, error) {
	return newClient([]string{r.ClientURL()}, r.tls)
}

// Reset deletes every key and revokes every lease, so one etcd can serve a
// whole suite with each spec starting from empty.
func (r *Runner) Reset() error {
	return reset([]string{r.ClientURL()}, r.tls)
}

func newClient(endpoints []string, files *TLS) (*clientv3.Client, error) {
	cfg := clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	}
	if files != nil {
		tc, err := transport.TLSInfo{CertFile: files.ClientCert, KeyFile: files.ClientKey, TrustedCAFile: files.CAFile}.ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("etcd client TLS: %w", err)
		}
		cfg.TLS = tc
	}
	c, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to etcd at %v: %w", endpoints, err)
	}
	return c, nil
}

func reset(endpoints []string, files *TLS) error {
	c, err := newClient(endpoints, files)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if _, err := c.Delete(ctx, "", clientv3.WithPrefix()); err != nil {
		return fmt.Errorf("deleting all keys: %w", err)
	}
	leases, err := c.Leases(ctx)
	if err != nil {
		return fmt.Errorf("listing leases: %w", err)
	}
	for _, l := range leases.Leases {
		// A lease may expire between listing and revoking.
		if _, err := c.Revoke(ctx, l.ID); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
			return fmt.Errorf("revoking lease %x: %w", l.ID, err)
		}
	}
	return nil
}

// ETCDBlock is the etcd block of a daemon's config that reaches this
// member: its client URL and, with TLS, the CA and the runner's own client
// certificate.
func (r *Runner) ETCDBlock() config.ETCD {
	block := config.ETCD{Endpoints: []string{r.ClientURL()}}
	if r.tls != nil {
		block.CAFile, block.CertFile, block.KeyFile = r.tls.CAFile, r.tls.ClientCert, r.tls.ClientKey
	}
	return block
}

// StartTLS runs a member that requires client certificates, with its
// certificates in dir, and returns once it serves; stop it with Stop.
func StartTLS(dir string, logs io.Writer) (*Runner, ifrit.Process, error) {
	files, err := NewTLS(dir)
	if err != nil {
		return nil, nil, err
	}
	r := New(Config{TLS: files, LogWriter: logs})
	p := ifrit.Background(r)
	select {
	case <-p.Ready():
		return r, p, nil
	case err := <-p.Wait():
		_ = r.Cleanup()
		return nil, nil, errOrStopped(err)
	}
}

// Stop interrupts a member started with StartTLS, waits for it and removes
// its data.
func (r *Runner) Stop(p ifrit.Process) error {
	p.Signal(os.Interrupt)
	err := <-p.Wait()
	return errors.Join(err, r.Cleanup())
}
