package linux

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// The garden binary plays three more parts, chosen by argv[0]:
//
//   - garden-init: a container's pid 1, which runc starts from the bundle.
//     It only reaps (as guardian's init), with oom_score_adj -1000 from the
//     bundle so a memory hog is the OOM killer's victim, never the init.
//   - garden-init exec: the shim every process starts as, through runc
//     exec. It resolves nothing itself: garden passes the user's ids, and
//     the shim sets groups and ids, makes the working directory, takes a
//     TTY as its controlling terminal and execs the program (or streams a
//     tar in or out as that user).
//   - garden-dadoo: the per-process reaper on the host (dadoo.go).
//
// Keeping them in the server's binary means there is nothing else to
// install; the binary is bound read-only at /dev/garden-init in every
// container.
const (
	initArgv0 = "garden-init"
	execArg   = "exec"
)

// Reexec runs one of those parts and exits when the binary was started as
// one of them; otherwise it returns at once. Every binary that embeds the
// backend calls it first thing in main (or a test suite's init).
func Reexec() {
	switch filepath.Base(os.Args[0]) {
	case initArgv0:
		if len(os.Args) > 1 && os.Args[1] == execArg {
			os.Exit(runShim())
		}
		runInit()
	case dadooArgv0:
		os.Exit(runDadoo())
	}
}

// Files in a container's depot directory.
const (
	upperDirName     = "upper"
	workDirName      = "work"
	hostsName        = "hosts"
	processesDirName = "processes" // a directory per process: process.json, pid, exitcode
	resolvName       = "resolv.conf"
	shimStatusFD     = 3 // garden-init exec reports why it could not exec here
	notFoundTag      = "not found: "
	shimFailedTag    = "failed: "
)

// runInit reaps until the container is killed. One OS thread is enough,
// and fewer threads leave more of a pids limit to the processes.
func runInit() {
	runtime.GOMAXPROCS(1)
	signals := make(chan os.Signal, 16)
	signal.Notify(signals, syscall.SIGCHLD)
	// pid 1 ignores signals it does not handle; garden stops a container
	// with SIGKILL from outside, which always works.
	signal.Ignore(syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGPIPE)
	for range signals {
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
	fmt.Fprintln(os.Stderr, "garden-init: signal channel closed")
	os.Exit(1)
}
