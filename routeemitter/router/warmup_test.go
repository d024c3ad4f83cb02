package router_test

import (
	"log/slog"
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"

	"diego/deploy/clock/fakeclock"
	"diego/routeemitter/router"
)

var _ = Describe("the warm-up before the router listens", func() {
	var (
		clock     *fakeclock.FakeClock
		connected chan struct{}
		health    *router.Health
		process   ifrit.Process
	)

	BeforeEach(func() {
		clock = fakeclock.NewFakeClock(time.Now())
		connected = make(chan struct{})
		health = &router.Health{}
		w := router.NewWarmup(slog.New(slog.NewTextHandler(GinkgoWriter, nil)), clock, 5*time.Second, connected, health)
		process = ifrit.Background(w)
		DeferCleanup(func() {
			process.Signal(os.Interrupt)
			Eventually(process.Wait()).Should(Receive(BeNil()))
		})
	})

	It("is ready only the start delay after NATS is reached", func() {
		clock.Increment(time.Minute)
		Consistently(process.Ready(), 100*time.Millisecond).ShouldNot(BeClosed(), "not before NATS is reached")
		Expect(health.Ready()).To(BeFalse())

		close(connected)
		Eventually(clock.WatcherCount).Should(Equal(1))
		clock.Increment(4 * time.Second)
		Consistently(process.Ready(), 100*time.Millisecond).ShouldNot(BeClosed(), "not before the delay")
		Expect(health.Ready()).To(BeFalse())

		clock.Increment(time.Second)
		Eventually(process.Ready()).Should(BeClosed())
		Expect(health.Ready()).To(BeTrue())
	})

	It("stops when signalled while waiting", func() {
		process.Signal(os.Interrupt)
		Eventually(process.Wait()).Should(Receive(BeNil()))
		Expect(health.Ready()).To(BeFalse())
	})
})
