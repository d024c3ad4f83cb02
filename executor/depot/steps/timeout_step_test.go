package steps_test

import (
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/clock/fakeclock"
	"diego/executor/depot/steps"
)

var _ = Describe("TimeoutStep", func() {
	var (
		inner     *fakeStep
		fakeClock *fakeclock.FakeClock
		p         *process
	)

	BeforeEach(func() {
		inner = newFakeStep()
		fakeClock = fakeclock.NewFakeClock(time.Now())
	})

	JustBeforeEach(func() {
		p = run(steps.NewTimeout(inner, 15*time.Minute, fakeClock, discardLogger))
		Eventually(inner.Started()).Should(BeClosed())
		Eventually(fakeClock.WatcherCount).Should(Equal(1))
	})

	It("returns the inner result when it finishes in time, and passes readiness on", func() {
		Consistently(p.ready, 20*time.Millisecond).ShouldNot(BeClosed())
		inner.Ready()
		Eventually(p.ready).Should(BeClosed())
		inner.Exit(errors.New("inner failed"))
		Eventually(p.done).Should(Receive(MatchError("inner failed")))
	})

	It("interrupts the inner step and fails with 'exceeded <d> timeout'", func() {
		fakeClock.Increment(15*time.Minute - time.Millisecond)
		Consistently(inner.Signals, 20*time.Millisecond).Should(BeZero())
		fakeClock.Increment(time.Millisecond)
		var err error
		Eventually(p.done).Should(Receive(&err))
		Expect(inner.Signals()).To(Equal(1))
		Expect(err).To(MatchError("exceeded 15m0s timeout"))
		Expect(steps.IsEmittable(err)).To(BeTrue())
		Expect(steps.IsInterrupted(err)).To(BeFalse())
		var terr *steps.TimeoutError
		Expect(errors.As(err, &terr)).To(BeTrue())
		Expect(terr.Timeout).To(Equal(15 * time.Minute))
	})

	Context("when the interrupted inner step fails with an emittable error", func() {
		BeforeEach(func() { inner.OnSignal = steps.NewEmittableError(nil, "Exited with status 143") })

		It("adds its message", func() {
			fakeClock.Increment(15 * time.Minute)
			Eventually(p.done).Should(Receive(MatchError("exceeded 15m0s timeout; Exited with status 143")))
		})
	})

	Context("when the interrupted inner step fails with a plain error", func() {
		BeforeEach(func() { inner.OnSignal = errors.New("internal detail") })

		It("leaves it out", func() {
			fakeClock.Increment(15 * time.Minute)
			Eventually(p.done).Should(Receive(MatchError("exceeded 15m0s timeout")))
		})
	})

	It("passes a signal on and returns what the inner step returns", func() {
		p.Signal()
		Eventually(p.done).Should(Receive(MatchError(steps.ErrCancelled)))
		Expect(inner.Signals()).To(Equal(1))
	})

	Context("when the inner step swallows the signal", func() {
		BeforeEach(func() { inner.OnSignal = nil })

		It("is cancelled", func() {
			p.Signal()
			Eventually(p.done).Should(Receive(MatchError(steps.ErrCancelled)))
		})
	})
})
