package linux

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"diego/garden"
)

// exitedRetention is how long an exited process stays attachable.
const exitedRetention = time.Minute

// Run starts a process in the container (spec cell §2.5).
func (c *container) Run(spec garden.ProcessSpec, pio garden.ProcessIO) (garden.Process, error) {
	if spec.Path == "" {
		return nil, errors.New("process spec: a path is required")
	}
	if len(spec.BindMounts) > 0 {
		return nil, errors.New("process spec: bind_mounts are not supported for processes (give them to the container at create)")
	}
	id := spec.ID
	if id == "" {
		id = uuid.NewString()
	}
	c.mu.Lock()
	if p, ok := c.processes[id]; ok && !p.exited() {
		c.mu.Unlock()
		return nil, fmt.Errorf("process ID '%s' already in use", id)
	}
	env := append(append([]string{}, c.env...), spec.Env...)
	c.mu.Unlock()

	p, err := c.spawn(spawnRequest{Kind: kindExec, ID: id, Path: spec.Path, Args: spec.Args, Env: env, Dir: spec.Dir,
		User: spec.User, Rlimits: rlimitMap(spec.Limits), TTY: spec.TTY, Image: spec.Image,
		Override: spec.OverrideContainerLimits}, pio)
	if err != nil {
		return nil, err
	}
	p.id = id
	c.mu.Lock()
	c.processes[id] = p
	c.mu.Unlock()
	go func() {
		<-p.done
		time.AfterFunc(exitedRetention, func() {
			c.mu.Lock()
			if c.processes[id] == p {
				delete(c.processes, id)
			}
			c.mu.Unlock()
			if p.dir != "" {
				_ = os.RemoveAll(p.dir)
			}
		})
	}()
	return p, nil
}

// Attach adds writers to a running or recently exited process; output
// from now on reaches them (the server keeps earlier output).
func (c *container) Attach(id string, pio garden.ProcessIO) (garden.Process, error) {
	c.mu.Lock()
	p, ok := c.processes[id]
	c.mu.Unlock()
	if !ok {
		return nil, garden.ProcessNotFoundError{ProcessID: id}
	}
	p.stdout.add(pio.Stdout)
	p.stderr.add(pio.Stderr)
	return p, nil
}

func rlimitMap(l garden.ResourceLimits) map[string]uint64 {
	out := map[string]uint64{}
	for name, v := range map[string]*uint64{
		"as": l.As, "core": l.Core, "cpu": l.Cpu, "data": l.Data, "fsize": l.Fsize, "locks": l.Locks,
		"memlock": l.Memlock, "msgqueue": l.Msgqueue, "nice": l.Nice, "nofile": l.Nofile, "nproc": l.Nproc,
		"rss": l.Rss, "rtprio": l.Rtprio, "sigpending": l.Sigpending, "stack": l.Stack,
	} {
		if v != nil {
			out[name] = *v
		}
	}
	return out
}

// spawnRequest is one thing to start in the container (through its init,
// or runc exec for a pea).
type spawnRequest struct {
	Kind     string
	ID       string
	Image    garden.ImageRef       // a pea's image
	Override *garden.ProcessLimits // a pea's own limits
	Path     string
	Args     []string
	Env      []string
	Dir      string
	User     string
	Rlimits  map[string]uint64
	TTY      *garden.TTYSpec
}

// process is a process garden-dadoo started (through the container's init,
// or runc exec) and reaps.
type process struct {
	id     string
	pid    int      // host pid, for signals
	dir    string   // its directory in the depot (not a pea's)
	pty    *os.File // the pty master, for TTY processes
	stdout *fanout
	stderr *fanout

	done   chan struct{} // closed after the exit and all output
	status int
	err    error
}

// spawn starts req under a garden-dadoo with pio's streams and returns
// once it runs (or why it could not start).
func (c *container) spawn(req spawnRequest, pio garden.ProcessIO) (*process, error) {
	c.mu.Lock()
	root, privileged, initPid, cg, outOfMemory := c.rootPath, c.privileged, c.initPid, c.cg, c.initOutOfMemory
	c.mu.Unlock()
	var pe *pea
	if req.Image.URI != "" {
		name := c.handle + ".pea-" + uuid.NewString()
		rlimits, err := ociRlimits(req.Rlimits)
		if err != nil {
			return nil, err
		}
		// The user is resolved in the pea's image, so the bundle's
		// process (the shim's spec) is filled in once the root is mounted.
		if pe, err = c.newPea(req.ID, name, garden.ProcessSpec{Image: req.Image, OverrideContainerLimits: req.Override}, "", rlimits); err != nil {
			return nil, err
		}
		root = pe.root
	}
	fail := func(err error) (*process, error) {
		if pe != nil {
			c.dropPea(pe)
		}
		return nil, err
	}
	u, err := lookupUser(root, req.User)
	if err != nil {
		return fail(err)
	}
	hostUID, hostGID := hostID(privileged, u.UID), hostID(privileged, u.GID)
	shim := shimSpec{Kind: req.Kind, Path: req.Path, Args: req.Args, Dir: req.Dir,
		UID: u.UID, GID: u.GID, Groups: u.Groups, Home: u.Home, TTY: req.TTY != nil}
	if req.Kind == kindExec {
		shim.Env = processEnv(req.Env, u)
	}
	rlimits, err := ociRlimits(req.Rlimits)
	if err != nil {
		return fail(err)
	}
	// The init starts the process unless the container predates the
	// process socket (or it is a pea, its own runc container).
	socket := filepath.Join(c.dir, initSocketName)
	if pe != nil || cg == nil || !fileExists(socket) {
		socket = ""
	}
	if socket != "" {
		shim.Gate, shim.Rlimits = true, rlimits
	}
	encoded, err := json.Marshal(shim)
	if err != nil {
		return fail(err)
	}
	caps := unprivilegedCaps
	if privileged {
		caps = allCaps()
	}
	procSpec := specs.Process{
		Args: []string{initPath, execArg}, Env: []string{shimSpecEnv + "=" + string(encoded)}, Cwd: "/",
		Capabilities: capSet(caps), Rlimits: rlimits,
	}
	dir := filepath.Join(c.dir, processesDirName, uuid.NewString())
	bundle := ""
	if pe != nil {
		// The pea's bundle carries the process; dadoo keeps its files
		// beside it.
		var spec specs.Spec
		if err := readJSON(filepath.Join(pe.dir, "config.json"), &spec); err != nil {
			return fail(err)
		}
		spec.Process.Env = procSpec.Env
		if err := writeJSON(filepath.Join(pe.dir, "config.json"), spec); err != nil {
			return fail(err)
		}
		dir, bundle = pe.dir, pe.dir
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fail(fmt.Errorf("creating the process directory: %w", err))
	}
	if err := writeJSON(filepath.Join(dir, "process.json"), procSpec); err != nil {
		return fail(err)
	}

	p := &process{stdout: newFanout(pio.Stdout), stderr: newFanout(pio.Stderr), done: make(chan struct{})}
	// Closed once dadoo has exited, after which an empty fifo means the end.
	reaperDone := make(chan struct{})
	var copiers sync.WaitGroup
	var stdin io.WriteCloser
	var childFiles []*os.File // the dadoo's stdin, stdout, stderr
	if req.TTY != nil {
		master, slave, err := openPty(initPid)
		if err != nil {
			return fail(err)
		}
		// Owned by the user, so /dev/stdin and the tty reopen for them.
		_ = slave.Chown(hostUID, hostID(privileged, ttyGID))
		size := garden.WindowSize{Columns: 80, Rows: 24}
		if req.TTY.WindowSize != nil {
			size = *req.TTY.WindowSize
		}
		_ = unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: size.Columns, Row: size.Rows})
		p.pty, childFiles, stdin = master, []*os.File{slave, slave, slave}, master
		copiers.Add(1)
		go func() {
			defer copiers.Done()
			// Reading the master ends with EIO once every slave fd is
			// closed, i.e. the process and its children are gone.
			_, _ = io.Copy(p.stdout, master)
		}()
	} else {
		inR, inW, err := os.Pipe()
		if err != nil {
			return fail(fmt.Errorf("creating pipes: %w", err))
		}
		_ = inR.Chown(hostUID, hostGID)
		outputs, err := openOutputFifos(dir)
		if err != nil {
			inR.Close()
			inW.Close()
			return fail(err)
		}
		childFiles, stdin = []*os.File{inR, nil, nil}, inW
		copiers.Add(2)
		for i, dst := range []*fanout{p.stdout, p.stderr} {
			go func() {
				defer copiers.Done()
				copyFifo(dst, outputs[i], reaperDone)
			}()
		}
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	defer statusR.Close()
	da := dadooArgs{Runc: c.b.runc.bin, Root: c.b.runc.root, ID: runcID(c.handle), Dir: dir,
		TTY: req.TTY != nil, UID: hostUID, GID: hostGID, Cgroup: c.b.cgroups.ExecCgroup()}
	if pe != nil {
		da.ID, da.Bundle, da.Cgroup = runcID(pe.name), bundle, ""
	}
	if socket != "" {
		da.Socket, da.Joins = socket, cg.ProcessJoins(outOfMemory)
	}
	args, _ := json.Marshal(da)
	cmd := &exec.Cmd{
		Path: c.b.cfg.InitBin, Args: []string{dadooArgv0, string(args)},
		Stdin: childFiles[0], ExtraFiles: []*os.File{statusW},
		// Its own session: a garden restart or a signal to garden's
		// group leaves the process and its reaper alone.
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if childFiles[1] != nil {
		cmd.Stdout, cmd.Stderr = childFiles[1], childFiles[2]
	}
	started := time.Now()
	err = cmd.Start()
	statusW.Close()
	for _, f := range childFiles {
		if f != nil {
			f.Close()
		}
	}
	if err != nil {
		stdin.Close()
		close(reaperDone)
		copiers.Wait()
		if p.pty != nil {
			p.pty.Close()
		}
		return fail(fmt.Errorf("starting garden-dadoo: %w", err))
	}
	waited := make(chan struct{})
	go func() {
		werr := cmd.Wait()
		p.status = cmd.ProcessState.ExitCode()
		if p.status < 0 {
			p.err = fmt.Errorf("the process's reaper: %w", werr)
		}
		close(reaperDone)
		copiers.Wait()
		if p.pty != nil {
			p.pty.Close()
		}
		if pe != nil {
			c.dropPea(pe)
		}
		close(waited)
	}()

	// The status pipe closes once the shim has exec'd and runc has
	// returned; anything on it but the pid says why the start failed.
	msg, _ := io.ReadAll(statusR)
	var startErr error
	for _, m := range strings.Split(string(msg), "\x00") {
		switch {
		case strings.HasPrefix(m, pidTag):
			p.pid, _ = strconv.Atoi(strings.TrimPrefix(m, pidTag))
		case strings.HasPrefix(m, notFoundTag):
			startErr = garden.ExecutableNotFoundError{Message: strings.TrimPrefix(m, notFoundTag)}
		case strings.HasPrefix(m, shimFailedTag):
			startErr = errors.New(strings.TrimPrefix(m, shimFailedTag))
		}
	}
	if startErr == nil && p.pid == 0 {
		startErr = errors.New("the process did not start (its reaper exited)")
	}
	if startErr != nil {
		stdin.Close()
		<-waited
		if pe == nil {
			_ = os.RemoveAll(dir)
		}
		return nil, startErr
	}

	c.b.logger.Debug("process-started", "handle", c.handle, "start", time.Since(started).String())
	if pe == nil {
		p.dir = dir
		// What a restarted garden needs to find the process again.
		_ = writeJSON(filepath.Join(dir, processMetaName), processMeta{ID: req.ID, Pid: p.pid})
	}
	if req.TTY == nil {
		go func() {
			if pio.Stdin != nil {
				_, _ = io.Copy(stdin, pio.Stdin)
			}
			stdin.Close()
		}()
	} else if pio.Stdin != nil {
		go func() { _, _ = io.Copy(stdin, pio.Stdin) }()
	}
	go func() {
		<-waited
		close(p.done)
	}()
	return p, nil
}

// openOutputFifos makes the process's stdout and stderr fifos in dir and
// opens their read ends, without waiting for a writer.
func openOutputFifos(dir string) ([]*os.File, error) {
	var files []*os.File
	for _, name := range []string{stdoutFifo, stderrFifo} {
		path := filepath.Join(dir, name)
		if err := unix.Mkfifo(path, 0o600); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("making %s: %w", path, err)
		}
		f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, fmt.Errorf("opening %s: %w", path, err)
		}
		files = append(files, f)
	}
	return files, nil
}

// copyFifo copies a process's output fifo to dst. An empty fifo without a
// writer reads as EOF before dadoo has opened it (or, after a restart,
// until dadoo notices the new reader), so EOF means the end only once
// done is closed.
func copyFifo(dst io.Writer, src *os.File, done <-chan struct{}) {
	defer src.Close()
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			_, _ = dst.Write(buf[:n])
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return
		}
		select {
		case <-done:
			// Whatever was written before the end is in the fifo:
			// drain it.
			for {
				n, err := src.Read(buf)
				if n > 0 {
					_, _ = dst.Write(buf[:n])
				}
				if n == 0 || err != nil {
					return
				}
			}
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// processMeta is a process's entry in its directory, beside dadoo's
// exitcode.
type processMeta struct {
	ID  string `json:"id"`
	Pid int    `json:"pid"`
}

const processMetaName = "meta.json"

// reloadProcesses finds the processes a previous garden started (their
// dadoo kept them running): Attach gets their exit status once dadoo has
// written it, but not the output they wrote while garden was away.
func (c *container) reloadProcesses() {
	entries, _ := os.ReadDir(filepath.Join(c.dir, processesDirName))
	for _, e := range entries {
		dir := filepath.Join(c.dir, processesDirName, e.Name())
		var meta processMeta
		if readJSON(filepath.Join(dir, processMetaName), &meta) != nil || meta.ID == "" {
			_ = os.RemoveAll(dir)
			continue
		}
		p := &process{id: meta.ID, pid: meta.Pid, dir: dir, stdout: newFanout(nil), stderr: newFanout(nil), done: make(chan struct{})}
		c.processes[meta.ID] = p
		finished := make(chan struct{})
		var copiers sync.WaitGroup
		if outputs, err := openOutputFifos(dir); err == nil {
			copiers.Add(2)
			for i, dst := range []*fanout{p.stdout, p.stderr} {
				go func() {
					defer copiers.Done()
					copyFifo(dst, outputs[i], finished)
				}()
			}
		}
		go func() {
			graceLeft := 50 // polls after the process is gone
			for {
				if b, err := os.ReadFile(filepath.Join(dir, exitCodeFile)); err == nil {
					p.status, _ = strconv.Atoi(strings.TrimSpace(string(b)))
					break
				}
				// Gone without an exit code for 5 s: dadoo died with it
				// (killed with its container, or by hand).
				if unix.Kill(p.pid, 0) != nil {
					if graceLeft--; graceLeft <= 0 {
						p.status = 128 + int(unix.SIGKILL)
						break
					}
				}
				time.Sleep(100 * time.Millisecond)
			}
			close(finished)
			copiers.Wait()
			close(p.done)
			time.AfterFunc(exitedRetention, func() {
				c.mu.Lock()
				if c.processes[p.id] == p {
					delete(c.processes, p.id)
				}
				c.mu.Unlock()
				_ = os.RemoveAll(dir)
			})
		}()
	}
}

// dropPea removes a pea whose process ended or never started.
func (c *container) dropPea(pe *pea) {
	c.mu.Lock()
	delete(c.peas, pe.name)
	c.mu.Unlock()
	if err := pe.remove(c.b); err != nil {
		c.b.logger.Error("removing-pea-failed", "handle", c.handle, "pea", pe.name, "error", err)
	}
}

// ttyGID is the tty group, devpts's gid=5 as guardian mounts it.
const ttyGID = 5

func (p *process) ID() string { return p.id }

// Wait returns the exit status once the process has exited and its output
// has been copied.
func (p *process) Wait() (int, error) {
	<-p.done
	return p.status, p.err
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends TERM or KILL to the process.
func (p *process) Signal(s garden.Signal) error {
	sig := unix.SIGTERM
	switch s {
	case garden.SignalTerminate:
	case garden.SignalKill:
		sig = unix.SIGKILL
	default:
		return fmt.Errorf("unknown signal %d", s)
	}
	if p.exited() {
		return nil
	}
	if err := unix.Kill(p.pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("signalling process %s: %w", p.id, err)
	}
	return nil
}

// SetTTY resizes a TTY process's window.
func (p *process) SetTTY(spec garden.TTYSpec) error {
	if p.pty == nil || spec.WindowSize == nil {
		return nil
	}
	return unix.IoctlSetWinsize(int(p.pty.Fd()), unix.TIOCSWINSZ,
		&unix.Winsize{Col: spec.WindowSize.Columns, Row: spec.WindowSize.Rows})
}

// openPty opens a pty pair on the container's own devpts (through
// /proc/<init>/root), so the process sees /dev/pts/N as it would under any
// init; TIOCGPTPEER gives the slave without a path lookup.
func openPty(initPid int) (*os.File, *os.File, error) {
	master, err := os.OpenFile(fmt.Sprintf("/proc/%d/root/dev/pts/ptmx", initPid), os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("opening the container's ptmx: %w", err)
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlocking pty: %w", err)
	}
	slaveFd, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	if errno != 0 {
		err = errno
		master.Close()
		return nil, nil, fmt.Errorf("opening pty slave: %w", err)
	}
	return master, os.NewFile(uintptr(slaveFd), "pty-slave"), nil
}

// fanout copies a process's output to its writers; Attach adds more.
type fanout struct {
	mu      sync.Mutex
	writers []io.Writer
}

func newFanout(w io.Writer) *fanout {
	f := &fanout{}
	f.add(w)
	return f
}

func (f *fanout) add(w io.Writer) {
	if w == nil {
		return
	}
	f.mu.Lock()
	f.writers = append(f.writers, w)
	f.mu.Unlock()
}

// Write never fails: a writer that errors is dropped, and the process's
// output keeps flowing to the others.
func (f *fanout) Write(b []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	kept := f.writers[:0]
	for _, w := range f.writers {
		if _, err := w.Write(b); err == nil {
			kept = append(kept, w)
		}
	}
	f.writers = kept
	return len(b), nil
}
