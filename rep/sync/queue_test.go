package sync_test

import (
	"context"
	"sync"
	"time"

	repsync "diego/rep/sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/ginkgomon_v2"
)

// recorder notes which operations ran, in order, and how many ran at once.
type recorder struct {
	mu          sync.Mutex
	ran         []string
	running     int
	maxRunning  int
	runningKeys map[string]int
	overlapKeys bool
}

func newRecorder() *recorder { return &recorder{runningKeys: map[string]int{}} }

func (r *recorder) Ran() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ran...)
}

func (r *recorder) Overlapped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.overlapKeys
}

func (r *recorder) MaxRunning() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.maxRunning
}

// testOp records itself and, with a gate, blocks until the gate closes or
// its context ends.
type testOp struct {
	key, name string
	rec       *recorder
	gate      chan struct{}
	started   chan struct{}
	ctxErr    chan error
}

func newOp(rec *recorder, key, name string, gated bool) *testOp {
	op := &testOp{key: key, name: name, rec: rec, started: make(chan struct{}), ctxErr: make(chan error, 1)}
	if gated {
		op.gate = make(chan struct{})
	}
	return op
}

func (o *testOp) Key() string { return o.key }

func (o *testOp) Execute(ctx context.Context) {
	r := o.rec
	r.mu.Lock()
	r.ran = append(r.ran, o.name)
	r.running++
	r.maxRunning = max(r.maxRunning, r.running)
	r.runningKeys[o.key]++
	if r.runningKeys[o.key] > 1 {
		r.overlapKeys = true
	}
	r.mu.Unlock()
	close(o.started)
	if o.gate != nil {
		select {
		case <-o.gate:
		case <-ctx.Done():
		}
	}
	o.ctxErr <- ctx.Err()
	r.mu.Lock()
	r.running--
	r.runningKeys[o.key]--
	r.mu.Unlock()
}

var _ = Describe("the sliding queue", func() {
	var (
		rec     *recorder
		queue   *repsync.Queue
		workers int
		process ifrit.Process
	)

	BeforeEach(func() {
		rec = newRecorder()
		workers = 2
	})

	JustBeforeEach(func() {
		queue = repsync.NewQueue(workers)
		process = ginkgomon_v2.Invoke(queue)
		DeferCleanup(func() { ginkgomon_v2.Interrupt(process, 5*time.Second) })
	})

	It("runs what is pushed", func() {
		queue.Push(newOp(rec, "a", "a1", false))
		queue.Push(newOp(rec, "b", "b1", false))
		Eventually(rec.Ran).Should(ConsistOf("a1", "b1"))
	})

	It("runs one operation per key at a time, and a newer push replaces the waiting one", func() {
		a1 := newOp(rec, "a", "a1", true)
		queue.Push(a1)
		Eventually(a1.started).Should(BeClosed())

		queue.Push(newOp(rec, "a", "a2", false))
		queue.Push(newOp(rec, "a", "a3", false))
		Expect(queue.Len()).To(Equal(1))
		Consistently(rec.Ran, 50*time.Millisecond).Should(Equal([]string{"a1"}))

		close(a1.gate)
		Eventually(rec.Ran).Should(Equal([]string{"a1", "a3"}))
		Consistently(rec.Ran, 50*time.Millisecond).Should(Equal([]string{"a1", "a3"}))
		Expect(rec.Overlapped()).To(BeFalse())
	})

	It("runs other keys while one is in flight", func() {
		a1 := newOp(rec, "a", "a1", true)
		queue.Push(a1)
		Eventually(a1.started).Should(BeClosed())
		queue.Push(newOp(rec, "b", "b1", false))
		Eventually(rec.Ran).Should(Equal([]string{"a1", "b1"}))
		close(a1.gate)
	})

	It("bounds the operations in flight by the workers", func() {
		var ops []*testOp
		for _, k := range []string{"a", "b", "c", "d"} {
			op := newOp(rec, k, k, true)
			ops = append(ops, op)
			queue.Push(op)
		}
		Eventually(rec.Ran).Should(HaveLen(2))
		Consistently(rec.Ran, 50*time.Millisecond).Should(HaveLen(2))
		for _, op := range ops {
			close(op.gate)
		}
		Eventually(rec.Ran).Should(HaveLen(4))
		Expect(rec.MaxRunning()).To(Equal(2))
	})

	Context("with one worker", func() {
		BeforeEach(func() { workers = 1 })

		It("keeps a replaced operation's place in line", func() {
			x := newOp(rec, "x", "x", true)
			queue.Push(x)
			Eventually(x.started).Should(BeClosed())
			queue.Push(newOp(rec, "a", "a1", false))
			queue.Push(newOp(rec, "b", "b1", false))
			queue.Push(newOp(rec, "a", "a2", false))
			close(x.gate)
			Eventually(rec.Ran).Should(Equal([]string{"x", "a2", "b1"}))
		})
	})

	It("on a signal, cancels what is in flight, drops what waits and ignores later pushes", func() {
		a1 := newOp(rec, "a", "a1", true)
		queue.Push(a1)
		Eventually(a1.started).Should(BeClosed())
		queue.Push(newOp(rec, "a", "a2", false))

		ginkgomon_v2.Interrupt(process, 5*time.Second)
		Expect(a1.ctxErr).To(Receive(MatchError(context.Canceled)))
		queue.Push(newOp(rec, "c", "c1", false))
		Consistently(rec.Ran, 50*time.Millisecond).Should(Equal([]string{"a1"}))
		Expect(queue.Len()).To(BeZero())
	})
})

var _ = Describe("a queue pushed to before it runs", func() {
	It("runs the operations once it starts", func() {
		rec := newRecorder()
		queue := repsync.NewQueue(0)
		queue.Push(newOp(rec, "a", "a1", false))
		Consistently(rec.Ran, 20*time.Millisecond).Should(BeEmpty())
		process := ginkgomon_v2.Invoke(queue)
		DeferCleanup(func() { ginkgomon_v2.Interrupt(process, 5*time.Second) })
		Eventually(rec.Ran).Should(Equal([]string{"a1"}))
	})
})
