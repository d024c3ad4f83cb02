package etcddb

import (
	"context"
	"log/slog"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"diego/bbs/db"
	"diego/deploy/logging"
	"diego/models"
)

var _ db.DomainDB = (*ETCDDB)(nil)

// FreshDomains lists the domains whose key has not expired.
func (e *ETCDDB) FreshDomains(ctx context.Context, logger *slog.Logger) ([]string, error) {
	prefix := e.keys.DomainPrefix()
	resp, err := e.kv.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, etcdError("range", prefix, err)
	}
	domains := make([]string, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		if d := strings.TrimPrefix(string(kv.Key), prefix); d != "" {
			domains = append(domains, d)
		}
	}
	return domains, nil
}

// UpsertDomain marks domain fresh for ttl under a new lease (no lease when
// ttl is 0). This is a blind put, as the spec allows for domains (§4.2): the
// key carries no record. The lease the key had before is revoked.
func (e *ETCDDB) UpsertDomain(ctx context.Context, logger *slog.Logger, domain string, ttl time.Duration) error {
	logger = logging.Session(logger, "upsert-domain", "domain", domain, "ttl", ttl.String())
	if domain == "" {
		return models.NewError(models.Error_InvalidRequest, "Invalid field: domain")
	}
	key := e.keys.Domain(domain)
	opts := []clientv3.OpOption{clientv3.WithPrevKV()}
	if ttl > 0 {
		lease, err := grantLease(ctx, e.client, key, ttl)
		if err != nil {
			return err
		}
		opts = append(opts, clientv3.WithLease(lease))
	}
	resp, err := e.kv.Put(ctx, key, "", opts...)
	if err != nil {
		return etcdError("put", key, err)
	}
	if prev := resp.PrevKv; prev != nil && prev.Lease != 0 {
		// The key has moved off its old lease; dropping the lease keeps
		// repeated upserts from piling leases up until they expire.
		if _, err := e.client.Revoke(ctx, clientv3.LeaseID(prev.Lease)); err != nil {
			logger.Debug("failed-to-revoke-old-lease", "error", err)
		}
	}
	logger.Debug("upserted")
	return nil
}
