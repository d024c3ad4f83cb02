package etcddb

import (
	"context"

	clientv3 "go.etcd.io/etcd/client/v3"

	"diego/models"
)

// TaskWithRevision reads a task with the revision a CAS must compare.
func (e *ETCDDB) TaskWithRevision(ctx context.Context, guid string) (*models.Task, int64, error) {
	return e.task(ctx, guid)
}

// SwapTask is the compare-and-swap every task transition ends with.
func (e *ETCDDB) SwapTask(ctx context.Context, guid string, before, after *models.Task, rev int64) error {
	return e.swapTask(ctx, guid, before, after, rev)
}

// CompareAndDeleteTask is the guarded delete DeleteTask ends with.
func (e *ETCDDB) CompareAndDeleteTask(ctx context.Context, guid string, rev int64) error {
	return compareAndDelete(ctx, e.client, e.keys.Task(guid), rev, indexChange{})
}

// Encode and Decode expose the record codec.
var (
	Encode = encode
	Decode = decode
)

// SetRaceHook stages a race: hook runs inside every write, after each
// round's read and before its write; nil removes it.
func SetRaceHook(hook func(op string, attempt int)) { raceHook = hook }

// CASAttempts is how many rounds a write makes before giving up.
const CASAttempts = casAttempts

// LeaseSeconds is how an evacuation TTL becomes a lease.
var LeaseSeconds = leaseSeconds

// CacheServed is how many reads the record cache has answered, and whether
// it is live (-1 when the store has no cache).
func (e *ETCDDB) CacheServed() (int64, bool) {
	c, ok := e.kv.(*recordCache)
	if !ok {
		return -1, false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.served.Load(), c.ready
}

// SetCacheApplyHook runs hook before the record cache applies each watch
// response (a hook that blocks holds the cache behind etcd); nil removes it.
func SetCacheApplyHook(hook func()) {
	if hook == nil {
		cacheApplyHook.Store(nil)
		return
	}
	cacheApplyHook.Store(&hook)
}

// NewGroupKV is the group commit over kv, and how many writes wait in its
// queue.
func NewGroupKV(kv clientv3.KV) (clientv3.KV, func() int) {
	g := newGroupKV(kv)
	return g, g.queued
}

// GroupQueued is how many writes wait in the store's group commit queue
// (0 with SerialCommits).
func (e *ETCDDB) GroupQueued() int {
	g, ok := e.direct.(*groupKV)
	if !ok {
		return 0
	}
	return g.queued()
}

// GroupCommits is how many commits of several writes the store sent, and
// how many writes went in them.
func (e *ETCDDB) GroupCommits() (batches, writes int64) {
	g, ok := e.direct.(*groupKV)
	if !ok {
		return 0, 0
	}
	return g.batches.Load(), g.grouped.Load()
}

// SetGroupCommitHook runs hook before every commit with the number of
// writes in it (a hook that blocks holds the commit in flight); nil
// removes it.
func SetGroupCommitHook(hook func(writes int)) {
	if hook == nil {
		groupCommitHook.Store(nil)
		return
	}
	groupCommitHook.Store(&hook)
}

// MaxCommitsInFlight is how many commits the group sends before the first
// returns.
const MaxCommitsInFlight = maxCommitsInFlight
