package steps_test

import (
	"errors"
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/executor/depot/steps"
)

var _ = Describe("ParallelStep", func() {
	It("starts every step at once and waits for all", func() {
		a, b := newFakeStep(), newFakeStep()
		p := run(steps.NewParallel([]steps.Step{a, b}))
		Eventually(a.Started()).Should(BeClosed())
		Eventually(b.Started()).Should(BeClosed())
		a.Exit(nil)
		Consistently(p.done, 20*time.Millisecond).ShouldNot(Receive())
		b.Exit(nil)
		Eventually(p.done).Should(Receive(BeNil()))
	})

	It("waits for all even when one fails, and aggregates the failures in order", func() {
		a, b, c := newFakeStep(), newFakeStep(), newFakeStep()
		p := run(steps.NewParallel([]steps.Step{a, b, c}))
		c.Exit(steps.NewEmittableError(nil, "Exited with status 2"))
		Consistently(p.done, 20*time.Millisecond).ShouldNot(Receive())
		Expect(a.Signals()).To(BeZero(), "a failure does not stop the others")
		b.Exit(nil)
		a.Exit(errors.New("a failed"))
		var err error
		Eventually(p.done).Should(Receive(&err))
		Expect(err).To(MatchError("a failed; Exited with status 2"))
		var agg *steps.AggregateError
		Expect(errors.As(err, &agg)).To(BeTrue())
	})

	It("is ready when every step is ready", func() {
		a, b := newFakeStep(), newFakeStep()
		p := run(steps.NewParallel([]steps.Step{a, b}))
		a.Ready()
		Consistently(p.ready, 20*time.Millisecond).ShouldNot(BeClosed())
		b.Ready()
		Eventually(p.ready).Should(BeClosed())
		a.Exit(nil)
		b.Exit(nil)
		Eventually(p.done).Should(Receive(BeNil()))
	})

	It("counts a step that already succeeded as ready", func() {
		a := newFakeStep()
		p := run(steps.NewParallel([]steps.Step{stepFuncNoReady(), a}))
		a.Ready()
		Eventually(p.ready).Should(BeClosed())
		a.Exit(nil)
		Eventually(p.done).Should(Receive(BeNil()))
	})

	It("passes a signal to every step; interrupted steps' errors are not displayed", func() {
		a, b := newFakeStep(), newFakeStep()
		b.OnSignal = errors.New("b failed while stopping")
		p := run(steps.NewParallel([]steps.Step{a, b}))
		Eventually(a.Started()).Should(BeClosed())
		Eventually(b.Started()).Should(BeClosed())
		p.Signal()
		var err error
		Eventually(p.done).Should(Receive(&err))
		Expect(a.Signals()).To(Equal(1))
		Expect(b.Signals()).To(Equal(1))
		Expect(err).To(MatchError("b failed while stopping"))
	})

	It("is cancelled when every interrupted step swallows the signal", func() {
		a := newFakeStep()
		a.OnSignal = nil
		p := run(steps.NewParallel([]steps.Step{a}))
		Eventually(a.Started()).Should(BeClosed())
		p.Signal()
		var err error
		Eventually(p.done).Should(Receive(&err))
		Expect(steps.IsInterrupted(err)).To(BeTrue())
	})

	It("succeeds with no steps, at once ready", func() {
		p := run(steps.NewParallel(nil))
		Eventually(p.done).Should(Receive(BeNil()))
		Expect(p.ready).To(BeClosed())
	})
})

// stepFuncNoReady succeeds without ever closing ready.
func stepFuncNoReady() steps.Step {
	return stepFunc(func(_ <-chan os.Signal, _ chan<- struct{}) error { return nil })
}
