package linux

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// runc runs Debian's runc against one state root per garden.
type runc struct {
	bin  string
	root string // runc's --root: its state directories
}

// runcID is a container's runc id: runc allows only [\w+-.] in ids, and
// handles may hold anything but '/'.
func runcID(handle string) string {
	sum := sha256.Sum256([]byte(handle))
	return "g" + hex.EncodeToString(sum[:16])
}

func (r *runc) command(args ...string) *exec.Cmd {
	return exec.Command(r.bin, append([]string{"--root", r.root}, args...)...)
}

// run starts the bundle's init detached and returns its host pid; extra
// files reach the init from fd 3 on.
func (r *runc) run(id, bundle, logFile string, extra ...*os.File) (int, error) {
	pidFile := filepath.Join(bundle, "init.pid")
	runcLog := filepath.Join(bundle, "runc.log")
	cmd := exec.Command(r.bin, "--root", r.root, "--log", runcLog, "--log-format", "json",
		"run", "--detach", "--no-new-keyring", "--bundle", bundle, "--pid-file", pidFile,
		"--preserve-fds", strconv.Itoa(len(extra)), id)
	cmd.ExtraFiles = extra
	log, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer log.Close()
	// The init's stdio is runc's, so files: a pipe would stay open for
	// as long as the container runs.
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("runc run: %w: %s", err, runcError(runcLog))
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, fmt.Errorf("reading the init's pid: %w", err)
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// runcState is the part of `runc state` garden reads.
type runcState struct {
	Pid    int    `json:"pid"`
	Status string `json:"status"`
}

func (r *runc) state(id string) (runcState, error) {
	var s runcState
	out, err := r.command("state", id).Output()
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(out, &s)
}

// delete kills whatever is left of the container and removes its runc
// state and cgroups; a container runc does not know is already gone.
//
// Garden kills the init itself first: runc 1.1's `delete --force` sends
// SIGKILL and then sleeps 100 ms before it looks again, which was most of a
// destroy's time (docs/garden.md, B8). Once the init is seen gone, what runc
// would do for a stopped container is only to remove its cgroups and its
// state directory (there are no hooks): garden does that too and saves a
// runc start. Whatever does not go to plan is left to `runc delete --force`.
func (r *runc) delete(id string) error {
	if st, ok := r.killInit(id); ok && r.removeStopped(id, st) == nil {
		return nil
	}
	out, err := r.command("delete", "--force", id).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "does not exist") {
		return fmt.Errorf("runc delete: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// runcStateFile is the part of runc's state.json (in its --root) that
// delete reads.
type runcStateFile struct {
	Pid         int               `json:"init_process_pid"`
	Start       uint64            `json:"init_process_start"`
	CgroupPaths map[string]string `json:"cgroup_paths"`
}

// removeStopped removes a stopped container's cgroups (sub-groups first,
// in every hierarchy runc recorded) and then its state directory.
func (r *runc) removeStopped(id string, st runcStateFile) error {
	seen := map[string]bool{}
	for _, dir := range st.CgroupPaths {
		// Co-mounted controllers share a directory.
		if dir == "" || seen[dir] {
			continue
		}
		seen[dir] = true
		if err := removeCgroupDir(dir); err != nil {
			return err
		}
	}
	return os.RemoveAll(filepath.Join(r.root, id))
}

// initKillTimeout bounds killInit's wait; runc delete --force deals with
// an init that outlives it.
const initKillTimeout = 10 * time.Second

// killInit sends SIGKILL to the container's init and waits, through a
// pidfd, until it has exited: its pid namespace, and with it every process
// of the container, is gone by then. The pid is runc's record only while
// the process's start time matches runc's (pids are reused); it is checked
// after the pidfd is open, which pins the process. It says whether the init
// was killed and is gone; anything unexpected (no state, a dead or different
// process, a timeout) is for runc delete.
func (r *runc) killInit(id string) (runcStateFile, bool) {
	var st runcStateFile
	if err := readJSON(filepath.Join(r.root, id, "state.json"), &st); err != nil || st.Pid <= 0 {
		return st, false
	}
	fd, err := unix.PidfdOpen(st.Pid, 0)
	if err != nil {
		return st, false
	}
	defer unix.Close(fd)
	if start, err := procStartTime(st.Pid); err != nil || start != st.Start {
		return st, false
	}
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil {
		return st, false
	}
	deadline := time.Now().Add(initKillTimeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return st, false
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(left.Milliseconds())+1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return st, err == nil && n > 0
	}
}

// procStartTime is a process's start time in clock ticks since boot
// (field 22 of /proc/<pid>/stat), as runc records it.
func procStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces and parentheses: count
	// from the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields)+2)
	}
	return strconv.ParseUint(fields[19], 10, 64)
}
