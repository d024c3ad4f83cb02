// Package benchutil is what the benchmarks of ../shared/benchmarks.md share:
// an embedded etcd, the real bbs binary, latency recording, and the one JSON
// line each benchmark prints last.
package benchutil

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tedsuo/ifrit"
	clientv3 "go.etcd.io/etcd/client/v3"

	bbsclient "diego/bbs/client"
	bbsconfig "diego/bbs/config"
	"diego/deploy/cluster"
	"diego/deploy/config"
	"diego/test/etcdrunner"
	"diego/test/ports"
)

// Result is the JSON line a benchmark prints (benchmarks.md).
type Result struct {
	Bench       string         `json:"bench"`
	Value       float64        `json:"value"`
	Unit        string         `json:"unit"`
	Anchor      string         `json:"anchor"`
	AnchorValue float64        `json:"anchor_value"`
	Ratio       float64        `json:"ratio"`
	Target      float64        `json:"target"`
	Pass        bool           `json:"pass"`
	P50ms       float64        `json:"p50_ms"`
	P99ms       float64        `json:"p99_ms"`
	Conditions  map[string]any `json:"conditions,omitempty"`
}

// Print writes r as one JSON line on stdout.
func (r Result) Print() {
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
}

// Fatal reports a harness failure, stops what the harness started, and exits.
func Fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	cleanupMu.Lock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	cleanupMu.Unlock()
	os.Exit(1)
}

var (
	cleanupMu sync.Mutex
	cleanups  []func()
)

// atFatal registers what Fatal must stop before exiting.
func atFatal(f func()) {
	cleanupMu.Lock()
	cleanups = append(cleanups, f)
	cleanupMu.Unlock()
}

// Latencies records durations from many goroutines.
type Latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

// Add records one duration.
func (l *Latencies) Add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// Percentile is the p-th percentile (0 < p ≤ 100) in milliseconds.
func (l *Latencies) Percentile(p float64) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0
	}
	s := slices.Clone(l.d)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	i = max(0, min(i, len(s)-1))
	return float64(s[i]) / float64(time.Millisecond)
}

// Count is how many durations were recorded.
func (l *Latencies) Count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.d)
}

// Etcd is an embedded etcd for one benchmark run.
type Etcd struct {
	*etcdrunner.Runner
	process ifrit.Process
	// Raw is a plain etcd client of it, for the anchors and for seeding;
	// Stop closes it.
	Raw *clientv3.Client
}

// StartEtcd starts an embedded etcd on free ports.
func StartEtcd() *Etcd {
	r := etcdrunner.New(etcdrunner.Config{LogWriter: io.Discard})
	p := ifrit.Invoke(r)
	select {
	case <-p.Ready():
	case err := <-p.Wait():
		Fatal("etcd did not start: %v", err)
	}
	atFatal(func() { p.Signal(os.Kill); _ = r.Cleanup() })
	raw, err := r.Client()
	if err != nil {
		Fatal("etcd client: %v", err)
	}
	return &Etcd{Runner: r, process: p, Raw: raw}
}

// Stop stops etcd and removes its data.
func (e *Etcd) Stop() {
	_ = e.Raw.Close()
	e.process.Signal(os.Interrupt)
	<-e.process.Wait()
	_ = e.Cleanup()
}

// BBS is a running bbs binary.
type BBS struct {
	cmd    *exec.Cmd
	URL    string
	dir    string
	Client *bbsclient.Client
	// Ready is the time from the process's start to its first answered
	// ping: with the record cache on, mostly the cache's initial load.
	Ready time.Duration
}

// BBSStartTimeout bounds StartBBS's wait for the first ping; benchmarks that
// seed a large store raise it (the API opens once the cache has loaded).
var BBSStartTimeout = 30 * time.Second

// StartBBS builds cmd/bbs and runs it against etcdURL over plain HTTP,
// its config from deploy/cluster's Maker changed by mods.
func StartBBS(etcdURL string, mods ...func(*bbsconfig.Config)) *BBS {
	dir, err := os.MkdirTemp("", "bench-bbs")
	if err != nil {
		Fatal("%v", err)
	}
	bin := filepath.Join(dir, "bbs")
	if out, err := exec.Command("go", "build", "-o", bin, "diego/cmd/bbs").CombinedOutput(); err != nil {
		Fatal("building bbs: %v\n%s", err, out)
	}
	listen := ports.Addr()
	m := cluster.Maker{ETCD: config.ETCD{Endpoints: []string{etcdURL}}, LogLevel: "error"}
	cfg := m.BBS(listen, ports.Addr(), mods...)
	if os.Getenv("BENCH_BBS_NO_CACHE") != "" {
		cfg.RecordCache = false // compare with the BBS reading etcd each time
	}
	body, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(dir, "bbs.json")
	if err := os.WriteFile(cfgPath, body, 0o644); err != nil {
		Fatal("%v", err)
	}
	cmd := exec.Command(bin, "-config", cfgPath)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	started := time.Now()
	if err := cmd.Start(); err != nil {
		Fatal("starting bbs: %v", err)
	}
	b := &BBS{cmd: cmd, URL: "http://" + listen, dir: dir}
	atFatal(func() { _ = cmd.Process.Kill(); _ = os.RemoveAll(dir) })
	b.Client, err = bbsclient.New(bbsclient.Config{URL: b.URL})
	if err != nil {
		Fatal("%v", err)
	}
	deadline := time.Now().Add(BBSStartTimeout)
	for !b.Client.Ping(context.Background()) {
		if time.Now().After(deadline) {
			b.Stop()
			Fatal("bbs did not become ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Ready = time.Since(started)
	return b
}

// Stop ends the bbs process and removes its files.
func (b *BBS) Stop() {
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	_ = b.cmd.Wait()
	_ = os.RemoveAll(b.dir)
}

// NewClient returns another client to the same BBS with its own connection
// pool, as a separate consumer would have.
func (b *BBS) NewClient() *bbsclient.Client {
	c, err := bbsclient.New(bbsclient.Config{URL: b.URL})
	if err != nil {
		Fatal("%v", err)
	}
	return c
}

// DebugConfig adds the BBS's pprof listener when BENCH_PPROF names an
// address (e.g. 127.0.0.1:6060), to profile a benchmark while it runs.
func DebugConfig(c *bbsconfig.Config) {
	if addr := os.Getenv("BENCH_PPROF"); addr != "" {
		c.DebugAddress = addr
	}
}

// Profile writes a CPU profile of the benchmark process itself (its etcd and
// its clients) to $BENCH_CPUPROFILE, when set, until the returned stop runs.
func Profile() (stop func()) {
	path := os.Getenv("BENCH_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		Fatal("%v", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		Fatal("%v", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// Process is a running diego binary other than the BBS.
type Process struct {
	cmd *exec.Cmd
	dir string
}

// StartBinary builds cmd/<name> and runs it with cfg (its typed config,
// from deploy/cluster's Maker) as its config file.
func StartBinary(name string, cfg any) *Process {
	return StartPackage("diego/cmd/"+name, name, cfg)
}

// StartPackage builds the main package pkg (a daemon, or a harness's helper
// such as test/bench/scale/repcell) as name and runs it with cfg marshalled
// to its -config file.
func StartPackage(pkg, name string, cfg any) *Process {
	dir, err := os.MkdirTemp("", "bench-"+name)
	if err != nil {
		Fatal("%v", err)
	}
	bin := filepath.Join(dir, name)
	if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		Fatal("building %s: %v\n%s", name, err, out)
	}
	body, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(dir, name+".json")
	if err := os.WriteFile(cfgPath, body, 0o644); err != nil {
		Fatal("%v", err)
	}
	cmd := exec.Command(bin, "-config", cfgPath)
	cmd.Stdout, cmd.Stderr = daemonLog(name), os.Stderr
	if err := cmd.Start(); err != nil {
		Fatal("starting %s: %v", name, err)
	}
	atFatal(func() { _ = cmd.Process.Kill(); _ = os.RemoveAll(dir) })
	return &Process{cmd: cmd, dir: dir}
}

// Stop ends the process and removes its files.
func (p *Process) Stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
	_ = os.RemoveAll(p.dir)
}

// AuctioneerPprof is the auctioneer's pprof listener address, from
// BENCH_AUCTIONEER_PPROF, for benchmarks that run one.
func AuctioneerPprof() string { return os.Getenv("BENCH_AUCTIONEER_PPROF") }

// rssMB is a process's resident set size in MiB (VmRSS), or -1.
func rssMB(pid int) float64 { return statusMB(pid, "VmRSS") }

// statusMB is a size field of /proc/<pid>/status (VmRSS, VmHWM: the peak
// resident set) in MiB, or -1.
func statusMB(pid int, field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		var kb float64
		if _, err := fmt.Sscanf(line, field+": %f kB", &kb); err == nil {
			return kb / 1024
		}
	}
	return -1
}

// PeakRSSMB is the BBS's peak resident set size in MiB (VmHWM).
func (b *BBS) PeakRSSMB() float64 { return statusMB(b.cmd.Process.Pid, "VmHWM") }

// PeakRSSMB is the process's peak resident set size in MiB (VmHWM).
func (p *Process) PeakRSSMB() float64 { return statusMB(p.cmd.Process.Pid, "VmHWM") }

// SelfRSSMB is the harness process's own resident set size in MiB: its
// embedded etcd, its clients and any in-process cells.
func SelfRSSMB() float64 { return statusMB(os.Getpid(), "VmRSS") }

// CPUSeconds is the user+system CPU time a process has used so far, from
// /proc/<pid>/stat, or -1.
func CPUSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// The command name may hold spaces: the fields start after its ')'.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return -1
	}
	var utime, stime float64
	fmt.Sscan(f[11], &utime)
	fmt.Sscan(f[12], &stime)
	return (utime + stime) / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc's CPU times (100 on Linux).
const clockTicks = 100

// CPUSeconds is the BBS's CPU time so far.
func (b *BBS) CPUSeconds() float64 { return CPUSeconds(b.cmd.Process.Pid) }

// CPUSeconds is the process's CPU time so far.
func (p *Process) CPUSeconds() float64 { return CPUSeconds(p.cmd.Process.Pid) }

// RSSMB is the BBS's resident set size in MiB.
func (b *BBS) RSSMB() float64 { return rssMB(b.cmd.Process.Pid) }

// RSSMB is the process's resident set size in MiB.
func (p *Process) RSSMB() float64 { return rssMB(p.cmd.Process.Pid) }

// RepCellConfig is the -config file of test/bench/scale/repcell, one
// simulated cell (the real rep over the in-memory executor) in a process of
// its own.
type RepCellConfig struct {
	CellID        string   `json:"cell_id"`
	Zone          string   `json:"zone"`
	ETCDEndpoints []string `json:"etcd_endpoints"`
	BBSAddress    string   `json:"bbs_address"`
	MemoryMB      int32    `json:"memory_mb"`
	DiskMB        int32    `json:"disk_mb"`
	Containers    int      `json:"containers"`
	PresenceTTL   int      `json:"presence_ttl_s"`
	// ExecutorListen, when set, makes repcell serve only its in-memory
	// executor, through the real executor API on this address, for the
	// real rep binary to use; the other fields but the sizes are unused.
	ExecutorListen string `json:"executor_listen,omitempty"`
}

// Size is the scale factor $BENCH_SIZE (default 1) by which the harnesses
// that support it (task-e2e, lrp-burst) multiply their cells and their load,
// to draw growth curves; the definition at size 1 is the benchmark's own.
func Size() int {
	v := os.Getenv("BENCH_SIZE")
	if v == "" {
		return 1
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 64 {
		Fatal("BENCH_SIZE=%q: want a whole number from 1 to 64", v)
	}
	return n
}

// daemonLog is where a daemon's log (its stdout) goes: $BENCH_LOG_DIR/<name>.log
// when that is set, to see why a daemon exited mid-run; else nowhere.
func daemonLog(name string) io.Writer {
	dir := os.Getenv("BENCH_LOG_DIR")
	if dir == "" {
		return io.Discard
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		Fatal("%v", err)
	}
	f, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		Fatal("%v", err)
	}
	return f
}

// MachineBusySeconds is the CPU time all cores have spent busy (everything
// but idle and iowait) since boot, from /proc/stat, or -1: with a process's
// CPUSeconds it tells how much of the machine a run's own processes used
// and how much went to everything else.
func MachineBusySeconds() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return -1
	}
	var busy float64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		var n float64
		fmt.Sscan(v, &n)
		busy += n
	}
	return busy / clockTicks
}
