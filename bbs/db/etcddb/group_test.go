package etcddb_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	clientv3 "go.etcd.io/etcd/client/v3"

	"diego/bbs/db/etcddb"
	"diego/deploy/clock/fakeclock"
	"diego/deploy/logging"
	"diego/models"
)

// failingKV is the etcd client whose write transactions fail with err
// while it is set.
type failingKV struct {
	clientv3.KV
	mu  sync.Mutex
	err error
}

func (f *failingKV) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *failingKV) Txn(ctx context.Context) clientv3.Txn {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return failingTxn{err: f.err}
	}
	return f.KV.Txn(ctx)
}

type failingTxn struct{ err error }

func (t failingTxn) If(...clientv3.Cmp) clientv3.Txn  { return t }
func (t failingTxn) Then(...clientv3.Op) clientv3.Txn { return t }
func (t failingTxn) Else(...clientv3.Op) clientv3.Txn { return t }
func (t failingTxn) Commit() (*clientv3.TxnResponse, error) {
	return nil, t.err
}

type txnResult struct {
	resp *clientv3.TxnResponse
	err  error
}

var _ = Describe("Group commit", func() {
	var (
		kv     clientv3.KV
		queued func() int

		hookMu   sync.Mutex
		commits  []int  // the number of writes in each commit, in order
		released func() // lets the held first commit go
	)

	commitSizes := func() []int {
		hookMu.Lock()
		defer hookMu.Unlock()
		return append([]int(nil), commits...)
	}

	BeforeEach(func() {
		kv, queued = etcddb.NewGroupKV(etcdClient)
		commits = nil
		gate := make(chan struct{})
		var once sync.Once
		released = func() { once.Do(func() { close(gate) }) }
		etcddb.SetGroupCommitHook(func(writes int) {
			hookMu.Lock()
			commits = append(commits, writes)
			hookMu.Unlock()
			<-gate // hold every commit in flight until released
		})
		DeferCleanup(func() {
			released()
			etcddb.SetGroupCommitHook(nil)
		})
	})

	// commitAsync sends a transaction in the background; its outcome
	// arrives on the channel.
	commitAsync := func(c context.Context, cmps []clientv3.Cmp, ops ...clientv3.Op) <-chan txnResult {
		out := make(chan txnResult, 1)
		go func() {
			defer GinkgoRecover()
			resp, err := kv.Txn(c).If(cmps...).Then(ops...).Commit()
			out <- txnResult{resp, err}
		}()
		return out
	}

	// holdFirst sends a write per commit slot, which the hook holds in
	// flight, so that the writes after them queue.
	holdFirst := func() <-chan txnResult {
		held := make(chan txnResult, etcddb.MaxCommitsInFlight)
		for i := range etcddb.MaxCommitsInFlight {
			out := commitAsync(ctx(), nil, clientv3.OpPut(fmt.Sprintf("/group/held-%d", i), "x"))
			go func() { held <- <-out }()
			Eventually(commitSizes).Should(HaveLen(i + 1))
		}
		Expect(commitSizes()).To(HaveEach(1))
		return held
	}

	// heldThen is the commits holdFirst sent, then those of the batches after
	// them, in any order.
	heldThen := func(sizes ...int) []int {
		return append(slices.Repeat([]int{1}, etcddb.MaxCommitsInFlight), sizes...)
	}
	// receiveHeld waits for holdFirst's writes.
	receiveHeld := func(ch <-chan txnResult) []txnResult {
		GinkgoHelper()
		out := make([]txnResult, etcddb.MaxCommitsInFlight)
		for i := range out {
			Eventually(ch).Should(Receive(&out[i]))
		}
		return out
	}

	// enqueue sends a write and waits until it is queued, so that the
	// queue's order is the order of the calls.
	enqueue := func(c context.Context, cmps []clientv3.Cmp, ops ...clientv3.Op) <-chan txnResult {
		n := queued()
		out := commitAsync(c, cmps, ops...)
		Eventually(queued).Should(Equal(n + 1))
		return out
	}

	receive := func(ch <-chan txnResult) txnResult {
		GinkgoHelper()
		var r txnResult
		Eventually(ch).Should(Receive(&r))
		return r
	}

	valueOf := func(key string) string {
		GinkgoHelper()
		v, ok := rawValue(key)
		Expect(ok).To(BeTrue(), key)
		return string(v)
	}

	modRevision := func(key string) int64 {
		GinkgoHelper()
		resp, err := etcdClient.Get(ctx(), key)
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Kvs).To(HaveLen(1), key)
		return resp.Kvs[0].ModRevision
	}

	It("sends a lone write at once, as a plain transaction", func() {
		resp, err := etcdClient.Put(ctx(), "/group/lone", "before")
		Expect(err).NotTo(HaveOccurred())
		released()
		r := receive(commitAsync(ctx(), []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision("/group/lone"), "=", resp.Header.Revision)},
			clientv3.OpPut("/group/lone", "after")))
		Expect(r.err).NotTo(HaveOccurred())
		Expect(r.resp.Succeeded).To(BeTrue())
		Expect(commitSizes()).To(Equal([]int{1}))
		Expect(valueOf("/group/lone")).To(BeEquivalentTo("after"))
	})

	It("commits writes that queued behind a commit in flight as one transaction, each with its own outcome", func() {
		held := holdFirst()
		var outs []<-chan txnResult
		for i := range 20 {
			key := fmt.Sprintf("/group/w-%02d", i)
			outs = append(outs, enqueue(ctx(), []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(key), "=", 0)},
				clientv3.OpPut(key, fmt.Sprint(i)), clientv3.OpPut(key+"-index", "")))
		}
		released()
		for _, r := range receiveHeld(held) {
			Expect(r.err).NotTo(HaveOccurred())
		}
		var rev int64
		for i, out := range outs {
			r := receive(out)
			Expect(r.err).NotTo(HaveOccurred())
			Expect(r.resp.Succeeded).To(BeTrue())
			Expect(r.resp.Responses).To(HaveLen(2))
			Expect(r.resp.Responses[0].GetResponsePut()).NotTo(BeNil())
			key := fmt.Sprintf("/group/w-%02d", i)
			Expect(valueOf(key)).To(BeEquivalentTo(fmt.Sprint(i)))
			Expect(modRevision(key + "-index")).To(Equal(r.resp.Header.Revision))
			if i == 0 {
				rev = r.resp.Header.Revision
			}
			Expect(r.resp.Header.Revision).To(Equal(rev), "one transaction, one revision")
			Expect(modRevision(key)).To(Equal(rev))
		}
		Expect(commitSizes()).To(Equal(heldThen(20)))
	})

	It("fails only the write whose compare fails, in the middle of a batch", func() {
		for _, k := range []string{"/group/a", "/group/b", "/group/c"} {
			rawPut(k, "v0")
		}
		revA, revB, revC := modRevision("/group/a"), modRevision("/group/b"), modRevision("/group/c")
		held := holdFirst()
		a := enqueue(ctx(), []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision("/group/a"), "=", revA)}, clientv3.OpPut("/group/a", "v1"))
		b := enqueue(ctx(), []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision("/group/b"), "=", revB-1)}, clientv3.OpPut("/group/b", "v1"))
		c := enqueue(ctx(), []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision("/group/c"), "=", revC)}, clientv3.OpPut("/group/c", "v1"))
		released()
		receiveHeld(held)
		ra, rb, rc := receive(a), receive(b), receive(c)
		Expect(ra.err).NotTo(HaveOccurred())
		Expect(rb.err).NotTo(HaveOccurred())
		Expect(rc.err).NotTo(HaveOccurred())
		Expect(ra.resp.Succeeded).To(BeTrue())
		Expect(rb.resp.Succeeded).To(BeFalse())
		Expect(rc.resp.Succeeded).To(BeTrue())
		Expect(valueOf("/group/a")).To(BeEquivalentTo("v1"))
		Expect(valueOf("/group/b")).To(BeEquivalentTo("v0"))
		Expect(valueOf("/group/c")).To(BeEquivalentTo("v1"))
		Expect(modRevision("/group/b")).To(Equal(revB))
		Expect(commitSizes()).To(Equal(heldThen(3)))
	})

	It("puts a write to a key already in the batch into a later one, keeping each key's order", func() {
		held := holdFirst()
		first := enqueue(ctx(), nil, clientv3.OpPut("/group/same", "first"))
		other := enqueue(ctx(), nil, clientv3.OpPut("/group/other", "x"))
		second := enqueue(ctx(), nil, clientv3.OpPut("/group/same", "second"))
		// Behind the second write to /group/same: it compares that key,
		// so it goes after it (etcd evaluates every sub-transaction's
		// compare before any write of the transaction).
		third := enqueue(ctx(), []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision("/group/same"), ">", 0)},
			clientv3.OpPut("/group/third", "x"))
		released()
		receiveHeld(held)
		r1, r2, ro, r3 := receive(first), receive(second), receive(other), receive(third)
		for _, r := range []txnResult{r1, r2, ro, r3} {
			Expect(r.err).NotTo(HaveOccurred())
			Expect(r.resp.Succeeded).To(BeTrue())
		}
		Expect(r1.resp.Header.Revision).To(Equal(ro.resp.Header.Revision))
		Expect(r2.resp.Header.Revision).To(BeNumerically(">", r1.resp.Header.Revision))
		Expect(r3.resp.Header.Revision).To(BeNumerically(">", r2.resp.Header.Revision))
		Expect(valueOf("/group/same")).To(BeEquivalentTo("second"))
		Expect(commitSizes()).To(Equal(heldThen(2, 1, 1)))
	})

	It("holds a write to a key of a commit in flight until it returns, while other keys use the free slot", func() {
		gate := make(chan struct{})
		etcddb.SetGroupCommitHook(func(writes int) {
			hookMu.Lock()
			commits = append(commits, writes)
			first := len(commits) == 1
			hookMu.Unlock()
			if first {
				<-gate // hold only the first commit
			}
		})
		DeferCleanup(func() {
			select {
			case <-gate:
			default:
				close(gate)
			}
		})
		first := commitAsync(ctx(), nil, clientv3.OpPut("/group/busy", "first"))
		Eventually(commitSizes).Should(HaveLen(1))
		again := enqueue(ctx(), nil, clientv3.OpPut("/group/busy", "again"))
		free := receive(commitAsync(ctx(), nil, clientv3.OpPut("/group/free", "x")))
		Expect(free.err).NotTo(HaveOccurred())
		Expect(commitSizes()).To(Equal([]int{1, 1}))
		Consistently(again).ShouldNot(Receive())
		close(gate)
		r1, r2 := receive(first), receive(again)
		Expect(r1.err).NotTo(HaveOccurred())
		Expect(r2.err).NotTo(HaveOccurred())
		Expect(r2.resp.Header.Revision).To(BeNumerically(">", r1.resp.Header.Revision))
		Expect(valueOf("/group/busy")).To(Equal("again"))
	})

	It("lets the second of two compare-and-swaps of one revision lose, as it would alone", func() {
		rawPut("/group/cas", "v0")
		rev := modRevision("/group/cas")
		guard := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision("/group/cas"), "=", rev)}
		held := holdFirst()
		a := enqueue(ctx(), guard, clientv3.OpPut("/group/cas", "a"))
		b := enqueue(ctx(), guard, clientv3.OpPut("/group/cas", "b"))
		released()
		receiveHeld(held)
		ra, rb := receive(a), receive(b)
		Expect(ra.err).NotTo(HaveOccurred())
		Expect(rb.err).NotTo(HaveOccurred())
		Expect(ra.resp.Succeeded).To(BeTrue())
		Expect(rb.resp.Succeeded).To(BeFalse())
		Expect(valueOf("/group/cas")).To(BeEquivalentTo("a"))
	})

	It("bounds a batch by etcd's op limit", func() {
		held := holdFirst()
		const writes = 200
		var outs []<-chan txnResult
		for i := range writes {
			key := fmt.Sprintf("/group/many-%03d", i)
			outs = append(outs, enqueue(ctx(), []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(key), "=", 0)}, clientv3.OpPut(key, "x")))
		}
		released()
		receiveHeld(held)
		for _, out := range outs {
			r := receive(out)
			Expect(r.err).NotTo(HaveOccurred())
			Expect(r.resp.Succeeded).To(BeTrue())
		}
		// etcd counts an outer transaction's ops against its
		// sub-transactions' limit: 127 sub-transactions of one op each.
		Expect(commitSizes()[etcddb.MaxCommitsInFlight:]).To(ConsistOf(127, writes-127))
		Expect(rawKeys("/group/many-")).To(HaveLen(writes))
	})

	It("bounds a batch by size", func() {
		held := holdFirst()
		big := strings.Repeat("x", 300<<10)
		var outs []<-chan txnResult
		for i := range 3 {
			outs = append(outs, enqueue(ctx(), nil, clientv3.OpPut(fmt.Sprintf("/group/big-%d", i), big)))
		}
		released()
		receiveHeld(held)
		for _, out := range outs {
			Expect(receive(out).err).NotTo(HaveOccurred())
		}
		Expect(commitSizes()).To(Equal(heldThen(1, 1, 1)))
	})

	It("fails every write of a batch with the etcd error, applying none", func() {
		failing := &failingKV{KV: etcdClient}
		kv, queued = etcddb.NewGroupKV(failing)
		held := holdFirst()
		a := enqueue(ctx(), nil, clientv3.OpPut("/group/fail-a", "x"))
		b := enqueue(ctx(), nil, clientv3.OpPut("/group/fail-b", "x"))
		boom := errors.New("etcdserver: request timed out")
		failing.fail(boom)
		released()
		for _, r := range receiveHeld(held) {
			Expect(r.err).To(MatchError(boom))
		}
		Expect(receive(a).err).To(MatchError(boom))
		Expect(receive(b).err).To(MatchError(boom))
		Expect(commitSizes()).To(Equal(heldThen(2)))
		Expect(rawKeys("/group/fail-")).To(BeEmpty())
	})

	It("sends each write of a batch etcd refused unread on its own, so only the bad one fails", func() {
		held := holdFirst()
		a := enqueue(ctx(), nil, clientv3.OpPut("/group/ok-a", "x"))
		bad := enqueue(ctx(), nil, clientv3.OpPut("", "x"))
		b := enqueue(ctx(), nil, clientv3.OpPut("/group/ok-b", "x"))
		released()
		receiveHeld(held)
		Expect(receive(a).err).NotTo(HaveOccurred())
		Expect(receive(bad).err).To(MatchError(ContainSubstring("key is not provided")))
		Expect(receive(b).err).NotTo(HaveOccurred())
		Expect(rawKeys("/group/ok-")).To(ConsistOf("/group/ok-a", "/group/ok-b"))
	})

	It("fails alone a write whose lease is gone, not the writes that shared its batch", func() {
		lease, err := etcdClient.Grant(ctx(), 60)
		Expect(err).NotTo(HaveOccurred())
		_, err = etcdClient.Revoke(ctx(), lease.ID)
		Expect(err).NotTo(HaveOccurred())
		held := holdFirst()
		a := enqueue(ctx(), nil, clientv3.OpPut("/group/lease-ok-a", "x"))
		leased := enqueue(ctx(), nil, clientv3.OpPut("/group/lease-gone", "x", clientv3.WithLease(lease.ID)))
		b := enqueue(ctx(), nil, clientv3.OpPut("/group/lease-ok-b", "x"))
		released()
		receiveHeld(held)
		Expect(receive(a).err).NotTo(HaveOccurred())
		Expect(receive(leased).err).To(MatchError(ContainSubstring("requested lease not found")))
		Expect(receive(b).err).NotTo(HaveOccurred())
		Expect(rawKeys("/group/lease-")).To(ConsistOf("/group/lease-ok-a", "/group/lease-ok-b"))
		Expect(commitSizes()).To(ContainElement(3), "the three went as one batch first")
	})

	It("drops a queued write whose caller gives up before it is sent", func() {
		held := holdFirst()
		c, cancel := context.WithCancel(context.Background())
		gone := enqueue(c, nil, clientv3.OpPut("/group/gone", "x"))
		stays := enqueue(ctx(), nil, clientv3.OpPut("/group/stays", "x"))
		cancel()
		Expect(receive(gone).err).To(MatchError(context.Canceled))
		Eventually(queued).Should(Equal(1))
		released()
		receiveHeld(held)
		Expect(receive(stays).err).NotTo(HaveOccurred())
		Expect(commitSizes()).To(Equal(heldThen(1)))
		Expect(rawKeys("/group/")).To(ConsistOf("/group/held-0", "/group/held-1", "/group/stays"))
	})

	It("keeps a batch going when one of its callers gives up after it was taken", func() {
		gate, batchGate, inBatch := make(chan struct{}), make(chan struct{}), make(chan struct{})
		etcddb.SetGroupCommitHook(func(writes int) {
			hookMu.Lock()
			commits = append(commits, writes)
			n := len(commits)
			hookMu.Unlock()
			switch {
			case n <= etcddb.MaxCommitsInFlight:
				<-gate // the held writes fill every slot
			case writes == 2:
				close(inBatch)
				<-batchGate
			}
		})
		DeferCleanup(func() {
			for _, ch := range []chan struct{}{gate, batchGate} {
				select {
				case <-ch:
				default:
					close(ch)
				}
			}
		})
		var held []<-chan txnResult
		for i := range etcddb.MaxCommitsInFlight {
			held = append(held, commitAsync(ctx(), nil, clientv3.OpPut(fmt.Sprintf("/group/held-%d", i), "x")))
			Eventually(commitSizes).Should(HaveLen(i + 1))
		}
		c, cancel := context.WithCancel(context.Background())
		DeferCleanup(cancel)
		leaver := enqueue(c, nil, clientv3.OpPut("/group/leaver", "x"))
		stayer := enqueue(ctx(), nil, clientv3.OpPut("/group/stayer", "x"))
		close(gate)
		Eventually(inBatch).Should(BeClosed())
		cancel()
		// Sent and not answered: the leaver cannot know the outcome.
		Expect(receive(leaver).err).To(MatchError(context.Canceled))
		close(batchGate)
		Expect(receive(stayer).err).NotTo(HaveOccurred())
		for _, h := range held {
			Expect(receive(h).err).NotTo(HaveOccurred())
		}
		Expect(commitSizes()).To(Equal(heldThen(2)))
		// The batch went with both writes: the leaver's too.
		Expect(rawKeys("/group/")).To(ContainElements("/group/leaver", "/group/stayer"))
	})

	It("passes reads straight through while a commit is in flight", func() {
		rawPut("/group/read", "v")
		held := holdFirst()
		resp, err := kv.Get(ctx(), "/group/read")
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Kvs).To(HaveLen(1))
		tresp, err := kv.Txn(ctx()).Then(clientv3.OpGet("/group/read")).Commit()
		Expect(err).NotTo(HaveOccurred())
		Expect(tresp.Responses[0].GetResponseRange().Kvs).To(HaveLen(1))
		Expect(queued()).To(Equal(0))
		released()
		receiveHeld(held)
	})
})

var _ = Describe("Group commit in the store", func() {
	It("keeps each write's lost-race re-read and the cache's own writes right when writes share a revision", func() {
		if os.Getenv("ETCDDB_SERIAL_COMMITS") != "" {
			Skip("the store sends each write alone")
		}
		store := newStore(etcdClient, fakeclock.NewFakeClock(time.Unix(0, 0)), "")
		logger := logging.Discard()
		const lrps = 20
		for i := range lrps {
			_, err := store.DesireTask(ctx(), logger, taskDefinition(), fmt.Sprintf("task-%02d", i), "dom")
			Expect(err).NotTo(HaveOccurred())
		}
		gate := make(chan struct{})
		etcddb.SetGroupCommitHook(func(int) { <-gate })
		DeferCleanup(func() { etcddb.SetGroupCommitHook(nil) })
		DeferCleanup(func() {
			select {
			case <-gate:
			default:
				close(gate)
			}
		})

		// Every task is started by two cells at once: one wins, the
		// other's compare fails and its re-read answers the transition
		// error. Then the winner completes it, reading its own write.
		type outcome struct {
			guid, cell string
			started    bool
			err        error
		}
		results := make(chan outcome, 2*lrps)
		c := ctx()
		for i := range lrps {
			for _, cell := range []string{"cell-a", "cell-b"} {
				guid := fmt.Sprintf("task-%02d", i)
				go func() {
					_, _, started, err := store.StartTask(c, logger, guid, cell)
					results <- outcome{guid, cell, started, err}
				}()
			}
		}
		Eventually(store.GroupQueued).Should(BeNumerically(">=", lrps))
		close(gate)
		winners := map[string]string{}
		for range 2 * lrps {
			var o outcome
			Eventually(results).Should(Receive(&o))
			if o.err == nil && o.started {
				Expect(winners).NotTo(HaveKey(o.guid), "two cells started %s", o.guid)
				winners[o.guid] = o.cell
				continue
			}
			expectModelError(o.err, models.Error_InvalidStateTransition)
		}
		Expect(winners).To(HaveLen(lrps))
		batches, grouped := store.GroupCommits()
		Expect(batches).To(BeNumerically(">", 0))
		Expect(grouped).To(BeNumerically(">=", lrps))

		for guid, cell := range winners {
			task, err := store.TaskByGuid(c, logger, guid)
			Expect(err).NotTo(HaveOccurred())
			Expect(task.GetState()).To(Equal(models.Task_Running))
			Expect(task.GetCellId()).To(Equal(cell))
			_, _, err = store.CompleteTask(c, logger, guid, cell, false, "", "done")
			Expect(err).NotTo(HaveOccurred())
			task, err = store.TaskByGuid(c, logger, guid)
			Expect(err).NotTo(HaveOccurred())
			Expect(task.GetState()).To(Equal(models.Task_Completed))
		}
	})
})
