package multivm

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"diego/garden"
	gardenclient "diego/garden/client"
)

// ReadyTimeout bounds the wait for a daemon's "ready" line; etcd members
// wait for a quorum, so a group starts all its VMs at once.
var ReadyTimeout = 3 * time.Minute

// StopTimeout bounds a graceful stop before SIGKILL.
var StopTimeout = 20 * time.Second

// readyLines: what every daemon logs once it serves (the deploy/daemon
// kit's last member), and what a standby lock holder logs once it has
// reached etcd and found the lock held by the other brain (it is ready only
// when it takes the lock, which may be never).
var readyLines = [][]byte{[]byte(`"msg":"ready"`), []byte(`"msg":"lock-taken"`)}

// Cluster runs a Plan's VMs.
type Cluster struct {
	plan *Plan
	out  io.Writer

	mu         sync.Mutex
	namespaces []string // created and not yet deleted, the switch first
	running    map[string][]*process
	nextLink   int // names the bridge side of each veth: v0, v1, ...

	aborted   chan struct{}
	abortOnce sync.Once
}

// errAborted ends a Start that Abort interrupted.
var errAborted = errors.New("multivm: start aborted")

// Abort makes a Start in progress give up at its next step (and stop what
// it started), for a launcher signalled while starting.
func (c *Cluster) Abort() { c.abortOnce.Do(func() { close(c.aborted) }) }

type process struct {
	name    string
	cmd     *exec.Cmd
	ready   chan struct{}
	done    chan struct{}
	logged  chan struct{} // closed once the output is all in the log
	err     error
	logPath string
}

// New returns a stopped cluster; out, when not nil, gets every daemon's
// output prefixed with its VM and job.
func New(plan *Plan, out io.Writer) *Cluster {
	return &Cluster{plan: plan, out: out, running: map[string][]*process{}, aborted: make(chan struct{})}
}

// Plan is what the cluster runs.
func (c *Cluster) Plan() *Plan { return c.plan }

// Start brings up the network and every VM, group by group in GroupOrder,
// the VMs of a group at once. On failure it stops what it started.
func (c *Cluster) Start() (err error) {
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Stop())
		}
	}()
	if err := c.removeStale(); err != nil {
		return err
	}
	if err := c.createSwitch(); err != nil {
		return err
	}
	if err := c.createNS(c.DriverNS(), DriverAddress); err != nil {
		return err
	}
	for _, g := range GroupOrder {
		vms := c.plan.Group(g)
		errs := make([]error, len(vms))
		var wg sync.WaitGroup
		for i, vm := range vms {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = c.StartVM(vm) }()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) createNS(ns, address string) error {
	select {
	case <-c.aborted:
		return errAborted
	default:
	}
	c.mu.Lock()
	link := c.nextLink
	c.nextLink++
	c.namespaces = append(c.namespaces, ns)
	c.mu.Unlock()
	return c.createVMNetwork(ns, address, link)
}

// removeStale deletes namespaces of this prefix that an earlier cluster
// left (killed before it could clean up).
func (c *Cluster) removeStale() error {
	entries, _ := os.ReadDir("/run/netns")
	var errs []error
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), c.plan.Prefix+"-") {
			errs = append(errs, deleteNS(e.Name()))
		}
	}
	return errors.Join(errs...)
}

// StartVM creates the VM's namespace, writes its jobs' files and starts
// its daemons in order, each once the one before is ready.
func (c *Cluster) StartVM(vm *VM) error {
	if err := c.createNS(vm.Namespace, vm.Address); err != nil {
		return fmt.Errorf("%s: %w", vm.Name(), err)
	}
	for _, dir := range []string{"var/vcap/data/garden", "var/vcap/data/executor/cache", "var/vcap/data/executor/tmp",
		"var/vcap/store", "var/vcap/sys/log"} {
		if err := os.MkdirAll(filepath.Join(vm.Root, dir), 0o755); err != nil {
			return err
		}
	}
	for _, d := range vm.Daemons {
		for path, content := range d.Files {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				return err
			}
		}
	}
	for _, d := range vm.Daemons {
		p, err := c.start(vm, d)
		if err != nil {
			return fmt.Errorf("%s: starting %s: %w", vm.Name(), d.Job, err)
		}
		select {
		case <-p.ready:
		case <-p.done:
			<-p.logged
			return fmt.Errorf("%s: %s exited before it was ready (%v); its log %s ends:\n%s", vm.Name(), d.Job, p.err, p.logPath, tail(p.logPath, 8))
		case <-c.aborted:
			return errAborted
		case <-time.After(ReadyTimeout):
			return fmt.Errorf("%s: %s not ready within %s; its log is %s", vm.Name(), d.Job, ReadyTimeout, p.logPath)
		}
	}
	return nil
}

// start runs a daemon in the VM's network namespace, in a mount
// namespace of its own where /etc/hosts is the cluster's (ip netns exec
// would also remount /sys, hiding the cgroups garden needs).
func (c *Cluster) start(vm *VM, d Daemon) (*process, error) {
	logPath := filepath.Join(c.plan.StateDir, "logs", vm.Name()+"-"+d.Job+".log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	args := append([]string{"--net=/run/netns/" + vm.Namespace, "unshare", "--mount", "--propagation", "private",
		"sh", "-c", `mount --bind "$0" /etc/hosts && exec "$@"`, c.hostsFile(vm.Namespace), d.Executable}, d.Args...)
	cmd := exec.Command("nsenter", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	p := &process{name: vm.Name() + "/" + d.Job, cmd: cmd, ready: make(chan struct{}), done: make(chan struct{}),
		logged: make(chan struct{}), logPath: logPath}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	go func() {
		var once sync.Once
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			line := sc.Bytes()
			_, _ = logFile.Write(append(line, '\n'))
			if c.out != nil {
				fmt.Fprintf(c.out, "%s: %s\n", p.name, line)
			}
			for _, r := range readyLines {
				if bytes.Contains(line, r) {
					once.Do(func() { close(p.ready) })
				}
			}
		}
		_, _ = io.Copy(io.Discard, pr)
		logFile.Close()
		close(p.logged)
	}()
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	c.mu.Lock()
	c.running[vm.Name()] = append(c.running[vm.Name()], p)
	c.mu.Unlock()
	return p, nil
}

// StopVM takes a VM down as a power cut would: its processes are killed
// (a cell's containers destroyed with them, through its garden's socket,
// before garden dies), then its namespace is deleted.
func (c *Cluster) StopVM(vm *VM) error {
	return c.stopVM(vm, false)
}

func (c *Cluster) stopVM(vm *VM, graceful bool) error {
	c.mu.Lock()
	procs := c.running[vm.Name()]
	delete(c.running, vm.Name())
	c.mu.Unlock()
	var errs []error
	// Stop in reverse start order: the rep before the executor before
	// garden; garden's containers go before garden.
	for i := len(procs) - 1; i >= 0; i-- {
		p := procs[i]
		if strings.HasSuffix(p.name, "/garden") && running(p) {
			if _, err := c.destroyContainers(vm); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", vm.Name(), err))
			}
		}
		errs = append(errs, stop(p, graceful))
	}
	errs = append(errs, c.deleteVMNS(vm.Namespace))
	if vm.Group == "cell" {
		errs = append(errs, removeGardenCgroups(c.gardenTag(vm)))
	}
	return errors.Join(errs...)
}

func (c *Cluster) deleteVMNS(ns string) error {
	c.mu.Lock()
	for i, n := range c.namespaces {
		if n == ns {
			c.namespaces = append(c.namespaces[:i], c.namespaces[i+1:]...)
			break
		}
	}
	c.mu.Unlock()
	return deleteNS(ns)
}

// stop ends a process: SIGTERM and a wait when graceful, else (or after
// StopTimeout) SIGKILL to its process group.
func stop(p *process, graceful bool) error {
	pgid := p.cmd.Process.Pid
	if graceful {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
			return nil
		case <-time.After(StopTimeout):
		}
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-time.After(StopTimeout):
		return fmt.Errorf("%s (pid %d) still running after SIGKILL", p.name, pgid)
	}
}

func running(p *process) bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// tail is the last n lines of a log, for an error that names it.
func tail(path string, n int) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// GardenSocket is the unix socket of a cell's garden, reachable from the
// host.
func GardenSocket(vm *VM) string {
	return filepath.Join(vm.Root, "var/vcap/data/garden/garden.sock")
}

func (c *Cluster) gardenTag(vm *VM) string { return fmt.Sprintf("%s%d", c.plan.GardenTag, vm.Index) }

// destroyContainers destroys every container of the cell's garden: garden
// keeps containers across its own restarts, and a stopped VM's must not
// outlive it.
func (c *Cluster) destroyContainers(vm *VM) (int, error) {
	gc := gardenclient.New("unix", GardenSocket(vm))
	containers, err := gc.Containers(garden.Properties{garden.StateProperty: garden.StateAll})
	if err != nil {
		return 0, fmt.Errorf("listing containers: %w", err)
	}
	var errs []error
	for _, ctr := range containers {
		if err := gc.Destroy(ctr.Handle()); err != nil {
			errs = append(errs, fmt.Errorf("destroying %s: %w", ctr.Handle(), err))
		}
	}
	return len(containers), errors.Join(errs...)
}

// removeGardenCgroups removes the empty cgroups garden-<tag> a garden
// leaves (cgroups are global, unlike the VM's network), children first: a
// container destroyed as its garden stopped may leave its own empty
// cgroup behind. A cgroup that still holds a process is not removed.
func removeGardenCgroups(tag string) error {
	parents, _ := filepath.Glob("/sys/fs/cgroup/*/garden-" + tag)
	if st, err := os.Stat("/sys/fs/cgroup/garden-" + tag); err == nil && st.IsDir() {
		parents = append(parents, "/sys/fs/cgroup/garden-"+tag)
	}
	var errs []error
	for _, parent := range parents {
		var dirs []string
		_ = filepath.WalkDir(parent, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
		// Deepest first: WalkDir lists a directory before its children.
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := os.Remove(dirs[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("removing cgroup %s: %w", dirs[i], err))
			}
		}
	}
	return errors.Join(errs...)
}

// Stop stops every VM, cells first, gracefully, and deletes every
// namespace; it is safe to call more than once and after a failed Start.
func (c *Cluster) Stop() error {
	var errs []error
	for i := len(GroupOrder) - 1; i >= 0; i-- {
		vms := c.plan.Group(GroupOrder[i])
		var wg sync.WaitGroup
		verrs := make([]error, len(vms))
		for j, vm := range vms {
			c.mu.Lock()
			_, running := c.running[vm.Name()]
			c.mu.Unlock()
			if !running {
				continue
			}
			wg.Add(1)
			go func() { defer wg.Done(); verrs[j] = c.stopVM(vm, true) }()
		}
		wg.Wait()
		errs = append(errs, verrs...)
	}
	c.mu.Lock()
	left := append([]string(nil), c.namespaces...)
	c.namespaces = nil
	c.mu.Unlock()
	for i := len(left) - 1; i >= 0; i-- {
		errs = append(errs, deleteNS(left[i]))
	}
	return errors.Join(errs...)
}

// Running reports whether a VM's daemons run.
func (c *Cluster) Running(vm *VM) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.running[vm.Name()]) > 0
}
