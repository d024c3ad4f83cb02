package steps_test

import (
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/executor/depot/steps"
)

var _ = Describe("CodependentStep", func() {
	var action, monitor *fakeStep
	var p *process

	BeforeEach(func() {
		action, monitor = newFakeStep(), newFakeStep()
		p = run(steps.NewCodependent([]steps.Step{action, monitor}))
		Eventually(action.Started()).Should(BeClosed())
		Eventually(monitor.Started()).Should(BeClosed())
	})

	It("is ready when every step is ready", func() {
		action.Ready()
		Consistently(p.ready, 20*time.Millisecond).ShouldNot(BeClosed())
		monitor.Ready()
		Eventually(p.ready).Should(BeClosed())
		p.Signal()
		Eventually(p.done).Should(Receive())
	})

	It("turns a successful exit into 'Codependent step exited' and interrupts the rest", func() {
		action.Exit(nil)
		var err error
		Eventually(p.done).Should(Receive(&err))
		Expect(monitor.Signals()).To(Equal(1))
		Expect(err).To(MatchError("Codependent step exited"))
		Expect(errors.Is(err, steps.ErrCodependentStepExited)).To(BeTrue())
		Expect(steps.IsInterrupted(err)).To(BeFalse())
	})

	It("fails with the first failure, leaving the interrupted steps out of the message", func() {
		monitor.Exit(steps.NewEmittableError(nil, "Instance became unhealthy: refused"))
		var err error
		Eventually(p.done).Should(Receive(&err))
		Expect(action.Signals()).To(Equal(1))
		Expect(err).To(MatchError("Instance became unhealthy: refused"))
		Expect(errors.Is(err, steps.ErrCancelled)).To(BeTrue(), "the action's cancel is aggregated, not displayed")
		Expect(steps.IsInterrupted(err)).To(BeFalse())
	})

	It("keeps the errors of steps that fail on their own while being interrupted", func() {
		action.OnSignal = steps.NewEmittableError(nil, "Exited with status 1")
		monitor.Exit(errors.New("monitor failed"))
		Eventually(p.done).Should(Receive(MatchError("Exited with status 1; monitor failed")))
	})

	It("passes a signal to every step and reports only interrupts", func() {
		p.Signal()
		var err error
		Eventually(p.done).Should(Receive(&err))
		Expect(action.Signals()).To(Equal(1))
		Expect(monitor.Signals()).To(Equal(1))
		Expect(err).To(MatchError("cancelled"))
		Expect(steps.IsInterrupted(err)).To(BeTrue())
	})

	Context("when a step swallows the signal", func() {
		BeforeEach(func() {
			action.OnSignal = nil
			monitor.OnSignal = nil
		})

		It("does not call that 'Codependent step exited'", func() {
			p.Signal()
			var err error
			Eventually(p.done).Should(Receive(&err))
			Expect(err).To(MatchError(steps.ErrCancelled))
			Expect(steps.IsInterrupted(err)).To(BeTrue())
		})
	})
})

var _ = Describe("CodependentStep for a long-running process (decision 44)", func() {
	var action, monitor, sidecar *fakeStep
	var p *process

	Context("without CancelOthersOnExit (an action beside its monitor)", func() {
		BeforeEach(func() {
			action, monitor = newFakeStep(), newFakeStep()
			p = run(steps.NewCodependentWith([]steps.Step{action, monitor}, steps.CodependentOptions{}))
			Eventually(action.Started()).Should(BeClosed())
			Eventually(monitor.Started()).Should(BeClosed())
		})

		It("keeps the monitor running when the action exits 0", func() {
			action.Exit(nil)
			Eventually(action.Exited()).Should(BeClosed())
			Consistently(p.done, 50*time.Millisecond).ShouldNot(Receive())
			Expect(monitor.Signals()).To(Equal(0))

			By("ending, and interrupting nothing left, when the monitor then fails")
			monitor.Exit(steps.NewEmittableError(nil, "Instance became unhealthy: refused"))
			Eventually(p.done).Should(Receive(MatchError("Instance became unhealthy: refused")))
		})

		It("still ends everything when the action fails", func() {
			action.Exit(steps.NewEmittableError(nil, "Exited with status 2"))
			var err error
			Eventually(p.done).Should(Receive(&err))
			Expect(monitor.Signals()).To(Equal(1))
			Expect(err).To(MatchError("Exited with status 2"))
		})

		It("is interrupted by a signal", func() {
			p.Signal()
			var err error
			Eventually(p.done).Should(Receive(&err))
			Expect(steps.IsInterrupted(err)).To(BeTrue())
		})
	})

	Context("with CancelOthersOnExit (sidecars beside the action)", func() {
		BeforeEach(func() {
			action, monitor, sidecar = newFakeStep(), newFakeStep(), newFakeStep()
			p = run(steps.NewCodependentWith([]steps.Step{action, sidecar, monitor}, steps.CodependentOptions{CancelOthersOnExit: true}))
			Eventually(monitor.Started()).Should(BeClosed())
		})

		It("ends everything, successfully, when any member exits 0", func() {
			sidecar.Exit(nil)
			var err error
			Eventually(p.done).Should(Receive(&err))
			Expect(err).NotTo(HaveOccurred())
			Expect(action.Signals()).To(Equal(1))
			Expect(monitor.Signals()).To(Equal(1))
		})

		It("fails with a member's failure", func() {
			sidecar.Exit(steps.NewEmittableError(nil, "Exited with status 3"))
			Eventually(p.done).Should(Receive(MatchError("Exited with status 3")))
			Expect(action.Signals()).To(Equal(1))
		})
	})
})
