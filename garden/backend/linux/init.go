package linux

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// The garden binary plays two more parts, chosen by argv[0]:
//
//   - garden-init: a container's pid 1, started by the server in new mount,
//     pid, uts, ipc and net namespaces. It builds the container's root,
//     pivot_roots into it, then spawns processes on request and reaps.
//   - garden-exec: the short-lived child garden-init forks for each request.
//     It applies rlimits, the user and the working directory and then execs
//     the process (or streams a tar in or out as that user).
//
// Keeping both in the server's binary means there is nothing else to
// install, and the server never enters a container's namespaces itself.
const (
	initArgv0 = "garden-init"
	execArgv0 = "garden-exec"

	initSpecEnv = "GARDEN_INIT_SPEC"
)

// Reexec runs garden-init or garden-exec and exits when the binary was
// started as one of them; otherwise it returns at once. Every binary that
// embeds the backend calls it first thing in main (or a test suite's init).
func Reexec() {
	switch filepath.Base(os.Args[0]) {
	case initArgv0:
		if err := runInit(); err != nil {
			fmt.Fprintf(os.Stderr, "garden-init: %v\n", err)
			os.Exit(1)
		}
		os.Exit(0)
	case execArgv0:
		os.Exit(runShim())
	}
}

// initSpec is what the server tells garden-init about the container.
type initSpec struct {
	Dir        string      `json:"dir"`         // the container's depot directory
	RootFS     string      `json:"rootfs"`      // the lower (read-only) root
	ReadOnly   bool        `json:"read_only"`   // a host rootfs: bind it read-only instead of overlaying
	Hostname   string      `json:"hostname"`    // the handle
	BindMounts []bindMount `json:"bind_mounts"` // host paths to mount in
	Binary     string      `json:"binary"`      // this binary's host path, bound in as the shim
	PidsProcs  string      `json:"pids_procs"`  // the pids cgroup.procs each spawned process joins
}

type bindMount struct {
	Src      string `json:"src"`
	Dst      string `json:"dst"`
	ReadOnly bool   `json:"read_only"`
}

// Files in a container's depot directory.
const (
	upperDirName  = "upper"
	workDirName   = "work"
	rootDirName   = "rootfs"
	socketName    = "init.sock"
	hostsName     = "hosts"
	resolvName    = "resolv.conf"
	readyFD       = 3 // garden-init reports "ok" or its failure here
	shimStatusFD  = 3 // garden-exec reports why it could not exec here
	pidsProcsFD   = 4 // garden-exec joins the container's pids cgroup through it
	notFoundTag   = "not found: "
	shimPath      = "/dev/.garden-exec"
	shimFailedTag = "failed: "
)

func runInit() error {
	ready := os.NewFile(readyFD, "ready")
	var spec initSpec
	if err := json.Unmarshal([]byte(os.Getenv(initSpecEnv)), &spec); err != nil {
		return reportReady(ready, fmt.Errorf("decoding %s: %w", initSpecEnv, err))
	}
	os.Unsetenv(initSpecEnv)
	// Opened before pivot_root, while the host's cgroup fs is visible.
	var pidsProcs *os.File
	if spec.PidsProcs != "" {
		f, err := os.OpenFile(spec.PidsProcs, os.O_WRONLY, 0)
		if err != nil {
			return reportReady(ready, fmt.Errorf("opening the pids cgroup: %w", err))
		}
		pidsProcs = f
	}
	listener, err := buildRoot(spec)
	if err != nil {
		return reportReady(ready, err)
	}
	signals := make(chan os.Signal, 16)
	signal.Notify(signals, syscall.SIGCHLD)
	// pid 1 ignores signals it does not handle; the server stops a
	// container with SIGKILL, which always works.
	signal.Ignore(syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGPIPE)
	in := &initProcess{waiters: map[int]chan int{}, pidsProcs: pidsProcs}
	go in.reap(signals)
	if err := reportReady(ready, nil); err != nil {
		return err
	}
	for {
		conn, err := listener.AcceptUnix()
		if err != nil {
			return fmt.Errorf("accepting: %w", err)
		}
		go in.serve(conn)
	}
}

func reportReady(ready *os.File, err error) error {
	msg := "ok"
	if err != nil {
		msg = err.Error()
	}
	if _, werr := ready.WriteString(msg); werr != nil && err == nil {
		err = werr
	}
	ready.Close()
	return err
}

// buildRoot makes the container's filesystem and returns the request
// socket, bound before pivot_root so the server can reach it by its host
// path.
func buildRoot(spec initSpec) (*net.UnixListener, error) {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return nil, fmt.Errorf("making mounts private: %w", err)
	}
	root := filepath.Join(spec.Dir, rootDirName)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	if spec.ReadOnly {
		if err := unix.Mount(spec.RootFS, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return nil, fmt.Errorf("binding rootfs %s: %w", spec.RootFS, err)
		}
		if err := unix.Mount("", root, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_REC, ""); err != nil {
			return nil, fmt.Errorf("making rootfs read-only: %w", err)
		}
		for _, d := range []string{"tmp", "home"} {
			target := filepath.Join(root, d)
			if _, err := os.Stat(target); err == nil {
				if err := unix.Mount("tmpfs", target, "tmpfs", 0, "mode=1777"); err != nil {
					return nil, fmt.Errorf("mounting tmpfs on /%s: %w", d, err)
				}
			}
		}
	} else {
		// upper and work are named relative to the depot directory: the
		// option string treats ',', ':' and '\' specially, and a handle
		// (part of the absolute path) may contain them.
		if err := os.Chdir(spec.Dir); err != nil {
			return nil, err
		}
		opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", spec.RootFS, upperDirName, workDirName)
		if err := unix.Mount("overlay", root, "overlay", 0, opts); err != nil {
			return nil, fmt.Errorf("mounting overlay over %s: %w", spec.RootFS, err)
		}
	}
	if err := mountSystem(root, spec.Binary); err != nil {
		return nil, err
	}
	for _, f := range []string{hostsName, resolvName} {
		target := filepath.Join(root, "etc", f)
		if err := bindFile(filepath.Join(spec.Dir, f), target, !spec.ReadOnly); err != nil {
			return nil, fmt.Errorf("mounting /etc/%s: %w", f, err)
		}
	}
	for _, m := range spec.BindMounts {
		if err := bindInto(root, m); err != nil {
			return nil, err
		}
	}

	// Bound by a relative name from inside the directory: a unix socket
	// path is at most 107 bytes, and depot + handle can be longer.
	if err := os.Chdir(spec.Dir); err != nil {
		return nil, err
	}
	_ = os.Remove(socketName)
	listener, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: socketName, Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", filepath.Join(spec.Dir, socketName), err)
	}
	listener.SetUnlinkOnClose(false)

	if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
		return nil, fmt.Errorf("setting hostname: %w", err)
	}
	// pivot_root(".", ".") stacks the old root under the new one; the
	// lazy unmount then drops it, so nothing of the host stays visible.
	if err := unix.Chdir(root); err != nil {
		return nil, err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return nil, fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return nil, fmt.Errorf("unmounting the old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return nil, err
	}
	return listener, nil
}

// mountSystem mounts /proc, /dev, /dev/pts, /dev/shm and a read-only /sys.
func mountSystem(root, binary string) error {
	mounts := []struct {
		target, fstype, data string
		flags                uintptr
	}{
		{"proc", "proc", "", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
		{"dev", "tmpfs", "mode=755", unix.MS_NOSUID | unix.MS_STRICTATIME},
		{"dev/pts", "devpts", "newinstance,ptmxmode=0666,mode=0620", unix.MS_NOSUID | unix.MS_NOEXEC},
		{"dev/shm", "tmpfs", "mode=1777", unix.MS_NOSUID | unix.MS_NODEV},
		{"sys", "sysfs", "", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_RDONLY},
	}
	for _, m := range mounts {
		target := filepath.Join(root, m.target)
		if err := os.MkdirAll(target, 0o755); err != nil {
			return fmt.Errorf("creating /%s: %w", m.target, err)
		}
		if err := unix.Mount(m.fstype, target, m.fstype, m.flags, m.data); err != nil {
			return fmt.Errorf("mounting /%s: %w", m.target, err)
		}
	}
	for _, dev := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		if err := bindFile("/dev/"+dev, filepath.Join(root, "dev", dev), true); err != nil {
			return fmt.Errorf("binding /dev/%s: %w", dev, err)
		}
	}
	// The shim is this binary, bound into the container: after pivot_root
	// /proc/self/exe names a file on a detached mount, which exec refuses,
	// and it cannot be the source of a bind mount either (its mount is the
	// parent namespace's), so the server passes the binary's path.
	if err := bindFile(binary, filepath.Join(root, shimPath), true); err != nil {
		return fmt.Errorf("binding the exec shim: %w", err)
	}
	// Read-only, so a container cannot rewrite the host's garden binary.
	if err := remountReadOnly(filepath.Join(root, shimPath), true); err != nil {
		return err
	}
	links := map[string]string{
		"ptmx": "pts/ptmx", "fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, "dev", name)); err != nil {
			return fmt.Errorf("linking /dev/%s: %w", name, err)
		}
	}
	return nil
}

// bindFile bind-mounts the file src over target, creating target when it
// is missing and create allows it.
func bindFile(src, target string, create bool) error {
	if _, err := os.Lstat(target); err != nil {
		if !create {
			return nil
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		f.Close()
	}
	return unix.Mount(src, target, "", unix.MS_BIND, "")
}

func bindInto(root string, m bindMount) error {
	info, err := os.Stat(m.Src)
	if err != nil {
		return fmt.Errorf("bind mount source %s: %w", m.Src, err)
	}
	target := filepath.Join(root, filepath.Clean("/"+m.Dst))
	if info.IsDir() {
		err = os.MkdirAll(target, 0o755)
	} else {
		err = bindFile(m.Src, target, true)
		if err == nil {
			return remountReadOnly(target, m.ReadOnly)
		}
	}
	if err != nil {
		return fmt.Errorf("bind mount target %s: %w", m.Dst, err)
	}
	if err := unix.Mount(m.Src, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind mounting %s at %s: %w", m.Src, m.Dst, err)
	}
	return remountReadOnly(target, m.ReadOnly)
}

func remountReadOnly(target string, ro bool) error {
	if !ro {
		return nil
	}
	if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		return fmt.Errorf("making %s read-only: %w", target, err)
	}
	return nil
}

// initProcess spawns and reaps. waiters maps a spawned pid to where its
// exit status goes; mu is held from fork until the pid is registered, so
// the reaper never sees a pid it cannot route.
type initProcess struct {
	mu        sync.Mutex
	waiters   map[int]chan int
	pidsProcs *os.File // handed to each garden-exec as pidsProcsFD
}

func (in *initProcess) reap(signals <-chan os.Signal) {
	for range signals {
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
			status := ws.ExitStatus()
			if ws.Signaled() {
				status = 128 + int(ws.Signal())
			}
			in.mu.Lock()
			if w, ok := in.waiters[pid]; ok {
				w <- status
				delete(in.waiters, pid)
			}
			in.mu.Unlock()
		}
	}
}

func (in *initProcess) serve(conn *net.UnixConn) {
	defer conn.Close()
	var req spawnRequest
	files, err := recvPacket(conn, &req)
	if err != nil {
		_ = sendPacket(conn, initMessage{Error: err.Error()})
		return
	}
	pid, exited, err := in.spawn(req, files)
	for _, f := range files {
		f.Close()
	}
	if err != nil {
		var nf notFoundError
		_ = sendPacket(conn, initMessage{Error: err.Error(), NotFound: errors.As(err, &nf)})
		return
	}
	if err := sendPacket(conn, initMessage{Pid: pid}); err != nil {
		// The server went away; the process runs on and is reaped.
		return
	}
	go func() {
		for {
			var c controlMessage
			fs, err := recvPacket(conn, &c)
			for _, f := range fs {
				f.Close()
			}
			if err != nil {
				return
			}
			if c.Signal > 0 {
				_ = unix.Kill(pid, unix.Signal(c.Signal))
			}
		}
	}()
	status := <-exited
	_ = sendPacket(conn, initMessage{Exited: true, Status: status})
}

type notFoundError struct{ msg string }

func (e notFoundError) Error() string { return e.msg }

// spawn forks garden-exec for req with files as its stdio and waits until
// it has exec'd (or failed to).
func (in *initProcess) spawn(req spawnRequest, files []*os.File) (int, chan int, error) {
	var stdio [3]uintptr
	switch {
	case req.TTY && len(files) == 1:
		stdio = [3]uintptr{files[0].Fd(), files[0].Fd(), files[0].Fd()}
	case len(files) == 3:
		stdio = [3]uintptr{files[0].Fd(), files[1].Fd(), files[2].Fd()}
	default:
		return 0, nil, fmt.Errorf("request carries %d fds", len(files))
	}
	spec, err := json.Marshal(shimSpec{Kind: req.Kind, Path: req.Path, Args: req.Args, Env: req.Env,
		Dir: req.Dir, User: req.User, Rlimits: req.Rlimits})
	if err != nil {
		return 0, nil, err
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return 0, nil, err
	}
	defer statusR.Close()
	pidsFD := ^uintptr(0) // closed in the child
	if in.pidsProcs != nil {
		pidsFD = in.pidsProcs.Fd()
	}
	attr := &syscall.ProcAttr{
		Env:   []string{shimSpecEnv + "=" + string(spec)},
		Files: []uintptr{stdio[0], stdio[1], stdio[2], statusW.Fd(), pidsFD},
		Sys:   &syscall.SysProcAttr{Setsid: true, Setctty: req.TTY, Ctty: 0},
	}
	exited := make(chan int, 1)
	in.mu.Lock()
	pid, err := syscall.ForkExec(shimPath, []string{execArgv0}, attr)
	if err == nil {
		in.waiters[pid] = exited
	}
	in.mu.Unlock()
	statusW.Close()
	if err != nil {
		return 0, nil, fmt.Errorf("forking: %w", err)
	}
	// The status pipe closes on a successful exec; anything written to it
	// is why the exec did not happen.
	msg, _ := io.ReadAll(statusR)
	if len(msg) > 0 {
		<-exited
		text := string(msg)
		if rest, ok := cutPrefix(text, notFoundTag); ok {
			return 0, nil, notFoundError{rest}
		}
		if rest, ok := cutPrefix(text, shimFailedTag); ok {
			text = rest
		}
		return 0, nil, errors.New(text)
	}
	return pid, exited, nil
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):], true
	}
	return s, false
}
