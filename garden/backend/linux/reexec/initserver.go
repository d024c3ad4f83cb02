package reexec

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The process socket: how a container's own init starts its processes, so
// that a Run costs one fork and exec inside the container instead of a
// `runc exec` (which joins every namespace and cgroup and compiles the
// seccomp filter again; docs/garden.md, "Cost (B8)").
//
// Garden binds a SOCK_SEQPACKET listener at init.sock in the container's
// depot directory (on the host, never in the rootfs) and hands it to the
// init on fd 3 through `runc run --preserve-fds 1`. garden-dadoo connects
// and sends one message: the shim's spec (GARDEN_EXEC_SPEC's value), with
// the shim's fds 0-4 as SCM_RIGHTS (stdin, stdout, stderr, the start
// status pipe, and the gate). The init forks and execs `/dev/garden-init
// exec` with them, in a session of its own, and answers "pid" with the
// child's pidfd. The shim waits at the gate until dadoo has put it in the
// processes' cgroups and set its rlimits and oom_score_adj from the host,
// where raising them is allowed. When the init reaps the child it sends
// "exit:<wait status>" on the same connection; a connection that closes
// without it means the init died, i.e. the container was destroyed.
// The child inherits the init's namespaces, capabilities and seccomp
// filter, which runc applied to the init exactly as it would to an exec.
const (
	InitSocketName   = "init.sock"
	initListenFD     = 3
	shimGateFD       = 4
	initMsgPid       = "pid"
	initMsgError     = "error:"
	initMsgExit      = "exit:"
	maxInitRequest   = 256 << 10 // the spec travels as one env string, at most 128 KiB anyway
	initRequestFiles = 5
	initBacklog      = 1024 // a burst of Runs waits here for the init's accept loop
	// A unix socket's connect fails with EAGAIN, not waits, while the
	// backlog is full: dadoo tries again for this long.
	initDialPatience = 5 * time.Second
)

// initServer is the init's side: the children it started, by pid, with the
// connection that wants their exit status.
type initServer struct {
	shim    []string // argv: /dev/garden-init exec (a stand-in in unit tests)
	mu      sync.Mutex
	waiting map[int]*initChild
}

type initChild struct {
	conn  *seqConn
	ready chan struct{} // closed once the pid answer is sent: the exit goes after it
}

func newInitServer() *initServer {
	return &initServer{shim: []string{initPath, ExecArg}, waiting: map[int]*initChild{}}
}

// listen serves the listener on fd until the returned file is closed; the
// listener is made close-on-exec, so no process of the container inherits
// it.
func (s *initServer) listen(fd int) (*os.File, error) {
	if typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err != nil || typ != unix.SOCK_SEQPACKET {
		return nil, fmt.Errorf("process socket: fd %d is not a SOCK_SEQPACKET socket (%v)", fd, err)
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, fmt.Errorf("process socket: %w", err)
	}
	l := os.NewFile(uintptr(fd), InitSocketName) // non-blocking: served by Go's poller
	rc, err := l.SyscallConn()
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("process socket: %w", err)
	}
	go func() {
		for {
			var nfd int
			var aerr error
			if err := rc.Read(func(fd uintptr) bool {
				nfd, _, aerr = unix.Accept4(int(fd), unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK)
				return !errors.Is(aerr, unix.EAGAIN)
			}); err != nil {
				return // closed
			}
			if aerr != nil {
				// Out of fds, say: back off rather than spin.
				time.Sleep(10 * time.Millisecond)
				continue
			}
			conn, err := newSeqConn(nfd)
			if err != nil {
				continue
			}
			go s.serve(conn)
		}
	}()
	return l, nil
}

// serve starts one shim for one request.
func (s *initServer) serve(conn *seqConn) {
	buf := make([]byte, maxInitRequest)
	oob := make([]byte, unix.CmsgSpace(initRequestFiles*4))
	// The fds arrive close-on-exec.
	n, oobn, flags, err := conn.recvmsg(buf, oob)
	if err != nil {
		conn.Close()
		return
	}
	// Whatever fds came are closed on every way out, an empty request's too.
	fds := parseRights(oob[:oobn])
	defer closeFds(fds)
	if n == 0 {
		conn.Close()
		return
	}
	answer := func(err error) {
		_ = conn.send([]byte(initMsgError+err.Error()), nil)
		conn.Close()
	}
	switch {
	case flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0:
		answer(errors.New("request truncated"))
		return
	case len(fds) != initRequestFiles:
		answer(fmt.Errorf("request carries %d fds, want %d", len(fds), initRequestFiles))
		return
	}
	files := make([]uintptr, len(fds))
	for i, fd := range fds {
		files[i] = uintptr(fd)
	}
	child := &initChild{conn: conn, ready: make(chan struct{})}
	pidfd := -1
	// Under the lock, so the reaper cannot take the child before it is
	// registered.
	s.mu.Lock()
	pid, err := syscall.ForkExec(s.shim[0], s.shim, &syscall.ProcAttr{
		Dir: "/", Env: []string{ShimSpecEnv + "=" + string(buf[:n])}, Files: files,
		Sys: &syscall.SysProcAttr{Setsid: true, PidFD: &pidfd},
	})
	if err == nil {
		s.waiting[pid] = child
	}
	s.mu.Unlock()
	if err != nil {
		answer(fmt.Errorf("starting the shim: %w", err))
		return
	}
	if pidfd < 0 {
		// The reaper closes the connection when the child ends.
		_ = conn.send([]byte(initMsgError+"no pidfd for the shim (Linux 5.3 or later is needed)"), nil)
		_ = unix.Kill(pid, unix.SIGKILL)
		close(child.ready)
		return
	}
	err = conn.send([]byte(initMsgPid), unix.UnixRights(pidfd))
	unix.Close(pidfd)
	if err != nil {
		// dadoo is gone: the shim finds its gate closed and exits.
		_ = unix.Kill(pid, unix.SIGKILL)
	}
	close(child.ready)
}

// reap collects every exited child; the ones a request started get their
// status sent.
func (s *initServer) reap() {
	s.mu.Lock()
	var ended []*initChild
	var statuses []unix.WaitStatus
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if pid <= 0 || err != nil {
			break
		}
		if c, ok := s.waiting[pid]; ok {
			delete(s.waiting, pid)
			ended, statuses = append(ended, c), append(statuses, ws)
		}
	}
	s.mu.Unlock()
	for i, c := range ended {
		go func() {
			<-c.ready
			_ = c.conn.send([]byte(initMsgExit+strconv.FormatUint(uint64(statuses[i]), 10)), nil)
			c.conn.Close()
		}()
	}
}

func parseRights(oob []byte) []int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for _, m := range msgs {
		if got, err := unix.ParseUnixRights(&m); err == nil {
			fds = append(fds, got...)
		}
	}
	return fds
}

func closeFds(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// socketPath gives a name for path that fits a sockaddr_un (107 bytes):
// path itself, or its directory opened and named through /proc/self/fd.
// The caller calls release when done with the name.
func socketPath(sock string) (string, func(), error) {
	if len(sock) <= 100 {
		return sock, func() {}, nil
	}
	dirfd, err := unix.Open(path.Dir(sock), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, fmt.Errorf("opening %s: %w", path.Dir(sock), err)
	}
	return fmt.Sprintf("/proc/self/fd/%d/%s", dirfd, path.Base(sock)), func() { unix.Close(dirfd) }, nil
}

// listenInitSocket binds the container's process socket and returns the
// listener as a file for runc to hand on; garden keeps no copy.
func ListenInitSocket(sock string) (*os.File, error) {
	name, release, err := socketPath(sock)
	if err != nil {
		return nil, err
	}
	defer release()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("process socket: %w", err)
	}
	_ = os.Remove(sock)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: name}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("binding the process socket %s: %w", sock, err)
	}
	// Only root may connect (the depot directory is world-searchable).
	if err := os.Chmod(name, 0o600); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("process socket %s: %w", sock, err)
	}
	if err := unix.Listen(fd, initBacklog); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("listening on the process socket %s: %w", sock, err)
	}
	return os.NewFile(uintptr(fd), sock), nil
}

// dialInit connects to a container's process socket.
func dialInit(sock string) (*seqConn, error) {
	name, release, err := socketPath(sock)
	if err != nil {
		return nil, err
	}
	defer release()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("connecting to the container's init: %w", err)
	}
	deadline := time.Now().Add(initDialPatience)
	for {
		err := unix.Connect(fd, &unix.SockaddrUnix{Name: name})
		if err == nil {
			conn, err := newSeqConn(fd)
			if err != nil {
				return nil, fmt.Errorf("connecting to the container's init: %w", err)
			}
			return conn, nil
		}
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if !errors.Is(err, unix.EAGAIN) || time.Now().After(deadline) {
			unix.Close(fd)
			return nil, fmt.Errorf("connecting to the container's init: dial unixpacket %s: %w", sock, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// initStart asks the init to start the shim with env value spec and files
// as its fds 0-4, and returns the shim's pidfd.
func initStart(conn *seqConn, spec string, files []*os.File) (int, error) {
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	if err := conn.send([]byte(spec), unix.UnixRights(fds...)); err != nil {
		return -1, fmt.Errorf("asking the container's init: %w", err)
	}
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, err := conn.recvmsg(buf, oob)
	fds = parseRights(oob[:oobn])
	if err != nil || n == 0 {
		closeFds(fds)
		return -1, fmt.Errorf("the container's init did not answer: %v", err)
	}
	msg := string(buf[:n])
	if m, ok := strings.CutPrefix(msg, initMsgError); ok {
		closeFds(fds)
		return -1, fmt.Errorf("the container's init: %s", m)
	}
	if msg != initMsgPid || len(fds) != 1 {
		closeFds(fds)
		return -1, fmt.Errorf("the container's init answered %q with %d fds", msg, len(fds))
	}
	return fds[0], nil
}

// initWait waits for the init's word on the shim's end: its wait status,
// or false when the init died first (the container was destroyed).
func initWait(conn *seqConn) (unix.WaitStatus, bool) {
	buf := make([]byte, 64)
	n, _, _, err := conn.recvmsg(buf, nil)
	if err != nil || n == 0 {
		return 0, false
	}
	v, ok := strings.CutPrefix(string(buf[:n]), initMsgExit)
	if !ok {
		return 0, false
	}
	ws, err := strconv.ParseUint(v, 10, 32)
	return unix.WaitStatus(ws), err == nil
}

// seqConn is one connection on the process socket, a non-blocking
// SOCK_SEQPACKET fd served by Go's poller. It stands in for net.UnixConn,
// which this package avoids: importing net would make the re-executed parts
// wait for the server's packages to initialise (init.go).
type seqConn struct {
	f  *os.File
	rc syscall.RawConn
}

func newSeqConn(fd int) (*seqConn, error) {
	f := os.NewFile(uintptr(fd), InitSocketName)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &seqConn{f: f, rc: rc}, nil
}

// recvmsg reads one message and its fds (close-on-exec); n is 0 when the
// peer has closed.
func (c *seqConn) recvmsg(p, oob []byte) (n, oobn, flags int, err error) {
	rerr := c.rc.Read(func(fd uintptr) bool {
		for {
			n, oobn, flags, _, err = unix.Recvmsg(int(fd), p, oob, unix.MSG_CMSG_CLOEXEC)
			if !errors.Is(err, unix.EINTR) {
				return !errors.Is(err, unix.EAGAIN)
			}
		}
	})
	if rerr != nil {
		return 0, 0, 0, rerr
	}
	return n, oobn, flags, err
}

// send writes one message with oob's fds.
func (c *seqConn) send(p, oob []byte) error {
	var err error
	werr := c.rc.Write(func(fd uintptr) bool {
		for {
			err = unix.Sendmsg(int(fd), p, oob, nil, 0)
			if !errors.Is(err, unix.EINTR) {
				return !errors.Is(err, unix.EAGAIN)
			}
		}
	})
	if werr != nil {
		return werr
	}
	return err
}

func (c *seqConn) Close() error { return c.f.Close() }

// pidfdPid is the host pid of a pidfd's process, from its fdinfo.
func pidfdPid(pidfd int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", pidfd))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Pid:"); ok {
			pid, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || pid <= 0 {
				return 0, fmt.Errorf("the shim has no pid (%q): it has exited", strings.TrimSpace(v))
			}
			return pid, nil
		}
	}
	return 0, errors.New("no Pid in the pidfd's fdinfo")
}
