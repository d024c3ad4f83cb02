package steps_test

import (
	"errors"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/executor/depot/steps"
)

var _ = Describe("EmitProgressStep", func() {
	var streamer *fakeStreamer

	BeforeEach(func() { streamer = newFakeStreamer() })

	newStep := func(inner steps.Step) steps.Step {
		return steps.NewEmitProgress(inner, "Staging...", "Staging complete", "Staging failed", streamer, discardLogger)
	}

	It("writes the start message before the inner step runs and the success message after", func() {
		inner := newFakeStep()
		p := run(newStep(inner))
		Eventually(inner.Started()).Should(BeClosed())
		Expect(string(streamer.stdout.Contents())).To(Equal("Staging...\n"))
		inner.Ready()
		Eventually(p.ready).Should(BeClosed())
		inner.Exit(nil)
		Eventually(p.done).Should(Receive(BeNil()))
		Expect(string(streamer.stdout.Contents())).To(Equal("Staging...\nStaging complete\n"))
		Expect(streamer.stderr.Contents()).To(BeEmpty())
	})

	It("writes the failure prefix and an emittable error's message to stderr, returning the error unchanged", func() {
		cause := steps.NewEmittableError(nil, "Exited with status 1")
		p := run(newStep(failing(cause)))
		var err error
		Eventually(p.done).Should(Receive(&err))
		Expect(err).To(BeIdenticalTo(cause))
		Expect(string(streamer.stderr.Contents())).To(Equal("Staging failed: Exited with status 1\n"))
		Expect(string(streamer.stdout.Contents())).To(Equal("Staging...\n"))
	})

	It("writes only the prefix for an error that is not emittable", func() {
		p := run(newStep(failing(errors.New("internal"))))
		Eventually(p.done).Should(Receive(MatchError("internal")))
		Expect(string(streamer.stderr.Contents())).To(Equal("Staging failed\n"))
	})

	It("skips empty messages", func() {
		p := run(steps.NewEmitProgress(failing(errors.New("x")), "", "", "", streamer, discardLogger))
		Eventually(p.done).Should(Receive(HaveOccurred()))
		p = run(steps.NewEmitProgress(succeeding(), "", "", "", streamer, discardLogger))
		Eventually(p.done).Should(Receive(BeNil()))
		Expect(streamer.stdout.Contents()).To(BeEmpty())
		Expect(streamer.stderr.Contents()).To(BeEmpty())
	})

	It("passes signals on", func() {
		inner := newFakeStep()
		p := run(newStep(inner))
		Eventually(inner.Started()).Should(BeClosed())
		p.Signal()
		Eventually(p.done).Should(Receive(MatchError(steps.ErrCancelled)))
		Expect(inner.Signals()).To(Equal(1))
	})
})
