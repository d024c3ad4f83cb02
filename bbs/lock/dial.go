package lock

import (
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

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
