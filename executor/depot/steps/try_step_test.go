package steps_test

import (
	"errors"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/executor/depot/steps"
)

var _ = Describe("TryStep", func() {
	It("succeeds when the inner step fails", func() {
		p := run(steps.NewTry(failing(errors.New("boom")), discardLogger))
		Eventually(p.done).Should(Receive(BeNil()))
	})

	It("succeeds when the inner step succeeds, and passes readiness on", func() {
		inner := newFakeStep()
		p := run(steps.NewTry(inner, discardLogger))
		inner.Ready()
		Eventually(p.ready).Should(BeClosed())
		inner.Exit(nil)
		Eventually(p.done).Should(Receive(BeNil()))
	})

	It("passes a signal through and still succeeds", func() {
		inner := newFakeStep()
		p := run(steps.NewTry(inner, discardLogger))
		Eventually(inner.Started()).Should(BeClosed())
		p.Signal()
		Eventually(p.done).Should(Receive(BeNil()))
		Expect(inner.Signals()).To(Equal(1))
	})
})
