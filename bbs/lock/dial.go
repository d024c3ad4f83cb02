package lock

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/tedsuo/ifrit"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"diego/deploy/clock"
	"diego/deploy/config"
	"diego/deploy/tlsconfig"
)

// DialTimeout bounds the first connection to etcd.
const DialTimeout = 5 * time.Second

// Dial connects to the etcd of cfg: the embedded server's plain URL, or an
// external cluster, with mutual TLS when the block names a client
// certificate. It lives here because only this package and bbs/db/etcddb
// may import the etcd client: every lock or presence holder (and the BBS,
// for its store) dials through it and passes the client along.
func Dial(cfg config.ETCD) (*clientv3.Client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, fmt.Errorf("etcd client: no endpoints")
	}
	c := clientv3.Config{
		Endpoints:   cfg.Endpoints,
		DialTimeout: DialTimeout,
		Logger:      zap.NewNop(),
		// Keep idle connections alive so a dead member is noticed and
		// requests move to another endpoint.
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
	}
	if cfg.TLS() {
		tc, err := tlsconfig.ClientConfig(cfg.CertFile, cfg.KeyFile, cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("etcd client TLS: %w", err)
		}
		c.TLS = tc
	}
	client, err := clientv3.New(c)
	if err != nil {
		return nil, fmt.Errorf("etcd client %v: %w", cfg.Endpoints, err)
	}
	return client, nil
}

// DialLock is how a lock-holding daemon (auctioneer, converger,
// route-emitter, nsync, tps) wires its lock from its config's lock block:
// it dials cfg.ETCD and returns the runner holding the lock called name
// under cfg.Root, with owner JSON-encoded as the lock's value (who holds
// it, for operators and, for the auctioneer, the BBS). The caller closes
// the returned client once the runner has stopped, and may use it
// meanwhile (the converger watches cell presences over it).
func DialLock(cfg config.Lock, name string, owner any, logger *slog.Logger, clk clock.Clock) (ifrit.Runner, *clientv3.Client, error) {
	value, err := json.Marshal(owner)
	if err != nil {
		return nil, nil, fmt.Errorf("lock %s: encoding its value: %w", name, err)
	}
	client, err := Dial(cfg.ETCD)
	if err != nil {
		return nil, nil, err
	}
	runner := NewLockRunner(Config{
		Key: LockKey(cfg.Root, name), Value: value,
		TTL: cfg.LockTTL.Duration(), RetryInterval: cfg.LockRetryInterval.Duration(),
	}, Deps{Logger: logger, Client: client, Clock: clk})
	return runner, client, nil
}
