package reexec

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path"
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
	// InitPath is where the binary is bound in every container.
	InitPath  = "/dev/garden-init"
	initPath  = InitPath
	initArgv0 = "garden-init"
	ExecArg   = "exec"
	ListenArg = "listen" // the init has the process socket's listener on fd 3
)

// init runs one of those parts and exits when the binary was started as one
// of them; otherwise it returns at once. It is a package init, not a call in
// main, so that it runs before the server's own packages are initialised:
// Go initialises packages in import-path order as soon as their imports
// are, and this package imports only the standard library's early ones
// (no net, no path/filepath, no archive/tar), the OCI spec types and
// x/sys/unix, so a re-executed part skips the protobuf, HTTP and netlink
// registrations (decision 173). A shim that streams a tar needs archive/tar:
// it is left to package tarstream's init, which registers the tar code and
// calls Dispatch.
func init() {
	if streamsTar() {
		return
	}
	Dispatch()
}

// Dispatch runs the part argv[0] names and exits, or returns at once when
// the binary is the server.
func Dispatch() {
	switch path.Base(os.Args[0]) {
	case initArgv0:
		if len(os.Args) > 1 && os.Args[1] == ExecArg {
			os.Exit(runShim())
		}
		runInit(len(os.Args) > 1 && os.Args[1] == ListenArg)
	case DadooArgv0:
		os.Exit(runDadoo())
	}
}

// The tar code, from package tarstream.
var (
	extractTar func(r io.Reader, dest string) error
	writeTar   func(w io.Writer, src string) error
)

// RegisterTar gives the shim the code that streams a tar in and out.
func RegisterTar(extract func(r io.Reader, dest string) error, write func(w io.Writer, src string) error) {
	extractTar, writeTar = extract, write
}

// streamsTar says whether this is a shim asked to stream a tar, which the
// early init leaves to tarstream's.
func streamsTar() bool {
	if path.Base(os.Args[0]) != initArgv0 || len(os.Args) < 2 || os.Args[1] != ExecArg {
		return false
	}
	var spec struct {
		Kind string `json:"kind"`
	}
	_ = json.Unmarshal([]byte(os.Getenv(ShimSpecEnv)), &spec)
	return spec.Kind == KindTarIn || spec.Kind == KindTarOut
}

// Files in a container's depot directory.
const (
	shimStatusFD  = 3 // garden-init exec reports why it could not exec here
	NotFoundTag   = "not found: "
	ShimFailedTag = "failed: "
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
		if _, err := s.listen(initListenFD); err != nil {
			fmt.Fprintln(os.Stderr, "garden-init:", err)
		}
	}
	for range signals {
		s.reap()
	}
	fmt.Fprintln(os.Stderr, "garden-init: signal channel closed")
	os.Exit(1)
}
