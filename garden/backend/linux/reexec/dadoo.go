package reexec

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"golang.org/x/sys/unix"
)

// dadoo is guardian's per-process reaper, played by the garden binary as
// "garden-dadoo" on the host: it has the container's init start one process
// (initserver.go) and learns its exit status from the init, or, in a
// container an older garden made and for a pea, runs `runc exec --detach`
// (`runc run`) and becomes the process's parent (a child subreaper inherits
// it when runc exits). It relays
// its output into the fifos of the process directory, and keeps its exit
// status there. It is in its own session, so the process outlives a garden
// restart: while garden is away the relay drops output instead of failing
// the process's writes, and a restarted garden reopens the fifos
// (decision 26).
//
// File descriptors from garden: 0 the process's stdin (or the pty slave,
// also on 1 and 2), 3 the start status pipe shared with the exec shim.
type DadooArgs struct {
	Runc   string `json:"runc"`
	Root   string `json:"root"`
	ID     string `json:"id"`
	Dir    string `json:"dir"` // process.json, pid, exitcode
	TTY    bool   `json:"tty"`
	UID    int    `json:"uid"` // the process's host uid and gid, owners of its pipes
	GID    int    `json:"gid"`
	Cgroup string `json:"cgroup,omitempty"` // runc exec --cgroup
	Bundle string `json:"bundle,omitempty"` // a pea: runc run this bundle instead of exec
	// Socket is the container's process socket: the init starts the
	// process, which dadoo puts in the cgroup.procs files of Joins.
	Socket string   `json:"socket,omitempty"`
	Joins  []string `json:"joins,omitempty"`
}

const (
	DadooArgv0   = "garden-dadoo"
	ExitCodeFile = "exitcode"
	pidFileName  = "pid"
	// Messages on the status pipe end with NUL; dadoo's is "pid:<n>".
	PidTag = "pid:"
)

func runDadoo() int {
	status := os.NewFile(3, "status")
	fail := func(err error) int {
		_, _ = status.WriteString(ShimFailedTag + err.Error() + "\x00")
		return 127
	}
	if len(os.Args) < 2 {
		return fail(errors.New("garden-dadoo: missing arguments"))
	}
	var a DadooArgs
	if err := json.Unmarshal([]byte(os.Args[1]), &a); err != nil {
		return fail(fmt.Errorf("garden-dadoo: %w", err))
	}
	var proc specs.Process
	if err := ReadJSON(path.Join(a.Dir, "process.json"), &proc); err != nil {
		return fail(fmt.Errorf("reading the process: %w", err))
	}
	if a.Socket == "" {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return fail(fmt.Errorf("becoming a subreaper: %w", err))
		}
		if err := raiseHardLimits(proc.Rlimits); err != nil {
			return fail(err)
		}
	}
	stdio := []*os.File{os.Stdin, os.Stdout, os.Stderr}
	var relays sync.WaitGroup
	if !a.TTY {
		stdio = []*os.File{os.Stdin, nil, nil}
		for i, name := range []string{StdoutFifo, StderrFifo} {
			r, w, err := os.Pipe()
			if err != nil {
				return fail(err)
			}
			// The process may open /dev/stdout again: its pipes are its own.
			_ = w.Chown(a.UID, a.GID)
			stdio[i+1] = w
			sink := &fifoSink{path: path.Join(a.Dir, name)}
			sink.connect()
			relays.Add(1)
			go func() {
				defer relays.Done()
				relay(sink, r)
			}()
		}
	}
	if a.Socket != "" {
		return dadooThroughInit(a, proc, stdio, status, fail, &relays)
	}
	pidFile := path.Join(a.Dir, pidFileName)
	args := []string{"--root", a.Root, "exec", "--detach", "--pid-file", pidFile, "--preserve-fds", "1",
		"--process", path.Join(a.Dir, "process.json")}
	if a.Bundle != "" {
		args = []string{"--root", a.Root, "run", "--detach", "--no-new-keyring", "--pid-file", pidFile,
			"--preserve-fds", "1", "--bundle", a.Bundle}
	}
	if a.Cgroup != "" {
		args = append(args, "--cgroup", a.Cgroup)
	}
	args = append(args, a.ID)
	logPath := path.Join(a.Dir, "runc.log")
	args = append([]string{"--log", logPath, "--log-format", "json"}, args...)
	runcProc, err := os.StartProcess(a.Runc, append([]string{a.Runc}, args...), &os.ProcAttr{
		Files: []*os.File{stdio[0], stdio[1], stdio[2], status},
		Env:   []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
	})
	if !a.TTY {
		stdio[1].Close()
		stdio[2].Close()
	}
	os.Stdin.Close()
	if err != nil {
		return fail(fmt.Errorf("starting runc: %w", err))
	}

	// Reap everything: runc, then the process it leaves us. Either may
	// end first.
	exited := map[int]int{}
	pid := 0
	for {
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			break // no children left
		}
		exited[wpid] = exitStatus(ws)
		if wpid == runcProc.Pid {
			if exited[wpid] != 0 {
				return fail(fmt.Errorf("runc: %s", RuncError(logPath)))
			}
			b, err := os.ReadFile(pidFile)
			if err != nil {
				return fail(fmt.Errorf("reading the process pid: %w", err))
			}
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			_, _ = status.WriteString(PidTag + strconv.Itoa(pid) + "\x00")
			status.Close()
		}
		if pid > 0 {
			if code, ok := exited[pid]; ok {
				relays.Wait()
				_ = os.WriteFile(path.Join(a.Dir, ExitCodeFile), []byte(strconv.Itoa(code)), 0o644)
				return code
			}
		}
	}
	return fail(errors.New("lost the process"))
}

// dadooThroughInit has the container's init start the shim, sets it up from
// the host while it waits at its gate, and waits for the init's word on
// its exit.
func dadooThroughInit(a DadooArgs, proc specs.Process, stdio []*os.File, status *os.File, fail func(error) int, relays *sync.WaitGroup) int {
	closeStdio := func() {
		for _, f := range stdio {
			f.Close()
		}
	}
	spec := ""
	if len(proc.Env) > 0 {
		spec = strings.TrimPrefix(proc.Env[0], ShimSpecEnv+"=")
	}
	conn, err := dialInit(a.Socket)
	if err != nil {
		closeStdio()
		return fail(err)
	}
	gateR, gateW, err := os.Pipe()
	if err != nil {
		closeStdio()
		return fail(err)
	}
	pidfd, err := initStart(conn, spec, []*os.File{stdio[0], stdio[1], stdio[2], status, gateR})
	closeStdio()
	gateR.Close()
	if err != nil {
		return fail(err)
	}
	pid, err := pidfdPid(pidfd)
	if err == nil {
		err = setUpProcess(pid, a.Joins, proc.Rlimits)
	}
	if err != nil {
		// The shim is still at its gate: nothing of the process ran.
		_ = unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
		unix.Close(pidfd)
		return fail(err)
	}
	unix.Close(pidfd)
	if _, err := gateW.Write([]byte{'g'}); err != nil {
		return fail(fmt.Errorf("releasing the shim: %w", err))
	}
	gateW.Close()
	_, _ = status.WriteString(PidTag + strconv.Itoa(pid) + "\x00")
	status.Close()
	code := 128 + int(unix.SIGKILL) // the init died with its container
	if ws, ok := initWait(conn); ok {
		code = exitStatus(ws)
	}
	conn.Close()
	relays.Wait()
	_ = os.WriteFile(path.Join(a.Dir, ExitCodeFile), []byte(strconv.Itoa(code)), 0o644)
	return code
}

// setUpProcess does from the host what runc exec did for a process: it
// joins the processes' cgroups (the pids sub-group on v1), gets the
// requested rlimits (raising a hard limit needs CAP_SYS_RESOURCE outside
// the container's user namespace) and dadoo's own oom_score_adj instead of
// the init's -1000.
func setUpProcess(pid int, joins []string, rlimits []specs.POSIXRlimit) error {
	for _, procs := range joins {
		if err := WriteFile(procs, strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("joining the processes' cgroup: %w", err)
		}
	}
	for _, l := range rlimits {
		resource, ok := rlimitNumbers[l.Type]
		if !ok {
			return fmt.Errorf("unknown rlimit %s", l.Type)
		}
		if err := unix.Prlimit(pid, resource, &unix.Rlimit{Cur: l.Soft, Max: l.Hard}, nil); err != nil {
			name := strings.ToLower(strings.TrimPrefix(l.Type, "RLIMIT_"))
			if errors.Is(err, unix.EPERM) {
				return fmt.Errorf("setting rlimit %s to %d: %w (garden's hard limit is lower and raising it needs CAP_SYS_RESOURCE)", name, l.Hard, err)
			}
			return fmt.Errorf("setting rlimit %s to %d: %w", name, l.Hard, err)
		}
	}
	adj, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		return err
	}
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/oom_score_adj", pid), adj, 0); err != nil {
		return fmt.Errorf("setting the process's oom_score_adj: %w", err)
	}
	return nil
}

// raiseHardLimits lifts dadoo's own hard limits to what the process asks
// for, from the host, where raising a hard limit is allowed (with
// CAP_SYS_RESOURCE): runc sets the process's limits inside the user
// namespace, where it may only lower them. Soft limits stay, so runc itself
// runs as before.
func raiseHardLimits(rlimits []specs.POSIXRlimit) error {
	for _, l := range rlimits {
		resource, ok := rlimitNumbers[l.Type]
		if !ok {
			continue
		}
		var cur syscall.Rlimit
		if err := syscall.Getrlimit(resource, &cur); err != nil {
			return err
		}
		if l.Hard <= cur.Max {
			continue
		}
		cur.Max = l.Hard
		// syscall's, not unix's: Go restores its saved RLIMIT_NOFILE in
		// children unless the limit was set through syscall.
		if err := syscall.Setrlimit(resource, &cur); err != nil {
			name := strings.ToLower(strings.TrimPrefix(l.Type, "RLIMIT_"))
			return fmt.Errorf("setting rlimit %s to %d: %w (garden's hard limit is lower and raising it needs CAP_SYS_RESOURCE)", name, l.Hard, err)
		}
	}
	return nil
}

var rlimitNumbers = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING, "RLIMIT_STACK": unix.RLIMIT_STACK,
}

// The process's output fifos in its directory: garden reads them, and a
// restarted garden opens them again.
const (
	StdoutFifo = "stdout"
	StderrFifo = "stderr"
)

// fifoSink writes to a fifo while someone reads it. When garden goes away
// (EPIPE) output is dropped, and the fifo is opened again as soon as a
// reader is back (a restarted garden), so the process never blocks or dies
// for want of garden.
type fifoSink struct {
	path string
	f    *os.File
}

// connect opens the fifo if it has a reader (ENXIO otherwise), blocking
// writes from then on.
func (s *fifoSink) connect() {
	fd, err := unix.Open(s.path, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return
	}
	s.f = os.NewFile(uintptr(fd), s.path)
}

func (s *fifoSink) Write(b []byte) {
	if s.f == nil {
		s.connect()
	}
	if s.f == nil {
		return
	}
	if _, err := s.f.Write(b); err != nil {
		s.f.Close()
		s.f = nil
	}
}

func (s *fifoSink) Close() {
	if s.f != nil {
		s.f.Close()
	}
}

// relay copies the process's output to the sink until the process (and
// whatever inherited its output) closes it.
func relay(dst *fifoSink, src *os.File) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			dst.Write(buf[:n])
		}
		if err != nil {
			break
		}
	}
	src.Close()
	dst.Close()
}

func exitStatus(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// runcError is the last error runc logged (its --log is JSON lines).
func RuncError(logPath string) string {
	data, _ := os.ReadFile(logPath)
	msg := "failed"
	for _, line := range strings.Split(string(data), "\n") {
		var entry struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Level == "error" {
			msg = entry.Msg
		}
	}
	return msg
}

// ReadJSON decodes the JSON file at path into v (garden's state files too).
func ReadJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// WriteFile writes value to path (a cgroup or /proc file), naming both when
// it fails.
func WriteFile(path, value string) error {
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("writing %s to %s: %w", strings.TrimSpace(value), path, err)
	}
	return nil
}
