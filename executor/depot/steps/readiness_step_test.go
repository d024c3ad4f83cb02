package steps_test

import (
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"diego/deploy/clock/fakeclock"
	"diego/executor/depot/steps"
)

var _ = Describe("ReadinessStep", func() {
	var (
		fakeClock *fakeclock.FakeClock
		streamer  *fakeStreamer
		probe     *fakeProbe
		reports   chan bool
		p         *process
	)

	const unhealthy, interval = 500 * time.Millisecond, 5 * time.Second

	BeforeEach(func() {
		fakeClock = fakeclock.NewFakeClock(time.Now())
		streamer = newFakeStreamer()
		probe = &fakeProbe{}
		probe.set(errors.New("refused"))
		reports = make(chan bool, 10)
		p = run(steps.NewReadiness([]steps.Check{{Probe: probe, Interval: interval}}, streamer, discardLogger,
			steps.HealthCheckConfig{Clock: fakeClock, StartupInterval: unhealthy}, func(r bool) { reports <- r }))
	})

	It("is ready at once, and reports readiness as it comes and goes, never failing", func() {
		Eventually(p.ready).Should(BeClosed())
		Eventually(probe.Count).Should(Equal(1))
		Consistently(reports, 20*time.Millisecond).ShouldNot(Receive())

		probe.set(nil)
		Eventually(fakeClock.WatcherCount).Should(Equal(1))
		fakeClock.Increment(unhealthy)
		Eventually(reports).Should(Receive(BeTrue()))
		Expect(streamer.stdout).To(gbytes.Say("App is ready!"))

		probe.set(errors.New("refused"))
		Eventually(fakeClock.WatcherCount).Should(Equal(1))
		fakeClock.Increment(interval)
		Eventually(reports).Should(Receive(BeFalse()))
		Consistently(p.done, 20*time.Millisecond).ShouldNot(Receive())

		probe.set(nil)
		Eventually(fakeClock.WatcherCount).Should(Equal(1))
		fakeClock.Increment(unhealthy)
		Eventually(reports).Should(Receive(BeTrue()))

		p.Signal()
		var err error
		Eventually(p.done).Should(Receive(&err))
		Expect(steps.IsInterrupted(err)).To(BeTrue())
	})
})
