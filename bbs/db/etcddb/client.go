package etcddb

import (
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"diego/deploy/tlsconfig"
)

// ClientConfig says how to reach etcd: the embedded server's plain URL, or an
// external cluster, optionally with mutual TLS.
type ClientConfig struct {
	Endpoints                 []string
	CAFile, CertFile, KeyFile string
	DialTimeout               time.Duration
}

// NewClient connects to etcd. It lives here because only this package and
// bbs/lock may import the etcd client; daemons pass the result along.
func NewClient(cfg ClientConfig) (*clientv3.Client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, fmt.Errorf("etcd client: no endpoints")
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	c := clientv3.Config{
		Endpoints:   cfg.Endpoints,
		DialTimeout: cfg.DialTimeout,
		Logger:      zap.NewNop(),
		// Keep idle connections alive so a dead member is noticed and
		// requests move to another endpoint.
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
	}
	if cfg.CertFile != "" || cfg.CAFile != "" {
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
