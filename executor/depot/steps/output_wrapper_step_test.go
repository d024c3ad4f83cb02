package steps_test

import (
	"errors"
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"diego/executor/depot/steps"
)

var _ = Describe("OutputWrapperStep", func() {
	var buffer *steps.OutputBuffer

	BeforeEach(func() { buffer = &steps.OutputBuffer{} })

	It("replaces a failure's message with the captured output", func() {
		cause := steps.NewEmittableError(nil, "Exited with status 4")
		fmt.Fprint(buffer, "  failed to make TCP connection to 10.254.0.2:8080: connection refused\n")
		p := run(steps.NewOutputWrapper(failing(cause), buffer))
		var err error
		Eventually(p.done).Should(Receive(&err))
		Expect(err).To(MatchError("failed to make TCP connection to 10.254.0.2:8080: connection refused"))
		Expect(steps.IsEmittable(err)).To(BeTrue())
		Expect(errors.Unwrap(err)).To(BeIdenticalTo(cause))
	})

	It("keeps the failure's message when nothing was captured", func() {
		p := run(steps.NewOutputWrapper(failing(errors.New("Exited with status 3")), buffer))
		Eventually(p.done).Should(Receive(MatchError("Exited with status 3")))
	})

	It("passes success, readiness and interrupts through", func() {
		fmt.Fprint(buffer, "noise")
		inner := newFakeStep()
		p := run(steps.NewOutputWrapper(inner, buffer))
		inner.Ready()
		Eventually(p.ready).Should(BeClosed())
		p.Signal()
		Eventually(p.done).Should(Receive(MatchError(steps.ErrCancelled)))

		p = run(steps.NewOutputWrapper(succeeding(), buffer))
		Eventually(p.done).Should(Receive(BeNil()))
	})

	It("keeps only the first 10 KiB", func() {
		fmt.Fprint(buffer, strings.Repeat("x", 20*1024))
		Expect(buffer.String()).To(HaveLen(10 * 1024))
	})

	Describe("CaptureStderr", func() {
		It("copies stderr into the buffer and still streams it", func() {
			streamer := newFakeStreamer()
			captured := steps.CaptureStderr(streamer, buffer)
			fmt.Fprint(captured.Stderr(), "bad\n")
			fmt.Fprint(captured.Stdout(), "good\n")
			Expect(streamer.stderr).To(gbytes.Say("bad\n"))
			Expect(streamer.stdout).To(gbytes.Say("good\n"))
			Expect(buffer.String()).To(Equal("bad"))
		})
	})
})
