// Package lock keeps Diego's locks and cell presences in etcd v3 under
// leases (spec core.md §4.5, §5.9).
//
// A lock is a key created with Txn(If CreateRevision(key) == 0, Then
// Put(key, value, lease)); whoever created it holds it while the lease
// lives. A holder that loses its lock (keep-alive ended, lease expired or
// revoked, key deleted or overwritten) stops at once: its runner returns an
// error wrapping ErrLockLost, so its ifrit group exits non-zero and the
// process is restarted (the 2015 "exit on loss" rule). A presence is the
// same kind of key, but a lost presence is written again instead.
//
// This is, with bbs/db/etcddb, the only package that imports the etcd client.
package lock

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

const (
	// DefaultRoot is the etcd prefix every diego key lives under.
	DefaultRoot = "/diego"
	// DefaultTTL is the lease TTL of locks and presences (locket's).
	DefaultTTL = 15 * time.Second
	// DefaultRetryInterval is how often a waiting runner retries even
	// when its watch reports nothing.
	DefaultRetryInterval = 5 * time.Second
)

// requestTimeout bounds each etcd request, so an unreachable etcd turns
// into a logged error and a retry instead of a hang.
const requestTimeout = 5 * time.Second

var (
	// ErrLockLost is wrapped by the error a lock runner returns when it
	// loses a lock it held.
	ErrLockLost = errors.New("lock lost")
	// ErrNotFound is returned by Value when the key does not exist.
	ErrNotFound = errors.New("lock key not found")
)

// LockKey is the key of the lock called name: <root>/v1/locks/<name>.
func LockKey(root, name string) string {
	return root + "/v1/locks/" + name
}

// PresenceKey is the key of a cell's presence: <root>/v1/cell/<cell_id>.
func PresenceKey(root, cellID string) string {
	return presencePrefix(root) + cellID
}

func presencePrefix(root string) string {
	return root + "/v1/cell/"
}

// Config describes one lock or presence.
type Config struct {
	// Key is the full etcd key, from LockKey or PresenceKey.
	Key string
	// Value is the owner's JSON, e.g. {"auctioneer_id":..,"auctioneer_address":..},
	// or the CellPresence JSON.
	Value []byte
	// TTL is the lease TTL; zero means DefaultTTL. etcd leases count whole
	// seconds, so it is rounded up (and etcd itself may raise very short
	// TTLs to its minimum, about 2 s).
	TTL time.Duration
	// RetryInterval is how often a runner that waits for the key retries;
	// zero means DefaultRetryInterval.
	RetryInterval time.Duration
}

// ttlSeconds rounds the TTL up to whole seconds, at least one.
func (c Config) ttlSeconds() int64 {
	ttl := c.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	s := int64((ttl + time.Second - 1) / time.Second)
	return max(s, 1)
}

func (c Config) retryInterval() time.Duration {
	if c.RetryInterval <= 0 {
		return DefaultRetryInterval
	}
	return c.RetryInterval
}

// Value reads the current value of a lock or presence key, such as the
// auctioneer's address from its lock. It returns ErrNotFound when the key
// is absent.
func Value(ctx context.Context, client *clientv3.Client, key string) ([]byte, error) {
	resp, err := client.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, fmt.Errorf("reading %s: %w", key, ErrNotFound)
	}
	return resp.Kvs[0].Value, nil
}

// Presences lists every cell presence under root: cell id → value.
func Presences(ctx context.Context, client *clientv3.Client, root string) (map[string][]byte, error) {
	presences, _, err := listPresences(ctx, client, root)
	return presences, err
}

// listPresences also returns the revision the list was read at, so a watch
// can resume right after it.
func listPresences(ctx context.Context, client *clientv3.Client, root string) (map[string][]byte, int64, error) {
	prefix := presencePrefix(root)
	resp, err := client.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, fmt.Errorf("listing presences under %s: %w", prefix, err)
	}
	presences := make(map[string][]byte, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		presences[strings.TrimPrefix(string(kv.Key), prefix)] = kv.Value
	}
	return presences, resp.Header.Revision, nil
}

// Reader reads lock and presence values for packages that must not name
// the etcd client (DESIGN.md's import rules): the BBS finds the active
// auctioneer through it.
type Reader struct {
	client *clientv3.Client
}

// NewReader reads through client.
func NewReader(client *clientv3.Client) *Reader { return &Reader{client: client} }

// Value is Value(ctx, client, key).
func (r *Reader) Value(ctx context.Context, key string) ([]byte, error) {
	return Value(ctx, r.client, key)
}
