package fakeclock_test

import (
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/clock/fakeclock"
)

var _ = Describe("FakeClock", func() {
	var (
		start time.Time
		fc    *fakeclock.FakeClock
	)

	BeforeEach(func() {
		start = time.Date(2015, 6, 1, 12, 0, 0, 0, time.UTC)
		fc = fakeclock.NewFakeClock(start)
	})

	It("moves time only when told to", func() {
		Expect(fc.Now()).To(Equal(start))

		fc.Increment(time.Minute)
		Expect(fc.Now()).To(Equal(start.Add(time.Minute)))
		Expect(fc.Since(start)).To(Equal(time.Minute))

		fc.IncrementBySeconds(30)
		Expect(fc.Since(start)).To(Equal(90 * time.Second))

		later := start.Add(time.Hour)
		fc.SetTime(later)
		Expect(fc.Now()).To(Equal(later))
	})

	Describe("After", func() {
		It("fires once time passes the duration", func() {
			c := fc.After(10 * time.Second)
			Expect(fc.WatcherCount()).To(Equal(1))

			fc.Increment(9 * time.Second)
			Consistently(c).ShouldNot(Receive())

			fc.Increment(time.Second)
			Eventually(c).Should(Receive(Equal(start.Add(10 * time.Second))))
			Expect(fc.WatcherCount()).To(BeZero())
		})

		It("fires when SetTime jumps past it", func() {
			c := fc.After(time.Minute)
			fc.SetTime(start.Add(time.Hour))
			Eventually(c).Should(Receive())
		})

		It("fires at once for a non-positive duration", func() {
			Eventually(fc.After(0)).Should(Receive())
			Expect(fc.WatcherCount()).To(BeZero())
		})
	})

	Describe("Sleep", func() {
		It("blocks until time is advanced", func() {
			done := make(chan struct{})
			go func() {
				defer close(done)
				fc.Sleep(5 * time.Second)
			}()

			Eventually(fc.WatcherCount).Should(Equal(1))
			Consistently(done).ShouldNot(BeClosed())

			fc.Increment(5 * time.Second)
			Eventually(done).Should(BeClosed())
		})
	})

	Describe("timers", func() {
		It("can be stopped before they fire", func() {
			t := fc.NewTimer(time.Second)
			Expect(t.Stop()).To(BeTrue())
			Expect(fc.WatcherCount()).To(BeZero())

			fc.Increment(time.Second)
			Consistently(t.C()).ShouldNot(Receive())
			Expect(t.Stop()).To(BeFalse())
		})

		It("can be reset to a new deadline", func() {
			t := fc.NewTimer(time.Second)
			Expect(t.Reset(5 * time.Second)).To(BeTrue())

			fc.Increment(time.Second)
			Consistently(t.C()).ShouldNot(Receive())

			fc.Increment(4 * time.Second)
			Eventually(t.C()).Should(Receive())

			Expect(t.Reset(time.Second)).To(BeFalse())
			Expect(fc.WatcherCount()).To(Equal(1))
			fc.Increment(time.Second)
			Eventually(t.C()).Should(Receive())
		})

		It("drops an unreceived tick on reset", func() {
			t := fc.NewTimer(time.Second)
			fc.Increment(time.Second)

			t.Reset(time.Second)
			Consistently(t.C()).ShouldNot(Receive())
		})
	})

	Describe("tickers", func() {
		It("fire every period and re-arm", func() {
			t := fc.NewTicker(10 * time.Second)

			for i := 1; i <= 3; i++ {
				fc.Increment(10 * time.Second)
				Eventually(t.C()).Should(Receive(Equal(start.Add(time.Duration(i) * 10 * time.Second))))
			}
			Expect(fc.WatcherCount()).To(Equal(1))

			t.Stop()
			Expect(fc.WatcherCount()).To(BeZero())
			fc.Increment(10 * time.Second)
			Consistently(t.C()).ShouldNot(Receive())
		})

		It("delivers one tick for a jump over several periods, then keeps its phase", func() {
			t := fc.NewTicker(10 * time.Second)

			fc.Increment(35 * time.Second)
			Eventually(t.C()).Should(Receive())
			Consistently(t.C()).ShouldNot(Receive())

			fc.Increment(4 * time.Second)
			Consistently(t.C()).ShouldNot(Receive())
			fc.Increment(time.Second)
			Eventually(t.C()).Should(Receive())
		})

		It("panics for a non-positive period, like package time", func() {
			Expect(func() { fc.NewTicker(0) }).To(Panic())
		})
	})

	It("is safe for concurrent use", func() {
		const sleepers = 20
		var wg sync.WaitGroup
		for range sleepers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				fc.Sleep(time.Second)
			}()
		}

		Eventually(fc.WatcherCount).Should(Equal(sleepers))
		fc.Increment(time.Second)

		done := make(chan struct{})
		go func() {
			wg.Wait()
			close(done)
		}()
		Eventually(done).Should(BeClosed())
	})
})
