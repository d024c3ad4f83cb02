package linux

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
)

// The garden binary plays three more parts, chosen by argv[0]:
//
//   - garden-init listen: a container's pid 1, which runc starts from the
//     bundle. It reaps (as guardian's init), with oom_score_adj -1000 from
//     garden so a memory hog is the OOM killer's victim, never the init,
//     and starts each process's shim when garden-dadoo asks over the
//     socket garden handed it (initserver.go). A container made by an
//     older garden has a plain garden-init, whose processes start through
//     runc exec.
//   - garden-init exec: the shim every process starts as. It resolves
//     nothing itself: garden passes the user's ids, and
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
	listenArg = "listen" // the init has the process socket's listener on fd 3
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
		runInit(len(os.Args) > 1 && os.Args[1] == listenArg)
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

// runInit reaps until the container is killed and, with listen, starts
// processes for garden-dadoo. One OS thread is enough, and fewer threads
// leave more of a pids limit to the processes.
func runInit(listen bool) {
	runtime.GOMAXPROCS(1)
	signals := make(chan os.Signal, 16)
	signal.Notify(signals, syscall.SIGCHLD)
	// pid 1 takes no action on the signals it does not handle; garden stops
	// a container with SIGKILL from outside, which always works. They are
	// caught and dropped, not ignored: an ignored signal stays ignored
	// across exec, in every process the init starts.
	dropped := make(chan os.Signal, 16)
	signal.Notify(dropped, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGPIPE)
	go func() {
		for range dropped {
		}
	}()
	s := newInitServer()
	if listen {
		if err := s.listen(initListenFD); err != nil {
			fmt.Fprintln(os.Stderr, "garden-init:", err)
		}
	}
	for range signals {
		s.reap()
	}
	fmt.Fprintln(os.Stderr, "garden-init: signal channel closed")
	os.Exit(1)
}
