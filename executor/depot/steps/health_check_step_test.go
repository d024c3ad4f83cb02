package steps_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"diego/deploy/clock/fakeclock"
	"diego/executor/depot/steps"
)

// fakeProbe answers with its current result.
type fakeProbe struct {
	mu     sync.Mutex
	result error
	count  atomic.Int32
}

func (f *fakeProbe) set(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.result = err
}

func (f *fakeProbe) Count() int { return int(f.count.Load()) }

func (f *fakeProbe) Check(context.Context) error {
	f.count.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.result
}

var _ = Describe("HealthCheckStep (check_definition checks)", func() {
	var (
		fakeClock      *fakeclock.FakeClock
		streamer       *fakeStreamer
		healthStreamer *fakeStreamer
		tcp, http      *fakeProbe
		cfg            steps.HealthCheckConfig
		p              *process
	)

	const unhealthy, tcpInterval, httpInterval = 500 * time.Millisecond, 10 * time.Second, 20 * time.Second

	BeforeEach(func() {
		fakeClock = fakeclock.NewFakeClock(time.Now())
		streamer, healthStreamer = newFakeStreamer(), newFakeStreamer()
		tcp, http = &fakeProbe{}, &fakeProbe{}
		tcp.set(errors.New("failed to make TCP connection to 10.0.0.2:8080: connection refused"))
		http.set(errors.New("failed to make HTTP request to http://10.0.0.2:8081/health: connection refused"))
		cfg = steps.HealthCheckConfig{Clock: fakeClock, StartupInterval: unhealthy}
	})

	JustBeforeEach(func() {
		p = run(steps.NewHealthCheck([]steps.Check{{Probe: tcp, Interval: tcpInterval}, {Probe: http, Interval: httpInterval}},
			streamer, healthStreamer, discardLogger, cfg))
	})

	AfterEach(func() {
		p.Signal()
		Eventually(p.done).Should(Receive())
	})

	It("checks at once and then every unhealthy interval, and is ready once every check has passed", func() {
		Eventually(streamer.stdout).Should(gbytes.Say("Starting health monitoring of container"))
		Eventually(tcp.Count).Should(Equal(1))
		Eventually(http.Count).Should(Equal(1))
		Eventually(fakeClock.WatcherCount).Should(Equal(1))

		tcp.set(nil)
		fakeClock.Increment(unhealthy)
		Eventually(tcp.Count).Should(Equal(2))
		Eventually(http.Count).Should(Equal(2))
		Consistently(p.ready, 20*time.Millisecond).ShouldNot(BeClosed())
		Eventually(fakeClock.WatcherCount).Should(Equal(1))

		http.set(nil)
		fakeClock.Increment(unhealthy)
		Eventually(p.ready).Should(BeClosed())
		Expect(tcp.Count()).To(Equal(2), "a check that passed is not repeated during startup")
		Expect(streamer.stdout).To(gbytes.Say("Container became healthy"))
	})

	Context("once healthy", func() {
		BeforeEach(func() {
			tcp.set(nil)
			http.set(nil)
		})

		It("repeats each check on its own interval and fails at the first failure", func() {
			Eventually(p.ready).Should(BeClosed())
			Eventually(fakeClock.WatcherCount).Should(Equal(2))
			fakeClock.Increment(tcpInterval)
			Eventually(tcp.Count).Should(Equal(2))
			Expect(http.Count()).To(Equal(1))
			Eventually(fakeClock.WatcherCount).Should(Equal(2))

			tcp.set(errors.New("failed to make TCP connection to 10.0.0.2:8080: connection refused"))
			fakeClock.Increment(tcpInterval)
			var err error
			Eventually(p.done).Should(Receive(&err))
			Expect(err).To(MatchError("Instance became unhealthy: failed to make TCP connection to 10.0.0.2:8080: connection refused"))
			Expect(steps.IsEmittable(err)).To(BeTrue())
			Expect(streamer.stdout).To(gbytes.Say("Container became unhealthy"))
			Expect(healthStreamer.stderr).To(gbytes.Say("failed to make TCP connection"))
			p.done <- err // for AfterEach
		})
	})

	Context("with a start timeout", func() {
		BeforeEach(func() { cfg.StartTimeout = time.Second })

		It("fails with the last error once it has passed", func() {
			Eventually(fakeClock.WatcherCount).Should(Equal(1))
			fakeClock.Increment(unhealthy)
			Eventually(tcp.Count).Should(Equal(2))
			Eventually(fakeClock.WatcherCount).Should(Equal(1))
			fakeClock.Increment(unhealthy)
			var err error
			Eventually(p.done).Should(Receive(&err))
			Expect(err.Error()).To(HavePrefix("Instance never healthy after 1s: failed to make"))
			Expect(streamer.stderr).To(gbytes.Say("Failed after 1s: startup health check never passed."))
			Consistently(p.ready).ShouldNot(BeClosed())
			p.done <- err
		})
	})

	It("stops when signalled", func() {
		Eventually(fakeClock.WatcherCount).Should(Equal(1))
		p.Signal()
		var err error
		Eventually(p.done).Should(Receive(&err))
		Expect(steps.IsInterrupted(err)).To(BeTrue())
		p.done <- err
	})
})
