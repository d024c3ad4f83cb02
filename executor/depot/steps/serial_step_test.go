package steps_test

import (
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/executor/depot/steps"
)

var _ = Describe("SerialStep", func() {
	It("runs the steps in order", func() {
		first, second := newFakeStep(), newFakeStep()
		p := run(steps.NewSerial([]steps.Step{first, second}))
		Eventually(first.Started()).Should(BeClosed())
		Consistently(second.Started(), 20*time.Millisecond).ShouldNot(BeClosed())
		first.Exit(nil)
		Eventually(second.Started()).Should(BeClosed())
		second.Exit(nil)
		Eventually(p.done).Should(Receive(BeNil()))
	})

	It("stops at the first failure and returns it", func() {
		second := newFakeStep()
		p := run(steps.NewSerial([]steps.Step{succeeding(), failing(errors.New("second")), second}))
		Eventually(p.done).Should(Receive(MatchError("second")))
		Expect(second.Started()).NotTo(BeClosed())
	})

	It("is ready when its last step is, not before", func() {
		first, last := newFakeStep(), newFakeStep()
		first.ReadyAtStart = true
		p := run(steps.NewSerial([]steps.Step{first, last}))
		Eventually(first.Started()).Should(BeClosed())
		Consistently(p.ready, 20*time.Millisecond).ShouldNot(BeClosed())
		first.Exit(nil)
		Eventually(last.Started()).Should(BeClosed())
		Consistently(p.ready, 20*time.Millisecond).ShouldNot(BeClosed())
		last.Ready()
		Eventually(p.ready).Should(BeClosed())
		last.Exit(nil)
		Eventually(p.done).Should(Receive(BeNil()))
	})

	It("passes a signal to the current step and runs no more", func() {
		first, second := newFakeStep(), newFakeStep()
		p := run(steps.NewSerial([]steps.Step{first, second}))
		Eventually(first.Started()).Should(BeClosed())
		p.Signal()
		Eventually(p.done).Should(Receive(MatchError(steps.ErrCancelled)))
		Expect(first.Signals()).To(Equal(1))
		Expect(second.Started()).NotTo(BeClosed())
	})

	It("is cancelled when the interrupted step still succeeds (a try)", func() {
		inner, second := newFakeStep(), newFakeStep()
		p := run(steps.NewSerial([]steps.Step{steps.NewTry(inner, discardLogger), second}))
		Eventually(inner.Started()).Should(BeClosed())
		p.Signal()
		Eventually(p.done).Should(Receive(MatchError(steps.ErrCancelled)))
		Expect(second.Started()).NotTo(BeClosed())
	})

	It("succeeds with no steps", func() {
		Eventually(run(steps.NewSerial(nil)).done).Should(Receive(BeNil()))
	})
})
