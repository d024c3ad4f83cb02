package linux

import (
	"diego/garden/backend/linux/reexec"

	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"diego/garden"
)

// The bundle is guardian's: an OCI config.json in the container's depot
// directory, run by runc (spec cell §2.12, §7.2 item 3). What isolates an
// unprivileged container — the user namespace, capabilities, seccomp, masked
// /proc paths, read-only /sys and cgroupfs — is configuration here, applied
// by runc.

// initPath is where the garden binary is bound in every container: pid 1
// runs it as garden-init, and each process starts through it as the exec
// shim (decision 12 kept it out of the rootfs; /dev is runc's own tmpfs).
const initPath = reexec.InitPath

// Host ids container ids map to in unprivileged containers: container
// uid/gid 0–65535 are host 1000000000–1000065535 (decision 24).
const (
	idMapBase = 1000000000
	idMapSize = 65536
)

// unprivilegedCaps is Docker's (and guardian's) default set.
var unprivilegedCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// allCaps is every capability garden itself may hand on (privileged
// containers): its own bounding set.
func allCaps() []string {
	status, _ := os.ReadFile("/proc/self/status")
	var bounding uint64 = 1<<uint(len(capNames)) - 1
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			if n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64); err == nil {
				bounding = n
			}
		}
	}
	var out []string
	for i, name := range capNames {
		if bounding&(1<<uint(i)) != 0 {
			out = append(out, name)
		}
	}
	return out
}

var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
	"CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
	"CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// Docker's masked and read-only /proc and /sys paths.
var (
	maskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
		"/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
	readonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

func capSet(caps []string) *specs.LinuxCapabilities {
	return &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps, Inheritable: caps}
}

// bundleSpec is what the bundle is made from.
type bundleSpec struct {
	Handle     string
	RootFS     string // the mounted root (overlay, or the raw directory)
	ReadOnly   bool   // a raw:// root: read-only, tmpfs /tmp and /home
	Privileged bool
	DepotDir   string // hosts and resolv.conf live here
	InitBin    string // the garden binary on the host
	CgroupPath string // absolute, e.g. /garden-t1/<handle>
	BindMounts []garden.BindMount
	Limits     garden.Limits
	Env        []string
	SwapLimit  bool // memsw is available (swap accounting on)
}

func bindOpts(ro bool) []string {
	if ro {
		return []string{"bind", "ro", "nosuid", "nodev"}
	}
	return []string{"bind", "rw", "nosuid", "nodev"}
}

// ociSpec builds the container's config.json.
func ociSpec(b bundleSpec) *specs.Spec {
	hostname := b.Handle
	if len(hostname) > 64 {
		hostname = hostname[:64]
	}
	caps := unprivilegedCaps
	if b.Privileged {
		caps = allCaps()
	}
	initArgs := []string{initPath, listenArg}
	s := &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: b.RootFS, Readonly: b.ReadOnly},
		Process: &specs.Process{
			Args: initArgs, Env: []string{"PATH=" + defaultRootPath}, Cwd: "/",
			Capabilities: capSet(caps),
		},
		Hostname: hostname,
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts",
				Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"rw", "nosuid", "nodev", "noexec", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
			{Destination: initPath, Type: "bind", Source: b.InitBin, Options: []string{"bind", "ro", "nosuid", "nodev"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.MountNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.PIDNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.IPCNamespace},
			},
			CgroupsPath: b.CgroupPath,
			Resources:   resources(b.Limits, b.SwapLimit),
		},
	}
	if b.ReadOnly {
		for _, d := range []string{"tmp", "home"} {
			if info, err := os.Stat(filepath.Join(b.RootFS, d)); err == nil && info.IsDir() {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/" + d, Type: "tmpfs", Source: "tmpfs",
					Options: []string{"nosuid", "nodev", "mode=1777"}})
			}
		}
	}
	for _, f := range []string{hostsName, resolvName} {
		// A read-only root can only take them where the files exist.
		if b.ReadOnly {
			if _, err := os.Stat(filepath.Join(b.RootFS, "etc", f)); err != nil {
				continue
			}
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/etc/" + f, Type: "bind",
			Source: filepath.Join(b.DepotDir, f), Options: bindOpts(false)})
	}
	for _, m := range b.BindMounts {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: filepath.Clean("/" + m.DstPath), Type: "bind",
			Source: m.SrcPath, Options: append(bindOpts(m.Mode == garden.BindMountModeRO), "rbind")})
	}
	if b.Privileged {
		// /dev/fuse, for FUSE file systems in privileged containers.
		s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229,
			FileMode: fileModePtr(0o666), UID: uint32Ptr(0), GID: uint32Ptr(0)}}
		s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, specs.LinuxDeviceCgroup{
			Allow: true, Type: "c", Major: int64Ptr(10), Minor: int64Ptr(229), Access: "rwm"})
		return s
	}
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: idMapBase, Size: idMapSize}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: idMapBase, Size: idMapSize}}
	s.Linux.MaskedPaths = maskedPaths
	s.Linux.ReadonlyPaths = readonlyPaths
	s.Linux.Seccomp = seccompProfile()
	return s
}

// resources are the limits of spec cell §2.8 as runc applies them. The
// pids limit is not here: it is set on the processes' sub-cgroup (see
// cgroups.go), so the init's threads never count against it.
func resources(l garden.Limits, swap bool) *specs.LinuxResources {
	r := &specs.LinuxResources{
		// Guardian's device rules: deny all, then runc's defaults (null,
		// zero, full, random, urandom, tty, ptmx, pts) are added by runc.
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
	}
	if v := l.Memory.LimitInBytes; v > 0 {
		r.Memory = &specs.LinuxMemory{Limit: int64Ptr(int64(v))}
		if swap {
			r.Memory.Swap = int64Ptr(int64(v))
		}
	}
	if shares := cpuShares(l.CPU); shares > 0 {
		r.CPU = &specs.LinuxCPU{Shares: uint64Ptr(max(shares, 2))}
	}
	return r
}

func intPtr(v int) *int                      { return &v }
func int64Ptr(v int64) *int64                { return &v }
func uint32Ptr(v uint32) *uint32             { return &v }
func uint64Ptr(v uint64) *uint64             { return &v }
func fileModePtr(v os.FileMode) *os.FileMode { return &v }
