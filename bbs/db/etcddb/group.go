package etcddb

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// groupKV is a clientv3.KV that commits concurrent guarded writes together
// (decision 180). A write transaction that finds a commit slot free and
// nothing queued goes to etcd at once, alone, exactly as it would without the
// group. One that arrives while every slot (maxCommitsInFlight) is taken
// queues; when a commit returns, the queue goes to etcd as ONE transaction
// whose Then holds one sub-transaction per write, each with its own compare,
// Then and Else. Each caller gets its own sub-transaction's outcome, so a
// failed compare is that write's lost race and nobody else's. Reads and
// everything but Txn pass straight through.
//
// Writes to one key
// reach etcd in the order they queued: a write touching a key that an
// earlier queued write, or a commit in flight, touches waits for a later
// batch (etcd also refuses one transaction that puts, or puts and deletes,
// one key twice, and evaluates every sub-transaction's compare before any
// of its writes).
type groupKV struct {
	clientv3.KV

	mu       sync.Mutex
	inFlight int            // commits sent and not yet answered
	busyKeys map[string]int // the keys of those commits' writes, counted
	queue    []*pendingTxn

	batches atomic.Int64 // group commits sent with more than one write
	grouped atomic.Int64 // writes sent in them
}

const (
	// maxCommitsInFlight bounds the commits sent and not yet answered: a
	// second one lets the next batch go while the first is still in raft.
	maxCommitsInFlight = 2
	// maxBatchBytes bounds the keys and values of one group commit, well
	// inside etcd's default --max-request-bytes (1.5 MiB). A write larger
	// than this on its own still goes, alone.
	maxBatchBytes = 512 << 10
	// opOverhead is an allowance per op for the encoding around its key
	// and value.
	opOverhead = 32
)

// groupCommitHook, set by tests only (export_test.go), runs before each
// commit with the number of writes in it, so that a test can hold a commit
// in flight while others queue.
var groupCommitHook atomic.Pointer[func(writes int)]

func newGroupKV(kv clientv3.KV) *groupKV { return &groupKV{KV: kv, busyKeys: map[string]int{}} }

// Txn returns a transaction that joins the group when it writes.
func (g *groupKV) Txn(ctx context.Context) clientv3.Txn { return &groupTxn{g: g, ctx: ctx} }

type groupTxn struct {
	g              *groupKV
	ctx            context.Context
	cmps           []clientv3.Cmp
	thenOps, elses []clientv3.Op
}

func (t *groupTxn) If(cs ...clientv3.Cmp) clientv3.Txn {
	t.cmps = append(t.cmps, cs...)
	return t
}

func (t *groupTxn) Then(ops ...clientv3.Op) clientv3.Txn {
	t.thenOps = append(t.thenOps, ops...)
	return t
}

func (t *groupTxn) Else(ops ...clientv3.Op) clientv3.Txn {
	t.elses = append(t.elses, ops...)
	return t
}

func (t *groupTxn) Commit() (*clientv3.TxnResponse, error) {
	p, ok := newPending(t.ctx, t.cmps, t.thenOps, t.elses)
	if !ok {
		// Reads, and writes the group cannot place (ranges, nested
		// transactions), go on their own.
		return t.g.KV.Txn(t.ctx).If(t.cmps...).Then(t.thenOps...).Else(t.elses...).Commit()
	}
	return t.g.commit(p)
}

// pendingTxn is one caller's write transaction and, once done closes, its
// outcome.
type pendingTxn struct {
	ctx         context.Context
	cmps        []clientv3.Cmp
	then, elses []clientv3.Op
	keys        []string // every key it compares, puts or deletes
	ops         int      // its largest branch, as etcd counts it
	size        int

	taken bool // sent (or being sent); guarded by groupKV.mu
	done  chan struct{}
	resp  *clientv3.TxnResponse
	err   error
}

// newPending describes a write transaction; false when it only reads or
// holds an op whose keys cannot be listed (a range delete, a nested
// transaction).
func newPending(ctx context.Context, cmps []clientv3.Cmp, then, elses []clientv3.Op) (*pendingTxn, bool) {
	p := &pendingTxn{ctx: ctx, cmps: cmps, then: then, elses: elses, done: make(chan struct{})}
	p.ops = max(len(cmps), len(then), len(elses))
	writes := false
	for _, c := range cmps {
		if len(c.GetCompare().GetRangeEnd()) != 0 {
			return nil, false
		}
		p.keys = append(p.keys, string(c.KeyBytes()))
		p.size += len(c.KeyBytes()) + len(c.ValueBytes()) + opOverhead
	}
	for _, branch := range [][]clientv3.Op{then, elses} {
		for _, op := range branch {
			switch {
			case op.IsTxn() || len(op.RangeBytes()) != 0:
				return nil, false
			case op.IsPut() || op.IsDelete():
				writes = true
			}
			p.keys = append(p.keys, string(op.KeyBytes()))
			p.size += len(op.KeyBytes()) + len(op.ValueBytes()) + opOverhead
		}
	}
	return p, writes
}

// commit queues p and, when a commit slot is free, sends the batch that
// can go now (p alone when nothing else waits) from the caller's goroutine;
// else p waits for a later group commit. It returns p's own outcome.
func (g *groupKV) commit(p *pendingTxn) (*clientv3.TxnResponse, error) {
	g.mu.Lock()
	g.queue = append(g.queue, p)
	var batch []*pendingTxn
	if g.inFlight < maxCommitsInFlight {
		if batch = g.next(); len(batch) > 0 {
			g.start(batch)
		}
	}
	g.mu.Unlock()
	if len(batch) > 0 {
		g.send(batch)
		g.finish(batch)
	}
	select {
	case <-p.done:
		return p.resp, p.err
	case <-p.ctx.Done():
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !p.taken {
		// Never sent: it is as if it was never asked.
		g.queue = removePending(g.queue, p)
		return nil, p.ctx.Err()
	}
	select {
	case <-p.done:
		return p.resp, p.err
	default:
		// Sent and not answered: like a cancelled etcd request, the
		// outcome is unknown to the caller.
		return nil, p.ctx.Err()
	}
}

func (g *groupKV) touchesBusy(p *pendingTxn) bool {
	for _, k := range p.keys {
		if g.busyKeys[k] > 0 {
			return true
		}
	}
	return false
}

// start takes a commit slot for batch and marks its keys busy; g.mu is
// held.
func (g *groupKV) start(batch []*pendingTxn) {
	g.inFlight++
	for _, p := range batch {
		p.taken = true
		for _, k := range p.keys {
			g.busyKeys[k]++
		}
	}
}

// finish frees batch's slot and keys, and sends what can go now in other
// goroutines, so that the caller whose commit just returned does not wait
// for the others'.
func (g *groupKV) finish(batch []*pendingTxn) {
	g.mu.Lock()
	g.inFlight--
	for _, p := range batch {
		for _, k := range p.keys {
			if g.busyKeys[k]--; g.busyKeys[k] <= 0 {
				delete(g.busyKeys, k)
			}
		}
	}
	var ready [][]*pendingTxn
	for g.inFlight < maxCommitsInFlight {
		next := g.next()
		if len(next) == 0 {
			break
		}
		g.start(next)
		ready = append(ready, next)
	}
	g.mu.Unlock()
	for _, next := range ready {
		go func() {
			g.send(next)
			g.finish(next)
		}()
	}
}

// next takes the next batch off the queue: the queued writes in order,
// skipping (for a later batch) any that touches a key an earlier queued
// write or a commit in flight touches, or that would take the batch past
// etcd's op limit or maxBatchBytes; g.mu is held.
func (g *groupKV) next() []*pendingTxn {
	var (
		batch    []*pendingTxn
		rest     = g.queue[:0:0]
		seen     = map[string]bool{}
		widest   int
		size     int
		blocking bool
	)
	for _, p := range g.queue {
		blocking = g.touchesBusy(p)
		for _, k := range p.keys {
			if seen[k] {
				blocking = true
				break
			}
		}
		fits := len(batch) == 0 ||
			(len(batch)+1+max(widest, p.ops) <= maxTxnOps && size+p.size <= maxBatchBytes)
		for _, k := range p.keys {
			seen[k] = true
		}
		if blocking || !fits {
			rest = append(rest, p)
			continue
		}
		batch = append(batch, p)
		widest = max(widest, p.ops)
		size += p.size
	}
	g.queue = rest
	return batch
}

// send commits batch: one write as the plain transaction it is, several as
// sub-transactions of one, and closes each write's done with its outcome.
func (g *groupKV) send(batch []*pendingTxn) {
	if hook := groupCommitHook.Load(); hook != nil {
		(*hook)(len(batch))
	}
	if len(batch) == 1 {
		p := batch[0]
		p.commitAlone(g.KV)
		return
	}
	ops := make([]clientv3.Op, len(batch))
	for i, p := range batch {
		ops[i] = clientv3.OpTxn(p.cmps, p.then, p.elses)
	}
	ctx, cancel := mergedContext(batch)
	resp, err := g.KV.Txn(ctx).Then(ops...).Commit()
	cancel()
	if err == nil && len(resp.Responses) != len(batch) {
		err = fmt.Errorf("group commit of %d writes answered %d responses", len(batch), len(resp.Responses))
	}
	if refusedBeforeApply(err) {
		// etcd applied none of it: each write may safely go alone.
		for _, p := range batch {
			p.commitAlone(g.KV)
		}
		return
	}
	g.batches.Add(1)
	g.grouped.Add(int64(len(batch)))
	for i, p := range batch {
		if err != nil {
			p.err = err
		} else {
			sub := resp.Responses[i].GetResponseTxn()
			if sub == nil {
				p.err = fmt.Errorf("group commit: write %d answered no transaction response", i)
			} else {
				p.resp = &clientv3.TxnResponse{Header: resp.Header, Succeeded: sub.Succeeded, Responses: sub.Responses}
			}
		}
		close(p.done)
	}
}

// refusedBeforeApply says whether etcd refused a request while checking it,
// so that nothing in it was applied: before raft (too many ops, a duplicate
// or empty key, too large), or in its apply's check of the chosen branch
// before any write (a lease that is gone, an ignore_value or ignore_lease put
// of a missing key). A write with an expired lease must fail alone, not
// every write that shared its batch.
func refusedBeforeApply(err error) bool {
	// clientv3 hands back its errors already through rpctypes.Error.
	switch rpctypes.Error(err) {
	case rpctypes.ErrTooManyOps, rpctypes.ErrDuplicateKey, rpctypes.ErrRequestTooLarge, rpctypes.ErrEmptyKey,
		rpctypes.ErrLeaseNotFound, rpctypes.ErrKeyNotFound:
		return true
	}
	return false
}

// commitAlone sends p as the plain transaction it is and closes its done.
func (p *pendingTxn) commitAlone(kv clientv3.KV) {
	p.resp, p.err = kv.Txn(p.ctx).If(p.cmps...).Then(p.then...).Else(p.elses...).Commit()
	close(p.done)
}

// mergedContext lives until every write in batch has given up (cancelled
// or past its deadline), so that one caller leaving does not cancel the
// others' writes. It carries the first write's values.
func mergedContext(batch []*pendingTxn) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(batch[0].ctx))
	var live atomic.Int64
	live.Store(int64(len(batch)))
	stops := make([]func() bool, len(batch))
	for i, p := range batch {
		stops[i] = context.AfterFunc(p.ctx, func() {
			if live.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}

// queued is how many writes wait for a commit.
func (g *groupKV) queued() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queue)
}

func removePending(queue []*pendingTxn, p *pendingTxn) []*pendingTxn {
	for i, q := range queue {
		if q == p {
			return append(queue[:i], queue[i+1:]...)
		}
	}
	return queue
}
