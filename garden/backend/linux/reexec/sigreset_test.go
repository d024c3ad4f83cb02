package reexec

import (
	"unsafe"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"
)

var _ = Describe("resetIgnoredSignals", func() {
	sigaction := func(sig unix.Signal, act *kernelSigaction) kernelSigaction {
		GinkgoHelper()
		var old kernelSigaction
		_, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(act)),
			uintptr(unsafe.Pointer(&old)), 8, 0, 0)
		Expect(errno).To(BeZero())
		return old
	}

	// SIGWINCH's default is to ignore it, so the test process loses nothing
	// while its Go handler is away; it comes back after.
	It("gives an ignored signal its default action and leaves a handled one alone", func() {
		saved := sigaction(unix.SIGWINCH, nil)
		DeferCleanup(func() { sigaction(unix.SIGWINCH, &saved) })
		Expect(uint64(saved.handler)).To(BeNumerically(">", sigIgn), "the Go runtime handles SIGWINCH")
		sigaction(unix.SIGWINCH, &kernelSigaction{handler: sigIgn})

		resetIgnoredSignals()

		Expect(uint64(sigaction(unix.SIGWINCH, nil).handler)).To(BeZero(), "SIG_DFL")
		Expect(uint64(sigaction(unix.SIGURG, nil).handler)).To(BeNumerically(">", sigIgn), "the runtime's own handler stays")
	})
})
