package converger_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"time"

	"diego/bbs/lock"
	"diego/converger"
	"diego/deploy/clock/fakeclock"
	"diego/deploy/logging"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/ginkgomon_v2"
)

// fakeBBS counts the converge calls and records the task durations.
type fakeBBS struct {
	mu        sync.Mutex
	tasks     int
	lrps      int
	durations []time.Duration
	fail      error
	// gate, when set, holds each LRP pass until it is closed or the pass's
	// context ends.
	gate chan struct{}
}

func (f *fakeBBS) ConvergeTasks(_ context.Context, kick, pending, completed time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tasks++
	f.durations = []time.Duration{kick, pending, completed}
	return f.fail
}

func (f *fakeBBS) ConvergeLRPs(ctx context.Context) error {
	f.mu.Lock()
	f.lrps++
	gate, fail := f.gate, f.fail
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return fail
}

func (f *fakeBBS) hold() chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gate = make(chan struct{})
	return f.gate
}

func (f *fakeBBS) passes() [2]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return [2]int{f.tasks, f.lrps}
}

var _ = Describe("Process", func() {
	var (
		clock    *fakeclock.FakeClock
		bbs      *fakeBBS
		presence chan lock.PresenceEvent
		process  ifrit.Process
	)

	BeforeEach(func() {
		clock = fakeclock.NewFakeClock(time.Unix(100, 0))
		bbs = &fakeBBS{}
		presence = make(chan lock.PresenceEvent, 10)
		cfg := converger.Config{
			RepeatInterval: 30 * time.Second, KickTaskDuration: 30 * time.Second,
			ExpirePendingTaskDuration: 30 * time.Minute, ExpireCompletedTaskDuration: 2 * time.Minute,
			CommunicationTimeout: time.Minute,
		}
		watch := func(context.Context) <-chan lock.PresenceEvent { return presence }
		process = ginkgomon_v2.Invoke(converger.New(cfg, converger.Deps{Logger: logging.Discard(), Clock: clock, BBS: bbs, Watch: watch}))
		DeferCleanup(func() { ginkgomon_v2.Interrupt(process, 5*time.Second) })
	})

	It("converges tasks and LRPs every repeat interval, with the configured durations", func() {
		Consistently(bbs.passes, 100*time.Millisecond).Should(Equal([2]int{0, 0}))
		Eventually(clock.WatcherCount).Should(Equal(1))
		clock.Increment(30 * time.Second)
		Eventually(bbs.passes).Should(Equal([2]int{1, 1}))
		Expect(bbs.durations).To(Equal([]time.Duration{30 * time.Second, 30 * time.Minute, 2 * time.Minute}))

		Eventually(clock.WatcherCount).Should(Equal(1), "the timer restarts after a pass")
		clock.Increment(29 * time.Second)
		Consistently(bbs.passes, 100*time.Millisecond).Should(Equal([2]int{1, 1}))
		clock.Increment(time.Second)
		Eventually(bbs.passes).Should(Equal([2]int{2, 2}))
	})

	It("converges at once when a cell disappears, not when one appears", func() {
		presence <- lock.PresenceEvent{CellID: "cell-1", Present: true}
		Consistently(bbs.passes, 100*time.Millisecond).Should(Equal([2]int{0, 0}))
		presence <- lock.PresenceEvent{CellID: "cell-1", Present: false}
		Eventually(bbs.passes).Should(Equal([2]int{1, 1}))
	})

	It("answers the cells lost during a pass with one more pass, not one each", func() {
		gate := bbs.hold()
		presence <- lock.PresenceEvent{CellID: "cell-1", Present: false}
		Eventually(bbs.passes).Should(Equal([2]int{1, 1}))
		for _, cell := range []string{"cell-2", "cell-3", "cell-4"} {
			presence <- lock.PresenceEvent{CellID: cell, Present: false}
		}
		close(gate)
		Eventually(bbs.passes).Should(Equal([2]int{2, 2}))
		Consistently(bbs.passes, 200*time.Millisecond).Should(Equal([2]int{2, 2}))
	})

	It("cuts a pass in flight short when signalled", func() {
		bbs.hold() // never opened: only the signal ends the pass
		presence <- lock.PresenceEvent{CellID: "cell-1", Present: false}
		Eventually(bbs.passes).Should(Equal([2]int{1, 1}))
		process.Signal(os.Interrupt)
		Eventually(process.Wait(), 2*time.Second).Should(Receive(BeNil()), "not after the one-minute communication timeout")
	})

	It("keeps converging when a pass fails", func() {
		bbs.fail = errors.New("bbs unreachable")
		Eventually(clock.WatcherCount).Should(Equal(1))
		clock.Increment(30 * time.Second)
		Eventually(bbs.passes).Should(Equal([2]int{1, 1}))
		Eventually(clock.WatcherCount).Should(Equal(1))
		clock.Increment(30 * time.Second)
		Eventually(bbs.passes).Should(Equal([2]int{2, 2}))
	})
})
