package local

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// embeddedTimeout bounds the wait for the in-process etcd and NATS.
const embeddedTimeout = 30 * time.Second

// ETCD is the launcher's in-process etcd member.
type ETCD struct {
	e     *embed.Etcd
	level zap.AtomicLevel
}

// StartETCD runs a one-member etcd on plan's client and peer URLs with its
// data in plan.ETCDDataDir, logging errors to logs, and
// returns once it serves.
func StartETCD(p *Plan, logs io.Writer) (*ETCD, error) {
	client, err := url.Parse(p.ETCDEndpoints[0])
	if err != nil {
		return nil, err
	}
	peer, err := url.Parse(p.ETCDPeerURL)
	if err != nil {
		return nil, err
	}
	cfg := embed.NewConfig()
	cfg.Name = "local"
	cfg.Dir = p.ETCDDataDir
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*client}, []url.URL{*client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*peer}, []url.URL{*peer}
	cfg.InitialCluster = cfg.Name + "=" + peer.String()
	cfg.InitialClusterToken = "diego-local"
	if p.ETCDTLS {
		// Clients must present a certificate from the cluster's CA.
		tls := &cfg.ClientTLSInfo
		tls.CertFile, tls.KeyFile = p.Certs.ETCDServerCert, p.Certs.ETCDServerKey
		tls.TrustedCAFile, tls.ClientCertAuth = p.Certs.CAFile, true
	}
	// A development cluster: fsync is most of etcd's write latency and
	// the data is thrown away at the next start unless -keep-data.
	cfg.UnsafeNoFsync = true
	cfg.LogLevel = "error"
	level := zap.NewAtomicLevelAt(zapcore.ErrorLevel)
	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey, enc.EncodeTime = "time", zapcore.RFC3339NanoTimeEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.Lock(zapcore.AddSync(logs)), level)
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.New(core))

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("starting etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
		return &ETCD{e: e, level: level}, nil
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("etcd failed while starting: %w", err)
	case <-time.After(embeddedTimeout):
		e.Close()
		return nil, fmt.Errorf("etcd not ready after %s", embeddedTimeout)
	}
}

// Failed is closed with etcd's error if it stops serving by itself.
func (e *ETCD) Failed() <-chan error { return e.e.Err() }

// Stop stops etcd.
func (e *ETCD) Stop() {
	// Closing makes every listener log its shutdown as an error.
	e.level.SetLevel(zapcore.FatalLevel)
	e.e.Close()
}

// NATS is the launcher's in-process NATS server.
type NATS struct{ s *server.Server }

// StartNATS runs NATS on 127.0.0.1:NATSPort, logging warnings and errors
// to log under the name "nats".
func StartNATS(log *MergedLog) (*NATS, error) {
	s, err := server.NewServer(&server.Options{Host: Host, Port: NATSPort, NoSigs: true, NoLog: true})
	if err != nil {
		return nil, fmt.Errorf("configuring nats: %w", err)
	}
	l := &natsLogger{log: log, fatal: make(chan error, 1)}
	s.SetLoggerV2(l, false, false, false)
	s.Start()
	ready := make(chan bool, 1)
	go func() { ready <- s.ReadyForConnections(embeddedTimeout) }()
	select {
	case ok := <-ready:
		if ok {
			return &NATS{s: s}, nil
		}
		err = fmt.Errorf("nats not ready after %s", embeddedTimeout)
	case err = <-l.fatal:
	}
	s.Shutdown()
	return nil, errors.Join(errors.New("starting nats"), err)
}

// Stop shuts NATS down.
func (n *NATS) Stop() {
	n.s.Shutdown()
	n.s.WaitForShutdown()
}

// natsLogger shows NATS's warnings and errors in the merged log, and turns
// a fatal error (such as its port being taken) into StartNATS's error.
type natsLogger struct {
	log   *MergedLog
	fatal chan error
}

func (l *natsLogger) Fatalf(format string, v ...any) {
	select {
	case l.fatal <- fmt.Errorf(format, v...):
	default:
	}
	l.line("ERROR", format, v...)
}
func (l *natsLogger) Errorf(format string, v ...any) { l.line("ERROR", format, v...) }
func (l *natsLogger) Warnf(format string, v ...any)  { l.line("WARN", format, v...) }
func (l *natsLogger) Noticef(string, ...any)         {}
func (l *natsLogger) Debugf(string, ...any)          {}
func (l *natsLogger) Tracef(string, ...any)          {}

func (l *natsLogger) line(level, format string, v ...any) {
	l.log.Line("nats", fmt.Appendf(nil, `{"time":%q,"level":%q,"msg":%q}`,
		time.Now().UTC().Format(time.RFC3339Nano), level, fmt.Sprintf(format, v...)))
}

var _ server.Logger = (*natsLogger)(nil)
