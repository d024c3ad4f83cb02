package etcddb

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/btree"
	"github.com/tedsuo/ifrit"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// recordCache is a watch-fed copy of every key below the store's root
// (docs/benchmarks.md, decision 85). It is a clientv3.KV: reads (Get, and
// transactions made only of Gets) are served from memory behind a
// linearizable read barrier; everything else goes to etcd. A write's guard
// therefore compares against the revision the cache holds, and a guard
// that fails sends the write loop (race.go) round again, through a fresh
// barrier.
//
// The barrier: one quorum read of etcd's current revision R, shared by every
// read that arrived before it was sent, then a wait until the watch has
// applied R. A read thus sees every write that completed before it began,
// as a direct etcd read would, at the cost of one etcd request per batch of
// concurrent readers instead of one per read; up to maxBarrierRounds run at
// once (decision 132). While the watch is down (or lags by more than
// barrierWait) reads go to etcd directly. A write's first read skips the
// barrier (firstRead, decision 131), and a read through the cell index is
// one snapshot behind one barrier (indexed, decision 133).
type recordCache struct {
	kv     clientv3.KV
	client *clientv3.Client
	prefix string
	logger *slog.Logger

	mu       sync.RWMutex
	tree     *btree.BTreeG[*mvccpb.KeyValue]
	applied  int64         // every change up to here is in tree
	ready    bool          // tree mirrors etcd (the watch is live)
	advanced chan struct{} // closed and replaced whenever applied moves

	bmu      sync.Mutex
	next     *barrierRound // the round new readers join; nil when none waits
	inFlight int           // rounds sent and not yet answered

	served atomic.Int64 // reads answered from the tree

	// recent holds what this BBS's own transactions wrote until the watch
	// has applied it, so that a write's first read sees the BBS's previous
	// writes without waiting for the watch (a client's start right after
	// its claim). A nil value is a delete.
	rmu    sync.Mutex
	recent map[string]recentWrite
}

// barrierRound is one shared quorum read of etcd's revision.
type barrierRound struct {
	done chan struct{}
	rev  int64
	err  error
}

const (
	// barrierWait bounds how long a read waits for the watch to catch up
	// with the barrier before it reads etcd itself.
	barrierWait = 2 * time.Second
	// barrierTimeout bounds the shared quorum read.
	barrierTimeout = 5 * time.Second
	// maxBarrierRounds bounds the quorum reads in flight at once: a reader
	// that finds them all busy joins the round the first to return sends.
	maxBarrierRounds = 4
)

// cacheApplyHook, set by tests only (export_test.go), runs before the cache
// applies each watch response, so that a test can hold the cache behind
// etcd. Atomic: the cache's goroutine reads it while tests set it.
var cacheApplyHook atomic.Pointer[func()]

func keyLess(a, b *mvccpb.KeyValue) bool { return bytes.Compare(a.Key, b.Key) < 0 }

// RecordCache puts the record cache in front of the store: call it before
// the store serves anything. Reads go to etcd until the cache has loaded,
// then to the cache behind the read barrier. The runner keeps the cache in
// step with etcd; it is ready once the first load is in, so a BBS that
// waits for it opens its API with every read served from memory.
func (e *ETCDDB) RecordCache(logger *slog.Logger) ifrit.Runner {
	c := &recordCache{
		kv: e.direct, client: e.client, prefix: e.keys.Root() + "/", logger: logger,
		tree: btree.NewG(32, keyLess), advanced: make(chan struct{}), recent: map[string]recentWrite{},
	}
	e.kv = c
	return ifrit.RunFunc(func(signals <-chan os.Signal, ready chan<- struct{}) error {
		ctx, cancel := context.WithCancel(context.Background())
		loaded, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			c.run(ctx, loaded)
		}()
		select {
		case <-loaded:
			close(ready)
			<-signals
		case <-signals:
		}
		cancel()
		<-done
		return nil
	})
}

// EnableCache is RecordCache run until ctx ends, without waiting for the
// first load (tests, and tools that hold a store briefly).
func (e *ETCDDB) EnableCache(ctx context.Context, logger *slog.Logger) {
	p := ifrit.Background(e.RecordCache(logger))
	go func() {
		<-ctx.Done()
		p.Signal(os.Interrupt)
	}()
}

// run loads the prefix, then applies the watch from the revision after the
// load; a broken watch marks the cache down and starts over. loaded closes
// after the first load.
func (c *recordCache) run(ctx context.Context, loaded chan struct{}) {
	var once sync.Once
	for ctx.Err() == nil {
		if err := c.follow(ctx, func() { once.Do(func() { close(loaded) }) }); err != nil && ctx.Err() == nil {
			c.logger.Error("record-cache-watch-broken-reloading", "error", err)
		}
		c.mu.Lock()
		c.ready = false
		c.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(watchRetryInterval):
		}
	}
}

func (c *recordCache) follow(ctx context.Context, loaded func()) error {
	resp, err := c.kv.Get(ctx, c.prefix, clientv3.WithPrefix())
	if err != nil {
		return err
	}
	tree := btree.NewG(32, keyLess)
	for _, kv := range resp.Kvs {
		tree.ReplaceOrInsert(kv)
	}
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	watch := c.client.Watch(wctx, c.prefix, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1), clientv3.WithProgressNotify())
	c.mu.Lock()
	c.tree, c.ready = tree, true
	c.advance(resp.Header.Revision)
	c.mu.Unlock()
	loaded()
	for wr := range watch {
		if err := wr.Err(); err != nil {
			return err
		}
		if hook := cacheApplyHook.Load(); hook != nil {
			(*hook)()
		}
		c.mu.Lock()
		for _, ev := range wr.Events {
			if ev.Type == clientv3.EventTypeDelete {
				c.tree.Delete(ev.Kv)
			} else {
				c.tree.ReplaceOrInsert(ev.Kv)
			}
		}
		rev := wr.Header.Revision
		if n := len(wr.Events); n > 0 && !wr.IsProgressNotify() {
			// An event response's header may run ahead of its events;
			// only a progress notification vouches for a quiet revision.
			rev = wr.Events[n-1].Kv.ModRevision
		}
		c.advance(rev)
		c.mu.Unlock()
	}
	return ctx.Err()
}

// advance records that every change up to rev is applied; c.mu is held.
func (c *recordCache) advance(rev int64) {
	if rev > c.applied {
		c.applied = rev
		close(c.advanced)
		c.advanced = make(chan struct{})
	}
}

// barrier returns once the cache holds every write that completed before
// it was called; false means the cache cannot say so in time and the read
// must go to etcd.
func (c *recordCache) barrier(ctx context.Context) bool {
	c.mu.RLock()
	ready := c.ready
	c.mu.RUnlock()
	if !ready {
		return false
	}
	c.bmu.Lock()
	if c.next == nil {
		c.next = &barrierRound{done: make(chan struct{})}
	}
	round := c.next
	if c.inFlight < maxBarrierRounds {
		// A free slot: send the round now rather than behind one that
		// was sent before this reader arrived.
		c.inFlight++
		c.next = nil
		go c.runBarriers(round)
	}
	c.bmu.Unlock()
	select {
	case <-round.done:
	case <-ctx.Done():
		return false
	}
	if round.err != nil {
		return false
	}
	return c.waitApplied(ctx, round.rev)
}

// waitApplied returns once the watch has applied rev; false if the cache
// goes down, or cannot catch up within barrierWait.
func (c *recordCache) waitApplied(ctx context.Context, rev int64) bool {
	timeout := time.NewTimer(barrierWait)
	defer timeout.Stop()
	for {
		c.mu.RLock()
		applied, ready, advanced := c.applied, c.ready, c.advanced
		c.mu.RUnlock()
		if !ready {
			return false
		}
		if applied >= rev {
			return true
		}
		select {
		case <-advanced:
		case <-timeout.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// runBarriers sends round, then the round readers joined meanwhile, while
// readers keep joining; up to maxBarrierRounds run at once. A round is sent
// only after every reader in it arrived, so the revision it reads is at
// least that of any write those readers could have seen complete.
func (c *recordCache) runBarriers(round *barrierRound) {
	for round != nil {
		ctx, cancel := context.WithTimeout(context.Background(), barrierTimeout)
		resp, err := c.kv.Get(ctx, c.prefix+"barrier", clientv3.WithCountOnly())
		if err == nil {
			round.rev = resp.Header.Revision
			c.mu.RLock()
			behind := c.applied < round.rev
			c.mu.RUnlock()
			if behind {
				// Nothing below the prefix may change at that revision:
				// ask the watch to say how far it has got.
				_ = c.client.RequestProgress(ctx)
			}
		}
		cancel()
		round.err = err
		close(round.done)
		c.bmu.Lock()
		round, c.next = c.next, nil
		if round == nil {
			c.inFlight--
		}
		c.bmu.Unlock()
	}
}

// serve answers a Get op from the tree; c.mu is held.
func (c *recordCache) serve(op clientv3.Op) *pb.RangeResponse {
	resp := &pb.RangeResponse{Header: &pb.ResponseHeader{Revision: c.applied}}
	key, end := op.KeyBytes(), op.RangeBytes()
	add := func(kv *mvccpb.KeyValue) bool {
		resp.Count++
		if op.IsCountOnly() {
			return true
		}
		if op.IsKeysOnly() {
			kv = &mvccpb.KeyValue{Key: kv.Key, CreateRevision: kv.CreateRevision, ModRevision: kv.ModRevision, Version: kv.Version, Lease: kv.Lease}
		}
		resp.Kvs = append(resp.Kvs, kv)
		return true
	}
	switch {
	case len(end) == 0:
		if kv, ok := c.tree.Get(&mvccpb.KeyValue{Key: key}); ok {
			add(kv)
		}
	default:
		c.tree.AscendRange(&mvccpb.KeyValue{Key: key}, &mvccpb.KeyValue{Key: end}, add)
	}
	return resp
}

// indexed reads through an index in one snapshot behind one barrier: the
// keys under indexPrefix, each turned into its record's key by recordKey,
// and the records they name that exist, in index order. ok is false when
// the cache cannot answer; the caller then reads etcd.
func (c *recordCache) indexed(ctx context.Context, indexPrefix string, recordKey func(indexKey string) (string, bool)) (kvs []*mvccpb.KeyValue, ok bool) {
	if !strings.HasPrefix(indexPrefix, c.prefix) || !c.barrier(ctx) {
		return nil, false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.ready {
		return nil, false
	}
	c.served.Add(1)
	c.tree.AscendRange(&mvccpb.KeyValue{Key: []byte(indexPrefix)}, &mvccpb.KeyValue{Key: []byte(prefixEnd(indexPrefix))}, func(ikv *mvccpb.KeyValue) bool {
		if key, ok := recordKey(string(ikv.Key)); ok {
			if kv, found := c.tree.Get(&mvccpb.KeyValue{Key: []byte(key)}); found {
				kvs = append(kvs, kv)
			}
		}
		return true
	})
	return kvs, true
}

// servable says whether the cache can answer op: a plain Get below the
// prefix, at the cache's revision (or the latest).
func (c *recordCache) servable(op clientv3.Op) bool {
	if !op.IsGet() || op.Limit() != 0 || op.IsSortSet() || op.MinModRev() != 0 || op.MaxModRev() != 0 ||
		op.MinCreateRev() != 0 || op.MaxCreateRev() != 0 || !bytes.HasPrefix(op.KeyBytes(), []byte(c.prefix)) {
		return false
	}
	end := op.RangeBytes()
	if len(end) == 1 && end[0] == 0 {
		return false // a from-key read runs past the prefix
	}
	return len(end) == 0 || bytes.Compare(end, []byte(prefixEnd(c.prefix))) <= 0
}

func prefixEnd(prefix string) string { return clientv3.GetPrefixRangeEnd(prefix) }

// Get serves a read from the cache when it can, else from etcd.
func (c *recordCache) Get(ctx context.Context, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	op := clientv3.OpGet(key, opts...)
	if wr := roundOf(ctx); wr != nil && wr.skipBarrier {
		// A write's first read (retryFromCache): its compare checks it.
		wr.skipBarrier = false
		if resp := c.firstRead(op); resp != nil {
			wr.unguarded = true
			return (*clientv3.GetResponse)(resp), nil
		}
	}
	if c.servable(op) && c.barrier(ctx) {
		c.mu.RLock()
		ok := c.ready && (op.Rev() == 0 || op.Rev() == c.applied)
		var resp *pb.RangeResponse
		if ok {
			resp = c.serve(op)
			c.served.Add(1)
		}
		c.mu.RUnlock()
		if ok {
			return (*clientv3.GetResponse)(resp), nil
		}
	}
	return c.kv.Get(ctx, key, opts...)
}

// recentWrite is a key as one of this BBS's transactions left it.
type recentWrite struct {
	kv  *mvccpb.KeyValue // nil: deleted
	rev int64
}

// maxRecent bounds the recent writes kept; past it the applied ones are
// swept.
const maxRecent = 4096

// remember records the puts and single-key deletes of a transaction that
// succeeded at rev.
func (c *recordCache) remember(rev int64, ops []clientv3.Op) {
	c.mu.RLock()
	applied := c.applied
	c.mu.RUnlock()
	if rev <= applied {
		return
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if len(c.recent) >= maxRecent {
		for k, w := range c.recent {
			if w.rev <= applied {
				delete(c.recent, k)
			}
		}
		if len(c.recent) >= maxRecent {
			return // the watch is far behind: first reads will lose their compare instead
		}
	}
	for _, op := range ops {
		key := string(op.KeyBytes())
		switch {
		case op.IsPut():
			c.recent[key] = recentWrite{kv: &mvccpb.KeyValue{Key: op.KeyBytes(), Value: op.ValueBytes(), ModRevision: rev}, rev: rev}
		case op.IsDelete() && len(op.RangeBytes()) == 0:
			c.recent[key] = recentWrite{rev: rev}
		}
	}
}

// firstRead answers a write's first read of one key without the barrier:
// the cached record, or this BBS's own later write of it. nil when the
// cache cannot answer.
func (c *recordCache) firstRead(op clientv3.Op) *pb.RangeResponse {
	if len(op.RangeBytes()) != 0 || op.Rev() != 0 || op.IsCountOnly() || op.IsKeysOnly() || !c.servable(op) {
		return nil
	}
	c.mu.RLock()
	if !c.ready {
		c.mu.RUnlock()
		return nil
	}
	resp := c.serve(op)
	applied := c.applied
	c.mu.RUnlock()
	c.served.Add(1)
	key := string(op.KeyBytes())
	c.rmu.Lock()
	w, ok := c.recent[key]
	if ok && w.rev <= applied {
		delete(c.recent, key) // the tree has it, or something later
		ok = false
	}
	c.rmu.Unlock()
	if ok {
		resp.Kvs, resp.Count = nil, 0
		if w.kv != nil {
			resp.Kvs, resp.Count = []*mvccpb.KeyValue{w.kv}, 1
		}
	}
	return resp
}

func (c *recordCache) Put(ctx context.Context, key, val string, opts ...clientv3.OpOption) (*clientv3.PutResponse, error) {
	return c.kv.Put(ctx, key, val, opts...)
}

func (c *recordCache) GetStream(ctx context.Context, key string, opts ...clientv3.OpOption) (clientv3.GetStreamChan, error) {
	return c.kv.GetStream(ctx, key, opts...)
}

func (c *recordCache) Delete(ctx context.Context, key string, opts ...clientv3.OpOption) (*clientv3.DeleteResponse, error) {
	return c.kv.Delete(ctx, key, opts...)
}

func (c *recordCache) Compact(ctx context.Context, rev int64, opts ...clientv3.CompactOption) (*clientv3.CompactResponse, error) {
	return c.kv.Compact(ctx, rev, opts...)
}

func (c *recordCache) Do(ctx context.Context, op clientv3.Op) (clientv3.OpResponse, error) {
	return c.kv.Do(ctx, op)
}

// Txn serves a transaction of Gets alone from the cache (one snapshot, at
// one revision); any other goes to etcd.
func (c *recordCache) Txn(ctx context.Context) clientv3.Txn {
	return &cachedTxn{c: c, ctx: ctx}
}

type cachedTxn struct {
	c              *recordCache
	ctx            context.Context
	cmps           []clientv3.Cmp
	thenOps, elses []clientv3.Op
}

func (t *cachedTxn) If(cs ...clientv3.Cmp) clientv3.Txn {
	t.cmps = append(t.cmps, cs...)
	return t
}

func (t *cachedTxn) Then(ops ...clientv3.Op) clientv3.Txn {
	t.thenOps = append(t.thenOps, ops...)
	return t
}

func (t *cachedTxn) Else(ops ...clientv3.Op) clientv3.Txn {
	t.elses = append(t.elses, ops...)
	return t
}

func (t *cachedTxn) Commit() (*clientv3.TxnResponse, error) {
	if resp := t.fromCache(); resp != nil {
		return resp, nil
	}
	resp, err := t.c.kv.Txn(t.ctx).If(t.cmps...).Then(t.thenOps...).Else(t.elses...).Commit()
	if err == nil && resp.Succeeded {
		t.c.remember(resp.Header.GetRevision(), t.thenOps)
	}
	return resp, err
}

// fromCache answers a read-only transaction, or nil.
func (t *cachedTxn) fromCache() *clientv3.TxnResponse {
	if len(t.cmps) > 0 || len(t.elses) > 0 || len(t.thenOps) == 0 {
		return nil
	}
	for _, op := range t.thenOps {
		if !t.c.servable(op) {
			return nil
		}
	}
	if !t.c.barrier(t.ctx) {
		return nil
	}
	c := t.c
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.ready {
		return nil
	}
	for _, op := range t.thenOps {
		if op.Rev() != 0 && op.Rev() != c.applied {
			return nil // an earlier snapshot: etcd still has it
		}
	}
	c.served.Add(1)
	resp := &pb.TxnResponse{Header: &pb.ResponseHeader{Revision: c.applied}, Succeeded: true}
	for _, op := range t.thenOps {
		resp.Responses = append(resp.Responses, &pb.ResponseOp{Response: &pb.ResponseOp_ResponseRange{ResponseRange: c.serve(op)}})
	}
	return (*clientv3.TxnResponse)(resp)
}
