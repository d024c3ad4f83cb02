package steps_test

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"diego/deploy/clock/fakeclock"
	"diego/executor/depot/steps"
)

// checker hands out checks that return its current result at once.
type checker struct {
	mu     sync.Mutex
	result error
	count  atomic.Int32
	block  chan struct{} // when set, checks wait on it (or a signal)
}

func (c *checker) set(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.result = err
}

func (c *checker) Count() int { return int(c.count.Load()) }

func (c *checker) newCheck() steps.Step {
	return stepFunc(func(signals <-chan os.Signal, ready chan<- struct{}) error {
		c.count.Add(1)
		c.mu.Lock()
		result, block := c.result, c.block
		c.mu.Unlock()
		if block != nil {
			select {
			case <-block:
			case <-signals:
				return steps.ErrCancelled
			}
		}
		return result
	})
}

var _ = Describe("MonitorStep", func() {
	var (
		fakeClock *fakeclock.FakeClock
		streamer  *fakeStreamer
		checks    *checker
		cfg       steps.MonitorConfig
		p         *process
	)

	const unhealthy, healthy = 500 * time.Millisecond, 30 * time.Second

	BeforeEach(func() {
		fakeClock = fakeclock.NewFakeClock(time.Now())
		streamer = newFakeStreamer()
		checks = &checker{}
		checks.set(errors.New("connection refused"))
		cfg = steps.MonitorConfig{Clock: fakeClock, HealthyInterval: healthy, UnhealthyInterval: unhealthy}
	})

	JustBeforeEach(func() {
		p = run(steps.NewMonitor(checks.newCheck, streamer, discardLogger, cfg))
		Eventually(fakeClock.WatcherCount).Should(Equal(1))
	})

	// tick advances the clock by d and waits for the monitor to be waiting
	// again after check number n.
	tick := func(d time.Duration, n int) {
		fakeClock.Increment(d)
		Eventually(checks.Count).Should(Equal(n))
		Eventually(fakeClock.WatcherCount).Should(Equal(1))
	}

	It("announces itself and runs the first check after one unhealthy interval", func() {
		Expect(streamer.stdout).To(gbytes.Say("Starting health monitoring of container\n"))
		fakeClock.Increment(unhealthy - time.Millisecond)
		Consistently(checks.Count, 20*time.Millisecond).Should(BeZero())
		tick(time.Millisecond, 1)
	})

	It("checks every unhealthy interval until healthy, then becomes ready", func() {
		tick(unhealthy, 1)
		tick(unhealthy, 2)
		Expect(p.ready).NotTo(BeClosed())
		checks.set(nil)
		tick(unhealthy, 3)
		Eventually(p.ready).Should(BeClosed())
		Expect(streamer.stdout).To(gbytes.Say("Container became healthy\n"))
	})

	Context("once healthy", func() {
		JustBeforeEach(func() {
			checks.set(nil)
			tick(unhealthy, 1)
			Eventually(p.ready).Should(BeClosed())
		})

		It("checks every healthy interval", func() {
			fakeClock.Increment(unhealthy)
			Consistently(checks.Count, 20*time.Millisecond).Should(Equal(1))
			tick(healthy-unhealthy, 2)
			tick(healthy, 3)
			Consistently(p.done, 20*time.Millisecond).ShouldNot(Receive())
		})

		It("fails at the first failed check with 'Instance became unhealthy'", func() {
			checks.set(errors.New("Failed to make TCP connection to port 8080: connection refused"))
			fakeClock.Increment(healthy)
			var err error
			Eventually(p.done).Should(Receive(&err))
			Expect(err).To(MatchError("Instance became unhealthy: Failed to make TCP connection to port 8080: connection refused"))
			Expect(steps.IsEmittable(err)).To(BeTrue())
			Expect(streamer.stderr).To(gbytes.Say("Container became unhealthy\n"))
		})

		It("is cancelled by a signal", func() {
			p.Signal()
			Eventually(p.done).Should(Receive(MatchError(steps.ErrCancelled)))
		})
	})

	Context("with a start timeout", func() {
		BeforeEach(func() { cfg.StartTimeout = 2 * time.Second })

		It("fails when no check has passed by the deadline, with the last check's error", func() {
			tick(unhealthy, 1)
			tick(unhealthy, 2)
			tick(unhealthy, 3)
			Consistently(p.done, 20*time.Millisecond).ShouldNot(Receive())
			fakeClock.Increment(unhealthy)
			var err error
			Eventually(p.done).Should(Receive(&err))
			Expect(checks.Count()).To(Equal(4))
			Expect(err).To(MatchError("Instance never healthy after 2s: connection refused"))
			Expect(steps.IsEmittable(err)).To(BeTrue())
			Expect(streamer.stderr).To(gbytes.Say(`Failed after 2s: startup health check never passed.\n`))
			Expect(p.ready).NotTo(BeClosed())
		})

		It("has no deadline once healthy", func() {
			checks.set(nil)
			tick(unhealthy, 1)
			Eventually(p.ready).Should(BeClosed())
			checks.set(errors.New("late"))
			fakeClock.Increment(healthy)
			Eventually(p.done).Should(Receive(MatchError("Instance became unhealthy: late")))
		})
	})

	It("is cancelled by a signal while waiting", func() {
		p.Signal()
		Eventually(p.done).Should(Receive(MatchError(steps.ErrCancelled)))
		Expect(checks.Count()).To(BeZero())
	})

	Context("when a check is running", func() {
		BeforeEach(func() { checks.block = make(chan struct{}) })

		It("interrupts it on a signal", func() {
			fakeClock.Increment(unhealthy)
			Eventually(checks.Count).Should(Equal(1))
			p.Signal()
			Eventually(p.done).Should(Receive(MatchError(steps.ErrCancelled)))
		})
	})

	Context("with a full health-check work pool", func() {
		var pool steps.Limiter

		BeforeEach(func() {
			pool = steps.NewLimiter(1)
			pool <- struct{}{}
			cfg.Limiter = pool
		})

		It("waits for a slot before checking", func() {
			checks.set(nil)
			fakeClock.Increment(unhealthy)
			Consistently(checks.Count, 50*time.Millisecond).Should(BeZero())
			<-pool
			Eventually(checks.Count).Should(Equal(1))
			Eventually(p.ready).Should(BeClosed())
		})
	})
})
