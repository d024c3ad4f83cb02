package reexec

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// kernelSigaction is the kernel's struct sigaction on amd64 and arm64; all
// zero is SIG_DFL with nothing blocked.
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

const sigIgn = 1 // SIG_IGN

// resetIgnoredSignals gives every signal that is ignored here its default
// action again. An ignored disposition survives exec, and this one may come
// from far up the chain (a shell starts background jobs with SIGINT and
// SIGQUIT ignored, and garden, runc and the init pass it on), whereas a
// container's process must start as a fresh one would: nothing ignored.
// Handled signals need nothing: exec resets them.
func resetIgnoredSignals() {
	for sig := 1; sig <= 64; sig++ {
		if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
			continue
		}
		var old kernelSigaction
		if _, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), 0,
			uintptr(unsafe.Pointer(&old)), 8, 0, 0); errno != 0 || old.handler != sigIgn {
			continue
		}
		var dfl kernelSigaction
		_, _, _ = unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0)
	}
}
