package clock_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/clock"
)

var _ = Describe("the real clock", func() {
	var c clock.Clock

	BeforeEach(func() {
		c = clock.NewClock()
	})

	It("tells the current time", func() {
		Expect(c.Now()).To(BeTemporally("~", time.Now(), time.Second))
		Expect(c.Since(time.Now().Add(-time.Hour))).To(BeNumerically("~", time.Hour, time.Second))
	})

	It("fires After", func() {
		Eventually(c.After(time.Millisecond)).Should(Receive())
	})

	It("sleeps for at least the duration", func() {
		start := time.Now()
		c.Sleep(5 * time.Millisecond)
		Expect(time.Since(start)).To(BeNumerically(">=", 5*time.Millisecond))
	})

	It("fires, stops and resets timers", func() {
		t := c.NewTimer(time.Millisecond)
		Eventually(t.C()).Should(Receive())

		t.Reset(time.Hour)
		Expect(t.Stop()).To(BeTrue())
		Consistently(t.C(), 20*time.Millisecond).ShouldNot(Receive())
	})

	It("ticks repeatedly until stopped", func() {
		t := c.NewTicker(time.Millisecond)
		Eventually(t.C()).Should(Receive())
		Eventually(t.C()).Should(Receive())
		t.Stop()
	})
})
