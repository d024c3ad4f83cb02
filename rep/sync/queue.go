package sync

import (
	"context"
	"os"
	"sync"
)

// Operation is one unit of work on one container guid. Execute re-reads
// whatever it acts on, so running a stale operation is harmless.
type Operation interface {
	Key() string
	Execute(ctx context.Context)
}

// Queue is a sliding queue of operations keyed by guid (spec cell §4.5):
// at most one operation per key runs at a time, and pushing an operation
// whose key already waits replaces the waiting one (it keeps its place in
// line). An operation pushed while its key runs waits for that run to end.
// Workers bound how many keys run at once.
type Queue struct {
	workers int

	mu       sync.Mutex
	wake     *sync.Cond
	pending  map[string]Operation // waiting, at most one per key
	order    []string             // keys of pending operations not in flight, oldest first
	inFlight map[string]bool
	stopped  bool
}

// NewQueue returns a queue run by workers goroutines (at least one). Pushes
// before Run wait for it.
func NewQueue(workers int) *Queue {
	if workers < 1 {
		workers = 1
	}
	q := &Queue{workers: workers, pending: map[string]Operation{}, inFlight: map[string]bool{}}
	q.wake = sync.NewCond(&q.mu)
	return q
}

// Push adds op, replacing any operation still waiting under its key. Pushes
// after the queue has stopped are dropped.
func (q *Queue) Push(op Operation) {
	key := op.Key()
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stopped {
		return
	}
	if _, waiting := q.pending[key]; waiting {
		q.pending[key] = op
		return
	}
	q.pending[key] = op
	if !q.inFlight[key] {
		q.order = append(q.order, key)
		q.wake.Signal()
	}
}

// Len is the number of operations waiting (not those in flight).
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}

// Run is the queue's ifrit runner: it starts the workers and, on a signal,
// drops what waits, cancels the context of the operations in flight and
// returns once they have ended.
func (q *Queue) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for range q.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q.work(ctx)
		}()
	}
	close(ready)
	<-signals
	q.mu.Lock()
	q.stopped = true
	q.pending = map[string]Operation{}
	q.order = nil
	q.wake.Broadcast()
	q.mu.Unlock()
	cancel()
	wg.Wait()
	return nil
}

func (q *Queue) work(ctx context.Context) {
	for {
		op, ok := q.next()
		if !ok {
			return
		}
		op.Execute(ctx)
		q.done(op.Key())
	}
}

// next blocks for the oldest runnable operation and marks its key in
// flight; false once the queue has stopped.
func (q *Queue) next() (Operation, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.order) == 0 && !q.stopped {
		q.wake.Wait()
	}
	if q.stopped {
		return nil, false
	}
	key := q.order[0]
	q.order = q.order[1:]
	op := q.pending[key]
	delete(q.pending, key)
	q.inFlight[key] = true
	return op, true
}

// done ends key's run and lines up the operation pushed meanwhile, if any.
func (q *Queue) done(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.inFlight, key)
	if _, waiting := q.pending[key]; waiting && !q.stopped {
		q.order = append(q.order, key)
		q.wake.Signal()
	}
}
