package linux

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"
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

	req := spawnRequest{
		Kind: kindExec, Path: spec.Path, Args: spec.Args, Env: env, Dir: spec.Dir, User: spec.User,
		Rlimits: rlimitMap(spec.Limits), TTY: spec.TTY != nil,
	}
	p, err := c.spawn(req, pio, spec.TTY != nil)
	if err != nil {
		return nil, err
	}
	p.id = id
	if spec.TTY != nil {
		_ = p.SetTTY(*spec.TTY)
	}
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

// process is a process started through garden-init.
type process struct {
	id     string
	conn   *net.UnixConn
	pty    *os.File // the pty master, for TTY processes
	stdout *fanout
	stderr *fanout

	done   chan struct{} // closed after the exit and all output
	status int
	err    error
}

// spawn asks garden-init to start req with pio's streams and returns once
// it runs.
func (c *container) spawn(req spawnRequest, pio garden.ProcessIO, tty bool) (*process, error) {
	conn, err := dialInit(c.dir)
	if err != nil {
		return nil, fmt.Errorf("reaching the container's init: %w", err)
	}
	p := &process{conn: conn, stdout: newFanout(pio.Stdout), stderr: newFanout(pio.Stderr), done: make(chan struct{})}

	var childFiles []*os.File
	var copiers sync.WaitGroup
	var stdin io.WriteCloser
	if tty {
		master, slave, err := openPty(c.initPid)
		if err != nil {
			conn.Close()
			return nil, err
		}
		p.pty, childFiles, stdin = master, []*os.File{slave}, master
		copiers.Add(1)
		go func() {
			defer copiers.Done()
			// Reading the master ends with EIO once every slave fd is
			// closed, i.e. the process and its children are gone.
			_, _ = io.Copy(p.stdout, master)
		}()
	} else {
		inR, inW, err1 := os.Pipe()
		outR, outW, err2 := os.Pipe()
		errR, errW, err3 := os.Pipe()
		if err := errors.Join(err1, err2, err3); err != nil {
			conn.Close()
			return nil, fmt.Errorf("creating pipes: %w", err)
		}
		childFiles, stdin = []*os.File{inR, outW, errW}, inW
		copiers.Add(2)
		for _, pair := range []struct {
			dst *fanout
			src *os.File
		}{{p.stdout, outR}, {p.stderr, errR}} {
			go func() {
				defer copiers.Done()
				_, _ = io.Copy(pair.dst, pair.src)
				pair.src.Close()
			}()
		}
	}

	err = sendPacket(conn, req, childFiles...)
	for _, f := range childFiles {
		f.Close()
	}
	var started initMessage
	if err == nil {
		_, err = recvPacket(conn, &started)
	}
	if err == nil && started.Error != "" {
		if started.NotFound {
			err = garden.ExecutableNotFoundError{Message: started.Error}
		} else {
			err = errors.New(started.Error)
		}
	}
	if err != nil {
		conn.Close()
		stdin.Close()
		copiers.Wait()
		if p.pty != nil {
			p.pty.Close()
		}
		return nil, err
	}

	if !tty {
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
		var msg initMessage
		for {
			if _, err := recvPacket(conn, &msg); err != nil {
				p.err = fmt.Errorf("lost the container's init: %w", err)
				break
			}
			if msg.Exited {
				p.status = msg.Status
				break
			}
		}
		copiers.Wait()
		if p.pty != nil {
			p.pty.Close()
		}
		conn.Close()
		close(p.done)
	}()
	return p, nil
}

// dialInit connects to a container's init socket through a short
// /proc/self/fd path to its directory: the full path may not fit in a
// unix socket address (107 bytes).
func dialInit(dir string) (*net.UnixConn, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", dir, err)
	}
	defer unix.Close(fd)
	return net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: fmt.Sprintf("/proc/self/fd/%d/%s", fd, socketName), Net: "unixpacket"})
}

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

// Signal sends TERM or KILL through garden-init.
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
	return sendPacket(p.conn, controlMessage{Signal: int(sig)})
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
