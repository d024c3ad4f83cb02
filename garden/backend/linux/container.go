package linux

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"diego/garden"
)

// savedName is the container's description in its depot directory, kept
// up to date so a restarted garden can reload or clean it up.
const savedName = "container.json"

type savedContainer struct {
	Handle      string               `json:"handle"`
	InitPid     int                  `json:"init_pid"`
	Network     containerNetwork     `json:"network"`
	MappedPorts []garden.PortMapping `json:"mapped_ports"`
	Limits      garden.Limits        `json:"limits"`
	GraceTime   time.Duration        `json:"grace_time"`
	Env         []string             `json:"env"`
	Properties  garden.Properties    `json:"properties"`
	CreatedAt   time.Time            `json:"created_at"`
	Privileged  bool                 `json:"privileged"`
	RootPath    string               `json:"root_path"` // where the root is mounted on the host
	// InitOutOfMemory: the init left the memory cgroup (decision 27), so
	// each process must join it.
	InitOutOfMemory bool `json:"init_out_of_memory,omitempty"`
}

type container struct {
	b      *Backend
	handle string
	dir    string

	mu              sync.Mutex
	properties      garden.Properties
	network         containerNetwork
	mapped          []garden.PortMapping
	proxies         []*proxy
	limits          garden.Limits
	graceTime       time.Duration
	env             []string
	createdAt       time.Time
	initPid         int
	privileged      bool
	rootPath        string // the mounted root runc runs the container in
	initOutOfMemory bool
	cg              cgroup
	processes       map[string]*process
	peas            map[string]*pea // by name
	stopped         bool
}

func newContainer(b *Backend, handle, dir string) *container {
	return &container{
		b: b, handle: handle, dir: dir,
		properties: garden.Properties{},
		processes:  map[string]*process{},
		peas:       map[string]*pea{},
	}
}

func (c *container) restore(s savedContainer) {
	c.initPid, c.network, c.mapped, c.limits = s.InitPid, s.Network, s.MappedPorts, s.Limits
	c.graceTime, c.env, c.createdAt = s.GraceTime, s.Env, s.CreatedAt
	c.privileged, c.rootPath, c.initOutOfMemory = s.Privileged, s.RootPath, s.InitOutOfMemory
	if s.Properties != nil {
		c.properties = s.Properties
	}
	c.cg = c.b.cgroups.Open(c.handle)
}

// save writes the container's description; the caller holds c.mu.
func (c *container) save() error {
	return writeJSON(filepath.Join(c.dir, savedName), savedContainer{
		Handle: c.handle, InitPid: c.initPid, Network: c.network, MappedPorts: c.mapped, Limits: c.limits,
		GraceTime: c.graceTime, Env: c.env, Properties: c.properties, CreatedAt: c.createdAt,
		Privileged: c.privileged, RootPath: c.rootPath, InitOutOfMemory: c.initOutOfMemory,
	})
}

func (c *container) create(spec garden.ContainerSpec, rootfs string, readOnly bool) error {
	c.createdAt = c.b.clock.Now()
	c.limits, c.env, c.privileged = spec.Limits, spec.Env, spec.Privileged
	c.rootPath = c.b.rootMountPoint(c.handle)
	for k, v := range spec.Properties {
		c.properties[k] = v
	}
	for _, m := range spec.BindMounts {
		if m.Origin == garden.BindMountOriginContainer {
			return errors.New("bind mounts with origin container are not supported")
		}
		if m.SrcPath == "" || m.DstPath == "" {
			return errors.New("a bind mount needs src_path and dst_path")
		}
		if _, err := os.Stat(m.SrcPath); err != nil {
			return fmt.Errorf("bind mount source %s: %w", m.SrcPath, err)
		}
	}
	if err := prepareLayers(c.dir, rootfs, readOnly, spec.Limits.Disk); err != nil {
		return err
	}
	// The upper layer's root is the container's "/": its root owns it.
	if err := os.Chown(filepath.Join(c.dir, upperDirName), hostID(c.privileged, 0), hostID(c.privileged, 0)); err != nil {
		return err
	}
	cn, err := c.b.net.allocate(spec.Network)
	if err != nil {
		return err
	}
	c.network = cn
	hosts := fmt.Sprintf("127.0.0.1 localhost\n%s %s\n", cn.ContainerIP, c.handle)
	if err := os.WriteFile(filepath.Join(c.dir, hostsName), []byte(hosts), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.dir, resolvName), resolvConf(c.b.cfg.DNSServers), 0o644); err != nil {
		return err
	}
	if err := c.saveLocked(); err != nil {
		return err
	}
	lower := rootfs
	if !c.privileged && !readOnly {
		if lower, err = c.b.shifted.get(rootfs); err != nil {
			return err
		}
	}
	if err := mountRoot(c.rootPath, c.dir, lower, readOnly); err != nil {
		return err
	}
	rooted := c.b.clock.Now()
	bundle := ociSpec(bundleSpec{
		Handle: c.handle, RootFS: c.rootPath, ReadOnly: readOnly, Privileged: c.privileged, DepotDir: c.dir,
		InitBin: c.b.cfg.InitBin, CgroupPath: c.b.cgroups.Path(c.handle), BindMounts: spec.BindMounts,
		Limits: spec.Limits, SwapLimit: c.b.cgroups.SwapLimit(),
	})
	if err := writeJSON(filepath.Join(c.dir, "config.json"), bundle); err != nil {
		return err
	}
	// The init starts the container's processes through this socket.
	listener, err := listenInitSocket(filepath.Join(c.dir, initSocketName))
	if err != nil {
		return err
	}
	pid, err := c.b.runc.run(runcID(c.handle), c.dir, filepath.Join(c.dir, "init.log"), listener)
	listener.Close()
	if err != nil {
		return err
	}
	ran := c.b.clock.Now()
	c.mu.Lock()
	c.initPid = pid
	c.mu.Unlock()
	// The init's protection and pids group, and the network, need only
	// the init: they go in parallel.
	var guardErr error
	var guarded time.Time
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { guarded = c.b.clock.Now() }()
		cg, err := c.b.cgroups.Create(c.handle, spec.Limits)
		c.mu.Lock()
		c.cg = cg
		c.mu.Unlock()
		if err == nil {
			err = c.protectInit(pid)
		}
		if err == nil {
			err = c.saveLocked()
		}
		guardErr = err
	}()
	netErr := c.b.net.setUp(c.handle, cn, pid)
	networked := c.b.clock.Now()
	<-done
	if err := errors.Join(guardErr, netErr); err != nil {
		return err
	}
	c.b.logger.Debug("create-phases", "handle", c.handle, "root", rooted.Sub(c.createdAt).String(),
		"runc", ran.Sub(rooted).String(), "init", guarded.Sub(ran).String(), "network", networked.Sub(ran).String())
	for _, in := range spec.NetIn {
		if _, _, err := c.NetIn(in.HostPort, in.ContainerPort); err != nil {
			return err
		}
	}
	if len(spec.NetOut) > 0 {
		if err := c.BulkNetOut(spec.NetOut); err != nil {
			return err
		}
	}
	grace := spec.GraceTime
	if grace == 0 {
		grace = c.b.cfg.DefaultGraceTime
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.graceTime = grace
	c.properties[garden.GraceTimeProperty] = strconv.FormatInt(int64(grace), 10)
	c.properties[garden.ContainerIPProperty] = cn.ContainerIP
	c.properties[garden.HostIPProperty] = cn.HostIP
	c.properties[garden.ExternalIPProperty] = c.b.net.externalIP.String()
	c.properties[garden.StateProperty] = garden.StateCreated
	return c.save()
}

// protectInit makes sure pid 1 is never the OOM killer's victim (spec cell
// §7.2 item 3): oom_score_adj -1000, set from the host because runc may not
// lower it inside a user namespace. Where garden itself lacks
// CAP_SYS_RESOURCE (some sandboxes), the init leaves the container's
// memory cgroup instead, so the container's OOM killer never considers it
// (decision 27).
func (c *container) protectInit(pid int) error {
	err := os.WriteFile(fmt.Sprintf("/proc/%d/oom_score_adj", pid), []byte("-1000"), 0)
	if err == nil {
		return nil
	}
	if !errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("protecting the init from the OOM killer: %w", err)
	}
	if err := c.cg.MoveOutOfMemory(pid); err != nil {
		return fmt.Errorf("protecting the init from the OOM killer (no CAP_SYS_RESOURCE for oom_score_adj): %w", err)
	}
	c.mu.Lock()
	c.initOutOfMemory = true
	c.mu.Unlock()
	return nil
}

// mountRoot mounts the container's root at target on the host: an overlay
// with lower as its lower layer and the depot's upper and work, or for a
// raw:// root the directory itself, read-only. The layers are named through
// /proc/self/fd, as overlay's option string cannot hold ',', ':' or '\'.
func mountRoot(target, depotDir, lower string, readOnly bool) error {
	if err := os.MkdirAll(target, 0o755); err != nil {
		return fmt.Errorf("creating the root mount point: %w", err)
	}
	if readOnly {
		if err := unix.Mount(lower, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("binding rootfs %s: %w", lower, err)
		}
		if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("making rootfs read-only: %w", err)
		}
		return nil
	}
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	var paths []string
	for _, p := range []string{lower, filepath.Join(depotDir, upperDirName), filepath.Join(depotDir, workDirName)} {
		fd, err := unix.Open(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("opening %s: %w", p, err)
		}
		fds = append(fds, fd)
		paths = append(paths, fmt.Sprintf("/proc/self/fd/%d", fd))
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", paths[0], paths[1], paths[2])
	if err := unix.Mount("overlay", target, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mounting overlay over %s: %w", lower, err)
	}
	return nil
}

// unmountRoot undoes mountRoot; a root that is not mounted is fine.
func unmountRoot(target string) error {
	if target == "" {
		return nil
	}
	for {
		err := unix.Unmount(target, unix.MNT_DETACH)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			break
		}
		if err != nil {
			return fmt.Errorf("unmounting %s: %w", target, err)
		}
	}
	if err := os.Remove(target); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (c *container) saveLocked() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.save()
}

// tearDown kills everything in the container and removes its network,
// cgroups and depot directory. It works on half-built containers and on
// containers a previous garden left behind. The container (its processes,
// cgroups, root and depot directory, in that order) and its network go in
// parallel, as neither needs the other gone; the subnet and ports are
// released once both are.
func (c *container) tearDown() error {
	start := c.b.clock.Now()
	c.closeProxies()
	c.mu.Lock()
	mapped, root := c.mapped, c.rootPath
	c.mu.Unlock()
	var ctrErrs []error
	var killed, grouped, removed time.Time
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.removePeas(); err != nil {
			ctrErrs = append(ctrErrs, err)
		}
		// The init dies, which ends its pid namespace; its runc state and
		// cgroups go.
		if err := c.b.runc.delete(runcID(c.handle)); err != nil {
			ctrErrs = append(ctrErrs, err)
		}
		if c.cg != nil {
			if pids, err := c.cg.Procs(); err == nil {
				for _, p := range pids {
					_ = unix.Kill(p, unix.SIGKILL)
				}
			}
		}
		killed = c.b.clock.Now()
		if c.cg != nil {
			if err := c.cg.Destroy(); err != nil {
				ctrErrs = append(ctrErrs, err)
			}
		}
		grouped = c.b.clock.Now()
		// The overlay first, then the filesystem its layers live on.
		if err := unmountRoot(root); err != nil {
			ctrErrs = append(ctrErrs, err)
		}
		if err := releaseLayers(c.dir); err != nil {
			ctrErrs = append(ctrErrs, err)
		}
		if err := os.RemoveAll(c.dir); err != nil {
			ctrErrs = append(ctrErrs, fmt.Errorf("removing %s: %w", c.dir, err))
		}
		removed = c.b.clock.Now()
	}()
	var errs []error
	if err := c.b.net.tearDown(c.handle, c.network); err != nil {
		errs = append(errs, err)
	}
	networked := c.b.clock.Now()
	<-done
	errs = append(errs, ctrErrs...)
	c.b.net.release(c.network)
	for _, m := range mapped {
		c.b.net.ports.release(m.HostPort)
	}
	c.b.logger.Debug("torn-down", "handle", c.handle, "kill", killed.Sub(start).String(),
		"cgroups", grouped.Sub(killed).String(), "depot", removed.Sub(grouped).String(),
		"network", networked.Sub(start).String())
	return errors.Join(errs...)
}

func (c *container) closeProxies() {
	c.mu.Lock()
	proxies := c.proxies
	c.proxies = nil
	c.mu.Unlock()
	for _, p := range proxies {
		p.Close()
	}
}

// Handle is the container's handle.
func (c *container) Handle() string { return c.handle }

func (c *container) graceTimeValue() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.graceTime
}

func (c *container) matches(want garden.Properties) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range want {
		if c.properties[k] != v {
			return false
		}
	}
	return true
}

// Stop signals every process but the init: TERM every second up to ten
// times, then KILL likewise (spec cell §2.11).
func (c *container) Stop(kill bool) error {
	signals := []unix.Signal{unix.SIGTERM, unix.SIGKILL}
	if kill {
		signals = signals[1:]
	}
	for _, sig := range signals {
		for range 10 {
			pids := c.processPids()
			if len(pids) == 0 {
				break
			}
			for _, p := range pids {
				_ = unix.Kill(p, sig)
			}
			select {
			case <-c.b.clock.After(time.Second):
			case <-c.processesGone():
			}
		}
	}
	c.mu.Lock()
	c.stopped = true
	c.mu.Unlock()
	if len(c.processPids()) > 0 {
		return errors.New("processes survived SIGKILL")
	}
	return nil
}

// processPids are the host pids in the container's cgroup, init aside.
func (c *container) processPids() []int {
	if c.cg == nil {
		return nil
	}
	pids, _ := c.cg.Procs()
	out := pids[:0]
	for _, p := range pids {
		if p != c.initPid {
			out = append(out, p)
		}
	}
	return out
}

// processesGone closes once the cgroup holds only the init (checked every
// 20 ms), so Stop does not wait a whole second after a quick exit.
func (c *container) processesGone() <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		for range 50 {
			if len(c.processPids()) == 0 {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return ch
}

// Info reports the container (spec cell §2.9).
func (c *container) Info() (garden.ContainerInfo, error) {
	oom := c.cg != nil && c.cg.OOMKilled()
	c.mu.Lock()
	defer c.mu.Unlock()
	info := garden.ContainerInfo{
		State:         garden.ContainerStateActive,
		Events:        []string{},
		HostIP:        c.network.HostIP,
		ContainerIP:   c.network.ContainerIP,
		ExternalIP:    c.b.net.externalIP.String(),
		ContainerPath: c.dir,
		ProcessIDs:    []string{},
		Properties:    garden.Properties{},
		MappedPorts:   append([]garden.PortMapping{}, c.mapped...),
	}
	if c.stopped {
		info.State = garden.ContainerStateStopped
	}
	if oom {
		info.Events = append(info.Events, garden.OutOfMemoryEvent)
	}
	for k, v := range c.properties {
		info.Properties[k] = v
	}
	for id, p := range c.processes {
		if !p.exited() {
			info.ProcessIDs = append(info.ProcessIDs, id)
		}
	}
	sort.Strings(info.ProcessIDs)
	return info, nil
}

// Metrics reads the cgroup and the disk usage of the layers (and image).
func (c *container) Metrics() (garden.Metrics, error) {
	if c.cg == nil {
		return garden.Metrics{}, errors.New("container has no cgroup")
	}
	mem, cpu, pids := c.cg.Stats()
	disk := diskStat(c.dir)
	c.mu.Lock()
	defer c.mu.Unlock()
	return garden.Metrics{
		MemoryStat:  mem,
		CPUStat:     cpu,
		DiskStat:    disk,
		NetworkStat: linkStats(c.network.HostVeth),
		PidStat:     pids,
		Age:         c.b.clock.Since(c.createdAt),
	}, nil
}

// CurrentBandwidthLimits reports what was set; nothing enforces it.
func (c *container) CurrentBandwidthLimits() (garden.BandwidthLimits, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.limits.Bandwidth, nil
}

// CurrentCPULimits reports what was set at create.
func (c *container) CurrentCPULimits() (garden.CPULimits, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.limits.CPU, nil
}

// CurrentDiskLimits reports what was set; usage is measured, not capped.
func (c *container) CurrentDiskLimits() (garden.DiskLimits, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.limits.Disk, nil
}

// CurrentMemoryLimits reports what was set at create.
func (c *container) CurrentMemoryLimits() (garden.MemoryLimits, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.limits.Memory, nil
}

// NetIn maps a host port to a container port with a DNAT rule for the
// external address and a proxy on 127.0.0.1 (spec cell §2.10, §7.2).
func (c *container) NetIn(hostPort, containerPort uint32) (uint32, uint32, error) {
	var listener net.Listener
	listen := func(port uint32) bool {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return false
		}
		listener = l
		return true
	}
	port, err := c.b.net.ports.acquire(hostPort, listen)
	if err != nil {
		return 0, 0, err
	}
	if listener == nil {
		if !listen(port) {
			c.b.net.ports.release(port)
			return 0, 0, fmt.Errorf("host port %d is in use on 127.0.0.1", port)
		}
	}
	if containerPort == 0 {
		containerPort = port
	}
	if err := c.b.net.netIn(c.handle, c.network, port, containerPort); err != nil {
		listener.Close()
		c.b.net.ports.release(port)
		return 0, 0, err
	}
	p := startProxy(listener, fmt.Sprintf("%s:%d", c.network.ContainerIP, containerPort))
	c.mu.Lock()
	defer c.mu.Unlock()
	c.proxies = append(c.proxies, p)
	c.mapped = append(c.mapped, garden.PortMapping{HostPort: port, ContainerPort: containerPort})
	encoded, _ := json.Marshal(c.mapped)
	c.properties[garden.MappedPortsProperty] = string(encoded)
	return port, containerPort, c.save()
}

// NetOut allows egress matching rule.
func (c *container) NetOut(rule garden.NetOutRule) error {
	return c.BulkNetOut([]garden.NetOutRule{rule})
}

// BulkNetOut allows egress matching each rule, in one iptables-restore.
func (c *container) BulkNetOut(rules []garden.NetOutRule) error {
	return c.b.net.netOut(c.handle, c.network, rules)
}

// SetGraceTime changes the idle time before the server reaps the container.
func (c *container) SetGraceTime(d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.graceTime = d
	c.properties[garden.GraceTimeProperty] = strconv.FormatInt(int64(d), 10)
	return c.save()
}

// Properties returns a copy of the properties.
func (c *container) Properties() (garden.Properties, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := garden.Properties{}
	for k, v := range c.properties {
		out[k] = v
	}
	return out, nil
}

// Property returns one property.
func (c *container) Property(name string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.properties[name]
	if !ok {
		return "", fmt.Errorf("property does not exist: %s", name)
	}
	return v, nil
}

// SetProperty sets and persists one property.
func (c *container) SetProperty(name, value string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.properties[name] = value
	return c.save()
}

// RemoveProperty deletes one property.
func (c *container) RemoveProperty(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.properties[name]; !ok {
		return fmt.Errorf("property does not exist: %s", name)
	}
	delete(c.properties, name)
	return c.save()
}

// StreamIn extracts a tar into the container as the spec's user.
func (c *container) StreamIn(spec garden.StreamInSpec) error {
	if spec.Path == "" {
		return errors.New("stream in: a destination path is required")
	}
	var stderr limitedBuffer
	p, err := c.spawn(spawnRequest{Kind: kindTarIn, Path: spec.Path, User: spec.User},
		garden.ProcessIO{Stdin: spec.TarStream, Stderr: &stderr})
	if err != nil {
		return fmt.Errorf("stream in: %w", err)
	}
	status, err := p.Wait()
	if err != nil {
		return fmt.Errorf("stream in: %w", err)
	}
	if status != 0 {
		return streamInError(status, stderr.String())
	}
	return nil
}

// StreamOut returns a tar of the spec's path, read as the spec's user. An
// error after the first bytes truncates the stream (spec cell §2.7).
func (c *container) StreamOut(spec garden.StreamOutSpec) (io.ReadCloser, error) {
	if spec.Path == "" {
		return nil, errors.New("stream out: a source path is required")
	}
	r, w := io.Pipe()
	var stderr limitedBuffer
	p, err := c.spawn(spawnRequest{Kind: kindTarOut, Path: spec.Path, User: spec.User},
		garden.ProcessIO{Stdout: w, Stderr: &stderr})
	if err != nil {
		return nil, fmt.Errorf("stream out: %w", err)
	}
	go func() {
		status, err := p.Wait()
		if err == nil && status != 0 {
			err = fmt.Errorf("stream out of %s: %s", spec.Path, stderr.String())
		}
		w.CloseWithError(err)
	}()
	return r, nil
}

// limitedBuffer keeps the first 4 KiB written to it, for error messages.
type limitedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := 4096 - len(l.buf); room > 0 {
		l.buf = append(l.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(trimNewline(l.buf))
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
