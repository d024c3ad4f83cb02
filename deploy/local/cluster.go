package local

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	receptorclient "diego/receptor/client"
)

// How long a daemon may take to say it serves, and the cells to show up in
// the receptor's /v1/cells.
const (
	ReadyTimeout = 60 * time.Second
	CellsTimeout = 60 * time.Second
)

// Cluster runs a Plan.
type Cluster struct {
	Plan *Plan
	Log  *MergedLog
	// Out receives the summary printed once the cluster is healthy.
	Out io.Writer
	// KeepData keeps the embedded etcd's data from the last run.
	KeepData bool

	etcd  *ETCD
	nats  *NATS
	procs []*process
	// failed receives a daemon's name when it exits unasked.
	failed chan string
	// hurry is closed by a second signal: stop without waiting.
	hurry     chan struct{}
	hurryOnce sync.Once
}

// Run starts the cluster, prints its endpoints once it is healthy, and
// runs until a signal arrives (or a daemon dies), then stops everything in
// order. It returns nil after a clean stop on a signal.
func (c *Cluster) Run(signals <-chan os.Signal) error {
	c.failed = make(chan string, len(c.Plan.Daemons))
	c.hurry = make(chan struct{})
	start := time.Now()

	stopping := make(chan struct{})
	// After the first signal, a second one makes the stop hurry.
	var sigOnce sync.Once
	go func() {
		for range signals {
			first := false
			sigOnce.Do(func() { first = true; close(stopping) })
			if !first {
				c.Log.Printf("second signal: killing what is left without waiting")
				c.hurryOnce.Do(func() { close(c.hurry) })
			}
		}
	}()

	err := c.start(stopping)
	if err == nil {
		c.writeEnv() // summary.go
		c.Log.Printf("cluster healthy in %.1fs", time.Since(start).Seconds())
		c.printSummary()
		select {
		case <-stopping:
			c.Log.Printf("stopping (Ctrl-C again to kill everything at once)")
		case name := <-c.failed:
			err = fmt.Errorf("%s exited unexpectedly; its log is %s", name, c.logPath(name))
			c.Log.Printf("%v: stopping the cluster", err)
		case etcdErr := <-c.etcdFailed():
			err = fmt.Errorf("etcd failed: %v", etcdErr)
			c.Log.Printf("%v: stopping the cluster", err)
		}
	} else if errors.Is(err, errInterrupted) {
		c.Log.Printf("interrupted while starting: stopping what started")
		err = nil
	} else {
		c.Log.Printf("%v", err)
	}
	stopStart := time.Now()
	if stopErr := c.stop(); stopErr != nil {
		c.Log.Printf("stopping: %v", stopErr)
		err = errors.Join(err, stopErr)
	}
	c.Log.Printf("stopped in %.1fs", time.Since(stopStart).Seconds())
	return err
}

var errInterrupted = errors.New("interrupted")

func (c *Cluster) etcdFailed() <-chan error {
	if c.etcd == nil {
		return nil
	}
	return c.etcd.Failed()
}

func (c *Cluster) logPath(name string) string { return filepath.Join(c.Plan.LogDir, name+".log") }

// start brings everything up in order and waits for the cells to register.
func (c *Cluster) start(stopping <-chan struct{}) error {
	p := c.Plan
	if err := c.prepare(); err != nil {
		return err
	}
	if err := checkPorts(p.Ports()); err != nil {
		return err
	}
	made, err := EnsureCerts(p.Certs)
	if err != nil {
		return fmt.Errorf("making certificates in %s: %w", p.Certs.Dir, err)
	}
	if made {
		c.Log.Printf("made a CA and the BBS's server and client certificates in %s", p.Certs.Dir)
	}
	for _, d := range p.Daemons {
		if err := writeJSON(d.ConfigPath, d.Config); err != nil {
			return err
		}
	}

	if c.nats, err = StartNATS(c.Log); err != nil {
		return err
	}
	c.Log.Printf("nats serving on %s", p.NATSURL)
	if p.EmbeddedETCD {
		w := NewWriter("etcd", c.Log, nil, nil)
		if c.etcd, err = StartETCD(p, w); err != nil {
			return err
		}
		c.Log.Printf("etcd serving on %s (data in %s)", p.ETCDEndpoints[0], p.ETCDDataDir)
	} else {
		c.Log.Printf("using the external etcd at %s", strings.Join(p.ETCDEndpoints, ","))
	}

	if err := c.prepareCloudController(); err != nil { // cloudcontroller.go
		return err
	}
	for _, d := range p.Daemons {
		proc, err := c.startProcess(d)
		if err != nil {
			return err
		}
		if err := proc.waitReady(stopping); err != nil {
			return err
		}
	}
	return c.waitForCells(stopping)
}

// prepare makes the directories and, unless KeepData, empties the
// embedded etcd's data.
func (c *Cluster) prepare() error {
	p := c.Plan
	if p.EmbeddedETCD && !c.KeepData {
		if err := os.RemoveAll(p.ETCDDataDir); err != nil {
			return fmt.Errorf("removing the last run's etcd data: %w", err)
		}
	}
	dirs := []string{p.StateDir, p.LogDir, p.ConfigDir}
	for _, cell := range p.Cells {
		dirs = append(dirs, cell.DepotDir(), cell.ExecutorTempDir(), cell.ExecutorCacheDir())
	}
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", dir, err)
		}
	}
	return nil
}

// checkPorts says which port is taken, and by whom it should be used,
// before anything starts.
func checkPorts(ports map[int]string) error {
	var taken []string
	for port, who := range ports {
		l, err := net.Listen("tcp", fmt.Sprintf("%s:%d", Host, port))
		if err != nil {
			taken = append(taken, fmt.Sprintf("%d (for %s)", port, who))
			continue
		}
		l.Close()
	}
	if len(taken) > 0 {
		return fmt.Errorf("ports already in use: %s; is another local cluster running? (`ss -ltnp` shows who holds them)",
			strings.Join(taken, ", "))
	}
	return nil
}

// writeJSON writes a daemon's config owner-only: several carry secrets (the
// CC's signing secret and admin password, the doppler's operator token).
func writeJSON(path string, v any) error {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	if err := os.WriteFile(path, append(body, '\n'), 0o600); err != nil {
		return err
	}
	return os.Chmod(path, 0o600) // a file left by an older launcher was 0644
}

// waitForCells waits until the receptor lists every cell, which means each
// rep holds its presence and the whole path receptor → BBS → etcd works.
func (c *Cluster) waitForCells(stopping <-chan struct{}) error {
	rc, err := receptorclient.New(receptorclient.Config{URL: c.Plan.ReceptorURL})
	if err != nil {
		return err
	}
	deadline := time.Now().Add(CellsTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		cells, err := rc.Cells(ctx)
		cancel()
		if err == nil && len(cells) == len(c.Plan.Cells) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the receptor lists %d of %d cells after %s (last error: %v)",
				len(cells), len(c.Plan.Cells), CellsTimeout, err)
		}
		select {
		case <-stopping:
			return errInterrupted
		case name := <-c.failed:
			return fmt.Errorf("%s exited while the cells registered; its log is %s", name, c.logPath(name))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// stop takes the cluster down: reps, executors, every garden container,
// gardens (and what they leave on the host), the brain in reverse, etcd,
// NATS.
func (c *Cluster) stop() error {
	var errs []error
	c.stopKind(KindRouting)
	c.stopKind(KindRep)
	c.stopKind(KindExecutor)
	for _, proc := range c.running(KindGarden) {
		addr := c.Plan.Cells[proc.d.Cell-1].GardenAddr
		n, err := DestroyContainers(addr)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", proc.d.Name, err))
		}
		if n > 0 {
			c.Log.Printf("destroyed %d container(s) in %s", n, proc.d.Name)
		}
	}
	gardens := c.started(KindGarden)
	c.stopKind(KindGarden)
	for _, proc := range gardens {
		if err := PurgeGardenHost(c.Plan.Cells[proc.d.Cell-1].Tag); err != nil {
			errs = append(errs, fmt.Errorf("cleaning up after %s: %w", proc.d.Name, err))
		}
	}
	c.stopKind(KindBrain)
	if c.etcd != nil {
		c.etcd.Stop()
		c.Log.Printf("etcd stopped")
	}
	if c.nats != nil {
		c.nats.Stop()
		c.Log.Printf("nats stopped")
	}
	for _, proc := range c.procs {
		if proc.exitErr() != nil && !proc.signalled.Load() {
			errs = append(errs, fmt.Errorf("%s: %w", proc.d.Name, proc.exitErr()))
		}
	}
	return errors.Join(errs...)
}

func (c *Cluster) started(kind Kind) []*process {
	var out []*process
	for _, p := range c.procs {
		if p.d.Kind == kind {
			out = append(out, p)
		}
	}
	return out
}

func (c *Cluster) running(kind Kind) []*process {
	var out []*process
	for _, p := range c.started(kind) {
		if !p.exited() {
			out = append(out, p)
		}
	}
	return out
}

// stopKind stops every process of kind at once, in reverse start order
// for the brain (one at a time: the receptor before the BBS it uses).
func (c *Cluster) stopKind(kind Kind) {
	procs := c.started(kind)
	if kind == KindBrain {
		for i := len(procs) - 1; i >= 0; i-- {
			c.stopProcess(procs[i])
		}
		return
	}
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() { defer wg.Done(); c.stopProcess(p) }()
	}
	wg.Wait()
}

func (c *Cluster) stopProcess(p *process) {
	if p.exited() {
		return
	}
	p.signalled.Store(true)
	_ = p.cmd.Process.Signal(os.Interrupt)
	timer := time.NewTimer(p.d.StopTimeout)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		c.Log.Printf("%s did not stop within %s: killing it", p.d.Name, p.d.StopTimeout)
		p.kill()
	case <-c.hurry:
		p.kill()
	}
	<-p.done
	if err := p.exitErr(); err != nil {
		c.Log.Printf("%s stopped: %v", p.d.Name, err)
	} else {
		c.Log.Printf("%s stopped", p.d.Name)
	}
}

// readyLine is what every daemon logs once it serves (the deploy/daemon kit's last member).
var readyLine = []byte(`"msg":"ready"`)

// process is one running daemon.
type process struct {
	d         Daemon
	cmd       *exec.Cmd
	log       *MergedLog
	logFile   *os.File
	ready     chan struct{}
	readyOnce sync.Once
	done      chan struct{}
	err       error
	signalled atomic.Bool // the launcher asked it to stop
}

func (c *Cluster) startProcess(d Daemon) (*process, error) {
	bin := filepath.Join(c.Plan.BinDir, d.Binary)
	logFile, err := os.Create(c.logPath(d.Name))
	if err != nil {
		return nil, err
	}
	p := &process{d: d, log: c.Log, logFile: logFile, ready: make(chan struct{}), done: make(chan struct{})}
	out := NewWriter(d.Name, c.Log, logFile, func(line []byte) {
		if bytes.Contains(line, readyLine) {
			p.readyOnce.Do(func() { close(p.ready) })
		}
	})
	p.cmd = exec.Command(bin, "-config", d.ConfigPath)
	p.cmd.Stdout, p.cmd.Stderr = out, out
	// Its own process group: a Ctrl-C in the terminal reaches only the
	// launcher, which stops the daemons in order. If the launcher dies,
	// the kernel tells them to stop.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := p.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", d.Name, err)
	}
	c.procs = append(c.procs, p)
	go func() {
		p.err = p.cmd.Wait()
		out.Flush()
		logFile.Close()
		close(p.done)
		if !p.signalled.Load() {
			c.failed <- d.Name
		}
	}()
	return p, nil
}

// waitReady waits for the daemon to serve; on failure the error carries
// the end of its log.
func (p *process) waitReady(stopping <-chan struct{}) error {
	timer := time.NewTimer(ReadyTimeout)
	defer timer.Stop()
	select {
	case <-p.ready:
		return nil
	case <-p.done:
		return fmt.Errorf("%s exited while starting (%v); the end of its log (%s):\n%s",
			p.d.Name, p.exitErr(), p.logFile.Name(), tail(p.logFile.Name(), 15))
	case <-timer.C:
		return fmt.Errorf("%s did not become ready within %s; its log is %s", p.d.Name, ReadyTimeout, p.logFile.Name())
	case <-stopping:
		return errInterrupted
	}
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *process) exitErr() error {
	if !p.exited() {
		return nil
	}
	return p.err
}

// kill ends the daemon's whole process group.
func (p *process) kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}

// tail is the last n lines of a file.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64*1024), 1<<20)
	for s.Scan() {
		lines = append(lines, s.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
