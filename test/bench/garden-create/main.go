// Command garden-create is benchmark B8 (../shared/benchmarks.md): 5
// workers × 40 cycles of create + run /bin/true + destroy through the garden
// client against the real garden binary, after the same-run anchor: Debian's
// runc running /bin/true in the same busybox rootfs as an OCI bundle, 5
// workers × 40 `runc run`s. The ratio is runc's rate ÷ garden's (target
// ≤ 1.5); create latency p99 must stay under 200 ms. It needs root.
//
// BENCH_DISK_LIMIT=bytes creates every container with that disk limit.
// BENCH_PPROF=host:port gives the garden daemon a debug_address (pprof);
// BENCH_GARDEN_LOG=path writes the daemon's debug log (the backend's
// "created" lines carry each create's duration) to path.
// BENCH_GARDEN_BIN=path runs that (static) garden binary instead of
// building one from this tree, for A/B runs against another commit.
//
// Garden runs under a reaper (this program again, as a child subreaper),
// so the containers' inits, which runc leaves behind, are reaped there and
// their CPU (the container's `runc init`, garden-init, and whatever the init
// reaped) is counted in garden_all_cpu_ms_per_cycle.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"diego/deploy/cluster"
	"diego/garden"
	"diego/garden/client"
	"diego/test/bench/benchutil"
	"diego/test/ports"
	"diego/test/rootfs"
)

const (
	workers   = 5
	perWorker = 40
	target    = 1.5   // runc rate ÷ garden rate, at most
	p99Target = 200.0 // create latency, ms
)

// cleanups run in reverse on a harness failure, before benchutil.Fatal exits.
var (
	cleanupMu sync.Mutex
	cleanups  []func()
)

func atFatal(f func()) {
	cleanupMu.Lock()
	cleanups = append(cleanups, f)
	cleanupMu.Unlock()
}

func fatal(format string, args ...any) {
	cleanupMu.Lock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	cleanups = nil
	cleanupMu.Unlock()
	benchutil.Fatal(format, args...)
}

func main() {
	if os.Getenv(reaperEnv) != "" {
		os.Exit(runReaper())
	}
	if os.Geteuid() != 0 {
		fatal("B8 runs real containers (runc's and garden's): run it as root")
	}
	runc, err := exec.LookPath("runc")
	if err != nil {
		// The anchor is Debian's runc; install it as make deps installs
		// iptables.
		fmt.Fprintln(os.Stderr, "bench: installing runc (B8's anchor)")
		install := exec.Command("sh", "-c", "apt-get update -qq && apt-get install -y -qq runc >/dev/null")
		install.Stdout, install.Stderr = os.Stderr, os.Stderr
		if err := install.Run(); err != nil {
			fatal("installing runc: %v (apt-get install -y runc)", err)
		}
		if runc, err = exec.LookPath("runc"); err != nil {
			fatal("runc not found after installing it: %v", err)
		}
	}
	rootfsDir, err := rootfs.Path()
	if err != nil {
		fatal("busybox rootfs: %v", err)
	}
	work, err := os.MkdirTemp("", "bench-garden-create")
	if err != nil {
		fatal("%v", err)
	}
	atFatal(func() { _ = os.RemoveAll(work) })

	anchor := runAnchor(runc, rootfsDir, work)

	g := startGarden(rootfsDir, work)
	atFatal(g.destroyAllAndStop)
	stopProfile := benchutil.Profile()
	cpu0, all0 := treeCPU(g.pid), treeCPU(g.cmd.Process.Pid)
	m := runGarden(g.client)
	gardenCPU := treeCPU(g.pid) - cpu0
	// The last inits are reaped just after their destroy returned.
	time.Sleep(200 * time.Millisecond)
	allCPU := treeCPU(g.cmd.Process.Pid) - all0 + gardenCPU
	stopProfile()
	g.destroyAllAndStop()
	_ = os.RemoveAll(work)

	ratio := anchor.rate / m.rate
	p99 := m.create.Percentile(99)
	benchutil.Result{
		Bench: "garden-create", Value: m.rate, Unit: "containers/s",
		Anchor: "runc-run-true-5-workers", AnchorValue: anchor.rate,
		Ratio: ratio, Target: target,
		Pass:  ratio <= target && p99 < p99Target && m.failures == 0 && anchor.failures == 0,
		P50ms: m.create.Percentile(50), P99ms: p99,
		Conditions: map[string]any{
			"workers": workers, "cycles": workers * perWorker,
			"elapsed_s": m.elapsed.Seconds(), "failures": m.failures,
			"runc_elapsed_s": anchor.elapsed.Seconds(), "runc_failures": anchor.failures,
			"runc_p50_ms": anchor.lat.Percentile(50), "runc_p99_ms": anchor.lat.Percentile(99),
			"run_p50_ms": m.run.Percentile(50), "run_p99_ms": m.run.Percentile(99),
			"destroy_p50_ms": m.destroy.Percentile(50), "destroy_p99_ms": m.destroy.Percentile(99),
			"cycle_p50_ms": m.cycle.Percentile(50), "cycle_p99_ms": m.cycle.Percentile(99),
			"p99_target_ms": p99Target, "disk_limit_bytes": diskLimit.ByteHard,
			// CPU per cycle, which a loaded machine distorts less than
			// the rates: runc's (the runs and their containers) and the
			// garden daemon's with the processes it reaped (runc,
			// iptables-restore, garden-dadoo; before decision 170 also
			// runc exec and the process), without the containers' inits
			// and what they reaped.
			"runc_cpu_ms_per_run":     anchor.cpu.Seconds() * 1000 / float64(max(anchor.lat.Count(), 1)),
			"garden_cpu_ms_per_cycle": gardenCPU.Seconds() * 1000 / float64(max(m.cycle.Count(), 1)),
			// The same with the containers' inits and what they reaped:
			// the figure to compare with runc's.
			"garden_all_cpu_ms_per_cycle": allCPU.Seconds() * 1000 / float64(max(m.cycle.Count(), 1)),
		},
	}.Print()
}

type anchorResult struct {
	rate     float64
	cpu      time.Duration // of the runs (runc reaps its container)
	elapsed  time.Duration
	lat      benchutil.Latencies
	failures int64
}

// runAnchor runs /bin/true in the rootfs with `runc run` (an OCI bundle
// from `runc spec`, read-only root, no terminal), workers × perWorker
// times.
func runAnchor(runc, rootfsDir, work string) *anchorResult {
	bundle, state := filepath.Join(work, "bundle"), filepath.Join(work, "runc-state")
	for _, d := range []string{bundle, state} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			fatal("%v", err)
		}
	}
	if out, err := exec.Command(runc, "spec", "--bundle", bundle).CombinedOutput(); err != nil {
		fatal("runc spec: %v: %s", err, out)
	}
	path := filepath.Join(bundle, "config.json")
	var spec map[string]any
	data, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(data, &spec)
	}
	if err != nil {
		fatal("reading %s: %v", path, err)
	}
	process := spec["process"].(map[string]any)
	process["terminal"] = false
	process["args"] = []string{"/bin/true"}
	spec["root"] = map[string]any{"path": rootfsDir, "readonly": true}
	if data, err = json.Marshal(spec); err == nil {
		err = os.WriteFile(path, data, 0o644)
	}
	if err != nil {
		fatal("writing %s: %v", path, err)
	}
	run := func(id string) error {
		out, err := exec.Command(runc, "--root", state, "run", "--bundle", bundle, id).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		return nil
	}
	if err := run("b8-warmup"); err != nil {
		fatal("runc run: %v", err)
	}

	a := &anchorResult{}
	var failures atomic.Int64
	var wg sync.WaitGroup
	cpu0 := childrenCPU()
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				t := time.Now()
				if err := run(fmt.Sprintf("b8-%d-%d", w, i)); err != nil {
					fmt.Fprintf(os.Stderr, "bench: runc run: %v\n", err)
					failures.Add(1)
					continue
				}
				a.lat.Add(time.Since(t))
			}
		}()
	}
	wg.Wait()
	a.elapsed = time.Since(start)
	a.cpu = childrenCPU() - cpu0
	a.failures = failures.Load()
	a.rate = float64(a.lat.Count()) / a.elapsed.Seconds()
	return a
}

// gardenDaemon is the garden binary built static and running with its own
// depot, tag and pools.
type gardenDaemon struct {
	cmd    *exec.Cmd // the reaper garden runs under
	pid    int       // garden's
	client garden.Client
	once   sync.Once
}

func startGarden(rootfsDir, work string) *gardenDaemon {
	bin := os.Getenv("BENCH_GARDEN_BIN")
	if bin == "" {
		bin = filepath.Join(work, "garden")
		build := exec.Command("go", "build", "-o", bin, "diego/cmd/garden")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			fatal("building garden: %v\n%s", err, out)
		}
	}
	addr := ports.Addr()
	m := cluster.Maker{RootFS: rootfsDir, LogLevel: "error"}
	cfg := m.Garden(cluster.Cell{GardenAddr: addr, Dir: work, Tag: "bch", NetworkPool: "10.252.0.0/22",
		PortPoolStart: 47000, PortPoolSize: 100})
	var logOut io.Writer = io.Discard
	if path := os.Getenv("BENCH_GARDEN_LOG"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fatal("%v", err)
		}
		logOut = f
		cfg.LogLevel = "debug"
	}
	if addr := os.Getenv("BENCH_PPROF"); addr != "" {
		cfg.DebugAddress = addr
	}
	body, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(work, "garden.json")
	if err := os.WriteFile(cfgPath, body, 0o644); err != nil {
		fatal("%v", err)
	}
	self, err := os.Executable()
	if err != nil {
		fatal("%v", err)
	}
	pidFile := filepath.Join(work, "garden.pid")
	cmd := exec.Command(self, bin, "-config", cfgPath)
	cmd.Env = append(os.Environ(), reaperEnv+"="+pidFile)
	cmd.Stdout, cmd.Stderr = logOut, os.Stderr
	if err := cmd.Start(); err != nil {
		fatal("starting garden: %v", err)
	}
	g := &gardenDaemon{cmd: cmd, client: client.New("tcp", addr)}
	deadline := time.Now().Add(30 * time.Second)
	for g.client.Ping() != nil {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			fatal("garden did not become ready on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		fatal("garden's pid: %v", err)
	}
	g.pid, _ = strconv.Atoi(string(b))
	return g
}

// reaperEnv names the file where the reaper writes garden's pid.
const reaperEnv = "BENCH_GARDEN_REAPER_PID_FILE"

// runReaper runs os.Args[1:] (garden) as a child subreaper: it reaps
// everything orphaned below it, passes SIGTERM on, and ends with garden.
func runReaper() int {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "reaper:", err)
		return 1
	}
	terms := make(chan os.Signal, 1)
	signal.Notify(terms, syscall.SIGTERM)
	child, err := os.StartProcess(os.Args[1], os.Args[1:], &os.ProcAttr{Files: []*os.File{os.Stdin, os.Stdout, os.Stderr}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "reaper:", err)
		return 1
	}
	if err := os.WriteFile(os.Getenv(reaperEnv), []byte(strconv.Itoa(child.Pid)), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "reaper:", err)
		_ = child.Kill()
	}
	go func() {
		for range terms {
			_ = child.Signal(syscall.SIGTERM)
		}
	}()
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 1
		}
		if pid == child.Pid {
			return ws.ExitStatus()
		}
	}
}

// destroyAllAndStop destroys whatever containers are left (garden keeps
// containers across its own stop) and stops the daemon.
func (g *gardenDaemon) destroyAllAndStop() {
	g.once.Do(func() {
		if cs, err := g.client.Containers(garden.Properties{garden.StateProperty: garden.StateAll}); err == nil {
			for _, c := range cs {
				_ = g.client.Destroy(c.Handle())
			}
		}
		_ = g.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = g.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			if g.pid > 0 {
				_ = syscall.Kill(g.pid, syscall.SIGKILL)
			}
			_ = g.cmd.Process.Kill()
			<-done
		}
	})
}

type gardenResult struct {
	rate                        float64
	elapsed                     time.Duration
	create, run, destroy, cycle benchutil.Latencies
	failures                    int64
}

// diskLimit is BENCH_DISK_LIMIT bytes (exclusive), to measure what an
// enforced disk limit (a loop-mounted ext4 per container) adds to B8.
var diskLimit = func() garden.DiskLimits {
	v := os.Getenv("BENCH_DISK_LIMIT")
	if v == "" {
		return garden.DiskLimits{}
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		benchutil.Fatal("BENCH_DISK_LIMIT %q: want bytes", v)
	}
	return garden.DiskLimits{ByteHard: n, Scope: garden.DiskLimitScopeExclusive}
}()

// runGarden runs the workers' create + run /bin/true + destroy cycles.
func runGarden(c garden.Client) *gardenResult {
	r := &gardenResult{}
	cycle := func(handle string, record bool) error {
		t0 := time.Now()
		ctr, err := c.Create(garden.ContainerSpec{Handle: handle, Limits: garden.Limits{Disk: diskLimit}})
		if err != nil {
			return fmt.Errorf("create: %w", err)
		}
		t1 := time.Now()
		p, err := ctr.Run(garden.ProcessSpec{Path: "/bin/true"}, garden.ProcessIO{})
		var status int
		if err == nil {
			status, err = p.Wait()
		}
		t2 := time.Now()
		if derr := c.Destroy(handle); derr != nil && err == nil {
			err = fmt.Errorf("destroy: %w", derr)
		} else if err == nil && status != 0 {
			err = fmt.Errorf("/bin/true exited %d", status)
		}
		t3 := time.Now()
		if err != nil {
			return err
		}
		if record {
			r.create.Add(t1.Sub(t0))
			r.run.Add(t2.Sub(t1))
			r.destroy.Add(t3.Sub(t2))
			r.cycle.Add(t3.Sub(t0))
		}
		return nil
	}
	if err := cycle("b8-warmup", false); err != nil {
		fatal("garden warm-up cycle: %v", err)
	}

	var failures atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				if err := cycle(fmt.Sprintf("b8-%d-%d", w, i), true); err != nil {
					fmt.Fprintf(os.Stderr, "bench: garden cycle: %v\n", err)
					failures.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	r.failures = failures.Load()
	r.rate = float64(r.cycle.Count()) / r.elapsed.Seconds()
	return r
}

// childrenCPU is the user and system time of this process's reaped
// children.
func childrenCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// treeCPU is a process's user and system time with its reaped children's
// (/proc/<pid>/stat fields 14–17, in USER_HZ ticks of 10 ms).
func treeCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 15 {
		return 0
	}
	var ticks int64
	for _, f := range fields[11:15] {
		n, _ := strconv.ParseInt(f, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}
