// Package linux is garden's Linux backend (spec cell §2.12, §7.2), as
// guardian's: each container is an OCI bundle run by runc, with the garden
// binary as its pid 1 (garden-init), an overlay root over its rootfs
// directory, cgroup limits, a user namespace, capabilities and seccomp for
// unprivileged containers, and a veth with iptables chains named as
// guardian's. The container's init starts its processes (runc exec only for
// peas and containers an older garden made), each under a per-process
// reaper on the host (garden-dadoo). It needs root.
package linux

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sys/unix"

	"diego/deploy/clock"
	"diego/garden"
)

// Config is what the backend needs from garden's configuration.
type Config struct {
	// DepotDir holds a directory per container.
	DepotDir string
	// DefaultRootFS is the rootfs directory of a spec without one.
	DefaultRootFS string
	// RootFSMap maps docker:/// and preloaded: URIs to rootfs directories.
	RootFSMap map[string]string

	NetworkPool     string
	PortPoolStart   uint32
	PortPoolSize    uint32
	Tag             string
	ExternalIP      string
	DenyNetworks    []string
	AllowHostAccess bool
	DNSServers      []string
	MTU             int

	// MaxContainers caps containers (0 = only the network pool limits).
	MaxContainers int
	// DefaultGraceTime applies to specs with grace_time 0.
	DefaultGraceTime time.Duration
	// DestroyContainersOnStartup destroys what a previous run left;
	// otherwise Start reloads those containers.
	DestroyContainersOnStartup bool
	// DisablePrivilegedContainers rejects privileged specs.
	DisablePrivilegedContainers bool

	IPTablesBin        string
	IPTablesRestoreBin string
	// InitBin is the binary bound into containers as garden-init and run
	// as garden-dadoo; it must link this package (package reexec's init
	// plays those parts). Default: this binary.
	InitBin string
	// RuncBin is runc (Debian's package), looked up on PATH by default.
	RuncBin string
	// Mountinfo is where cgroup mounts are read (tests only).
	Mountinfo string
}

// Backend implements garden.Backend on Linux.
type Backend struct {
	cfg     Config
	logger  *slog.Logger
	clock   clock.Clock
	cgroups cgroupDriver
	net     *networker
	runc    *runc
	shifted *shiftedRoots
	// runDir holds the containers' root mount points (and runc's state),
	// world-searchable so that a user namespace's root can reach them.
	runDir string

	mu         sync.Mutex
	containers map[string]*container // created or being created
	destroying map[string]bool
}

var _ garden.Backend = (*Backend)(nil)

// Deps are the backend's logger and the clock of its grace times and
// timings.
type Deps struct {
	Logger *slog.Logger
	Clock  clock.Clock
}

// New checks cfg; Start prepares the host.
func New(cfg Config, deps Deps) (*Backend, error) {
	logger, clk := deps.Logger, deps.Clock
	if cfg.IPTablesBin == "" {
		cfg.IPTablesBin = "iptables"
	}
	if cfg.IPTablesRestoreBin == "" {
		cfg.IPTablesRestoreBin = "iptables-restore"
	}
	if cfg.InitBin == "" {
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("finding this binary for garden-init: %w", err)
		}
		cfg.InitBin = self
	}
	if cfg.RuncBin == "" {
		cfg.RuncBin = "runc"
	}
	if cfg.Mountinfo == "" {
		cfg.Mountinfo = "/proc/self/mountinfo"
	}
	if cfg.MTU == 0 {
		cfg.MTU = 1500
	}
	_, pool, err := net.ParseCIDR(cfg.NetworkPool)
	if err != nil || pool.IP.To4() == nil {
		return nil, fmt.Errorf("network pool %q is not an IPv4 CIDR", cfg.NetworkPool)
	}
	if ones, _ := pool.Mask.Size(); ones > 30 {
		return nil, fmt.Errorf("network pool %q is smaller than one /30", cfg.NetworkPool)
	}
	var deny []*net.IPNet
	for _, d := range cfg.DenyNetworks {
		_, n, err := net.ParseCIDR(d)
		if err != nil {
			return nil, fmt.Errorf("deny network %q is not a CIDR", d)
		}
		deny = append(deny, n)
	}
	depot := filepath.Clean(cfg.DepotDir)
	sum := sha256.Sum256([]byte(depot))
	runDir := filepath.Join("/run/diego-garden", hex.EncodeToString(sum[:6]))
	return &Backend{
		cfg:     cfg,
		runc:    &runc{bin: cfg.RuncBin, root: filepath.Join(runDir, "runc")},
		shifted: newShiftedRoots(depot + ".rootfs"),
		runDir:  runDir,
		logger:  logger,
		clock:   clk,
		net: &networker{
			tag: cfg.Tag, pool: pool, mtu: cfg.MTU, iptables: cfg.IPTablesBin, restore: cfg.IPTablesRestoreBin,
			denyNetworks: deny, hostAccess: cfg.AllowHostAccess, dnsServers: cfg.DNSServers, logger: logger,
			subnets: map[uint32]*subnetUse{}, ports: newPortPool(cfg.PortPoolStart, cfg.PortPoolSize),
		},
		containers: map[string]*container{},
		destroying: map[string]bool{},
	}, nil
}

// Start checks that this host can run containers, sets up the global
// chains, and destroys or reloads what a previous run left.
func (b *Backend) Start() error {
	if os.Geteuid() != 0 {
		return errors.New("garden must run as root (it creates namespaces, mounts, cgroups and network devices)")
	}
	if fs, err := os.ReadFile("/proc/filesystems"); err != nil || !strings.Contains(string(fs), "\toverlay\n") {
		return errors.New("the kernel does not support overlay filesystems (try `modprobe overlay`): garden needs overlayfs for container root filesystems")
	}
	for _, bin := range []string{b.cfg.IPTablesBin, b.cfg.IPTablesRestoreBin} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s not found: install iptables (apt-get install iptables)", bin)
		}
	}
	if err := checkStatic(b.cfg.InitBin); err != nil {
		return err
	}
	if err := checkDiskLimits(); err != nil {
		b.logger.Error("disk-limits-unavailable", "error", err)
	}
	if n, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil && strings.TrimSpace(string(n)) == "0" {
		return errors.New("user namespaces are disabled (user.max_user_namespaces = 0): garden needs them for unprivileged containers")
	}
	runcPath, err := exec.LookPath(b.cfg.RuncBin)
	if err != nil {
		return fmt.Errorf("%s not found: install runc (apt-get install runc)", b.cfg.RuncBin)
	}
	b.runc.bin = runcPath
	for _, d := range []string{filepath.Dir(b.runDir), b.runDir} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return fmt.Errorf("creating %s: %w", d, err)
		}
		if err := os.Chmod(d, 0o711); err != nil {
			return err
		}
	}
	cg, err := detectCgroups(b.cfg.Mountinfo, b.cfg.Tag)
	if err != nil {
		return err
	}
	b.cgroups = cg
	if b.cfg.ExternalIP != "" {
		b.net.externalIP = net.ParseIP(b.cfg.ExternalIP)
		if b.net.externalIP == nil {
			return fmt.Errorf("external_ip %q is not an IP address", b.cfg.ExternalIP)
		}
	} else if b.net.externalIP, err = detectExternalIP(); err != nil {
		return err
	}
	if err := os.MkdirAll(b.cfg.DepotDir, 0o755); err != nil {
		return fmt.Errorf("creating depot %s: %w", b.cfg.DepotDir, err)
	}
	if b.cfg.DestroyContainersOnStartup {
		if err := b.destroyLeftovers(); err != nil {
			return err
		}
	}
	if err := b.net.setUpHost(); err != nil {
		return err
	}
	if !b.cfg.DestroyContainersOnStartup {
		b.reload()
	}
	return nil
}

// Stop leaves containers running: a restarted garden finds them in the
// depot.
func (b *Backend) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.containers {
		c.closeProxies()
	}
	// Only empty: runc's state of running containers stays for the next
	// start.
	_ = os.Remove(b.runc.root)
	_ = os.Remove(b.runDir)
}

// destroyLeftovers removes every container in the depot and every cgroup,
// link and chain of this garden's tag that a previous run left behind.
func (b *Backend) destroyLeftovers() error {
	entries, err := os.ReadDir(b.cfg.DepotDir)
	if err != nil {
		return fmt.Errorf("reading depot: %w", err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		handle := e.Name()
		seen[handle] = true
		dir := filepath.Join(b.cfg.DepotDir, handle)
		var saved savedContainer
		_ = readJSON(filepath.Join(dir, savedName), &saved)
		c := &container{b: b, handle: handle, dir: dir, network: saved.Network, rootPath: b.rootMountPoint(handle),
			cg: b.cgroups.Open(handle)}
		if err := c.tearDown(); err != nil {
			b.logger.Error("destroy-leftover-failed", "handle", handle, "error", err)
			continue
		}
		b.logger.Info("destroyed-leftover-container", "handle", handle)
	}
	for _, handle := range b.cgroups.Handles() {
		if !seen[handle] {
			_ = b.cgroups.Open(handle).Destroy()
		}
	}
	// runc state and root mounts whose depot directory is gone.
	ids := map[string]bool{}
	for handle := range seen {
		ids[runcID(handle)] = true
	}
	states, _ := os.ReadDir(b.runc.root)
	for _, e := range states {
		if !ids[e.Name()] {
			if err := b.runc.delete(e.Name()); err != nil {
				b.logger.Error("destroy-leftover-failed", "runc_id", e.Name(), "error", err)
			}
		}
	}
	mounts, _ := os.ReadDir(b.runDir)
	for _, e := range mounts {
		if e.Name() != filepath.Base(b.runc.root) && !ids[e.Name()] {
			if err := unmountRoot(filepath.Join(b.runDir, e.Name())); err != nil {
				b.logger.Error("destroy-leftover-failed", "root", e.Name(), "error", err)
			}
		}
	}
	b.shifted.prune()
	if err := b.net.purgeLinks(); err != nil {
		return err
	}
	return b.net.purgeAll()
}

// reload serves again the containers a previous run left (with
// destroy_containers_on_startup false); their old processes cannot be
// attached to.
func (b *Backend) reload() {
	entries, _ := os.ReadDir(b.cfg.DepotDir)
	var dead []*container
	for _, e := range entries {
		dir := filepath.Join(b.cfg.DepotDir, e.Name())
		var saved savedContainer
		if err := readJSON(filepath.Join(dir, savedName), &saved); err != nil || !b.running(e.Name()) {
			// Its init is gone, so its processes are too: remove what is
			// left rather than leak its links, rules and cgroups, once the
			// live containers hold their subnets (a shared bridge they
			// still use stays).
			dead = append(dead, &container{b: b, handle: e.Name(), dir: dir, network: saved.Network, rootPath: b.rootMountPoint(e.Name()),
				cg: b.cgroups.Open(e.Name())})
			continue
		}
		c := newContainer(b, saved.Handle, dir)
		c.restore(saved)
		c.reloadProcesses()
		b.net.claim(c.network)
		for _, m := range c.mapped {
			_, _ = b.net.ports.acquire(m.HostPort, nil)
			if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", m.HostPort)); err == nil {
				c.proxies = append(c.proxies, startProxy(l, fmt.Sprintf("%s:%d", c.network.ContainerIP, m.ContainerPort)))
			}
		}
		_ = b.net.restoreRules(b.net.reloadRules(c.handle, c.network))
		b.containers[c.handle] = c
		b.logger.Info("reloaded-container", "handle", c.handle)
	}
	for _, c := range dead {
		if err := c.tearDown(); err != nil {
			b.logger.Error("removing-dead-container-failed", "handle", c.handle, "error", err)
		} else {
			b.logger.Info("removed-dead-container", "handle", c.handle)
		}
	}
}

// Ping reports whether the backend can serve.
func (b *Backend) Ping() error {
	if _, err := os.Stat(b.cfg.DepotDir); err != nil {
		return garden.UnrecoverableError{Symptom: "depot unavailable: " + err.Error()}
	}
	return nil
}

// Capacity is the host's memory, the depot's disk and the container cap.
func (b *Backend) Capacity() (garden.Capacity, error) {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return garden.Capacity{}, err
	}
	var st unix.Statfs_t
	if err := unix.Statfs(b.cfg.DepotDir, &st); err != nil {
		return garden.Capacity{}, err
	}
	disk := st.Blocks * uint64(st.Bsize)
	return garden.Capacity{
		MemoryInBytes:          si.Totalram * uint64(si.Unit),
		DiskInBytes:            disk,
		SchedulableDiskInBytes: disk,
		MaxContainers:          uint64(b.maxContainers()),
	}, nil
}

func (b *Backend) maxContainers() int {
	limit := b.net.maxSubnets()
	if b.cfg.MaxContainers > 0 && b.cfg.MaxContainers < limit {
		limit = b.cfg.MaxContainers
	}
	return limit
}

// GraceTime is the container's grace time.
func (b *Backend) GraceTime(c garden.Container) time.Duration {
	if lc, ok := c.(*container); ok {
		return lc.graceTimeValue()
	}
	return 0
}

// Lookup finds a container by handle.
func (b *Backend) Lookup(handle string) (garden.Container, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.containers[handle]
	if !ok {
		return nil, garden.ContainerNotFoundError{Handle: handle}
	}
	return c, nil
}

// Containers lists containers whose properties match filter. Without a
// garden.state entry only created containers match; garden.state=all
// matches any (spec cell §2.3).
func (b *Backend) Containers(filter garden.Properties) ([]garden.Container, error) {
	b.mu.Lock()
	all := make([]*container, 0, len(b.containers))
	for _, c := range b.containers {
		all = append(all, c)
	}
	b.mu.Unlock()
	want := garden.Properties{}
	for k, v := range filter {
		want[k] = v
	}
	if want[garden.StateProperty] == garden.StateAll {
		delete(want, garden.StateProperty)
	} else if _, ok := want[garden.StateProperty]; !ok {
		want[garden.StateProperty] = garden.StateCreated
	}
	var out []garden.Container
	for _, c := range all {
		if c.matches(want) {
			out = append(out, c)
		}
	}
	return out, nil
}

// BulkInfo is Info for each handle.
func (b *Backend) BulkInfo(handles []string) (map[string]garden.ContainerInfoEntry, error) {
	out := map[string]garden.ContainerInfoEntry{}
	for _, h := range handles {
		c, err := b.Lookup(h)
		if err != nil {
			out[h] = garden.ContainerInfoEntry{Err: garden.NewError(err)}
			continue
		}
		info, err := c.Info()
		out[h] = garden.ContainerInfoEntry{Info: info, Err: garden.NewError(err)}
	}
	return out, nil
}

// BulkMetrics is Metrics for each handle.
func (b *Backend) BulkMetrics(handles []string) (map[string]garden.ContainerMetricsEntry, error) {
	out := map[string]garden.ContainerMetricsEntry{}
	for _, h := range handles {
		c, err := b.Lookup(h)
		if err != nil {
			if m, ok := b.peaMetrics(h); ok {
				out[h] = garden.ContainerMetricsEntry{Metrics: m}
				continue
			}
			out[h] = garden.ContainerMetricsEntry{Err: garden.NewError(err)}
			continue
		}
		m, err := c.Metrics()
		out[h] = garden.ContainerMetricsEntry{Metrics: m, Err: garden.NewError(err)}
	}
	return out, nil
}

// resolveRootFS turns a spec's rootfs reference into a directory and
// whether it is the host's own filesystem (raw://), which is never
// overlaid but bound read-only.
func (b *Backend) resolveRootFS(spec garden.ContainerSpec) (string, bool, error) {
	if spec.Image.URI != "" && spec.RootFSPath != "" {
		return "", false, errors.New("cannot provide both image.uri and rootfs")
	}
	ref := spec.Image.URI
	if ref == "" {
		ref = spec.RootFSPath
	}
	var dir string
	readOnly := false
	switch {
	case ref == "":
		dir = b.cfg.DefaultRootFS
		if dir == "" {
			return "", false, errors.New("no rootfs given and no default_rootfs configured")
		}
	case strings.HasPrefix(ref, "raw://"):
		dir, readOnly = strings.TrimPrefix(ref, "raw://"), true
	case strings.HasPrefix(ref, "/"):
		dir = ref
	case strings.HasPrefix(ref, "docker:"), strings.HasPrefix(ref, "preloaded:"):
		mapped, ok := b.cfg.RootFSMap[ref]
		if !ok {
			return "", false, fmt.Errorf("unknown rootfs %q: garden's rootfs map has no entry for it", ref)
		}
		dir = mapped
	default:
		return "", false, fmt.Errorf("invalid rootfs %q: want \"\", raw:///dir, /dir, docker:///image or preloaded:stack", ref)
	}
	// The path goes into overlay's option string, where these characters
	// would end or escape it.
	if strings.ContainsAny(dir, ",:\\") {
		return "", false, fmt.Errorf("rootfs %q: the path %s may not contain ',', ':' or '\\'", ref, dir)
	}
	info, err := os.Stat(dir)
	if err != nil || !info.IsDir() {
		return "", false, fmt.Errorf("rootfs %q: %s is not a directory", ref, dir)
	}
	return filepath.Clean(dir), readOnly, nil
}

func validHandle(h string) error {
	if h == "" || h == "." || h == ".." || strings.ContainsAny(h, "/\x00") || len(h) > 255 {
		return fmt.Errorf("invalid handle %q: it names a directory, so it must be 1-255 characters without '/'", h)
	}
	return nil
}

// Create builds a container in guardian's order (spec cell §2.3); any
// failure destroys what was built.
func (b *Backend) Create(spec garden.ContainerSpec) (garden.Container, error) {
	if spec.Handle == "" {
		spec.Handle = uuid.NewString()
	}
	if err := validHandle(spec.Handle); err != nil {
		return nil, err
	}
	rootfs, readOnly, err := b.resolveRootFS(spec)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(b.cfg.DepotDir, spec.Handle)
	c := newContainer(b, spec.Handle, dir)

	b.mu.Lock()
	switch {
	case b.containers[spec.Handle] != nil || b.destroying[spec.Handle]:
		b.mu.Unlock()
		return nil, fmt.Errorf("Handle '%s' already in use", spec.Handle)
	case len(b.containers) >= b.maxContainers():
		b.mu.Unlock()
		return nil, fmt.Errorf("cannot create more than %d containers", b.maxContainers())
	case spec.Privileged && b.cfg.DisablePrivilegedContainers:
		b.mu.Unlock()
		return nil, errors.New("privileged container creation is disabled")
	}
	b.containers[spec.Handle] = c
	b.mu.Unlock()

	start := b.clock.Now()
	if err := c.create(spec, rootfs, readOnly); err != nil {
		b.logger.Error("create-failed", "handle", spec.Handle, "error", err)
		if terr := c.tearDown(); terr != nil {
			b.logger.Error("create-cleanup-failed", "handle", spec.Handle, "error", terr)
		}
		b.mu.Lock()
		delete(b.containers, spec.Handle)
		b.mu.Unlock()
		return nil, err
	}
	b.logger.Debug("created", "handle", spec.Handle, "duration", b.clock.Since(start).String())
	return c, nil
}

// Destroy kills a container's processes and removes everything it had
// (spec cell §2.11).
func (b *Backend) Destroy(handle string) error {
	b.mu.Lock()
	c, ok := b.containers[handle]
	switch {
	case b.destroying[handle]:
		b.mu.Unlock()
		return garden.ErrAlreadyBeingDestroyed
	case !ok:
		b.mu.Unlock()
		return garden.ContainerNotFoundError{Handle: handle}
	}
	b.destroying[handle] = true
	b.mu.Unlock()

	err := c.tearDown()

	b.mu.Lock()
	delete(b.destroying, handle)
	if err == nil {
		delete(b.containers, handle)
	}
	b.mu.Unlock()
	if err != nil {
		return fmt.Errorf("destroying %s: %w", handle, err)
	}
	return nil
}

// rootMountPoint is where a container's root is mounted on the host.
func (b *Backend) rootMountPoint(handle string) string {
	return filepath.Join(b.runDir, runcID(handle))
}

// running says whether runc knows the handle's container and its init
// runs.
func (b *Backend) running(handle string) bool {
	s, err := b.runc.state(runcID(handle))
	return err == nil && s.Status == "running"
}

// checkStatic makes sure the binary re-executed inside containers needs no
// dynamic loader, which a container's rootfs need not have.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked, so it cannot run inside containers: build garden with CGO_ENABLED=0", path)
		}
	}
	return nil
}

// writeJSON replaces path atomically.
func writeJSON(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
