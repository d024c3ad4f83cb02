// Package garden is the Garden API shared by our garden server, its client
// and its backends: the wire types of spec cell §2 (JSON keys exactly as
// Diego's Garden client sends and reads them), the Client, Container and
// Process interfaces, and the route table.
//
// The interfaces are the same on both sides of the wire: the server serves a
// Backend, and the client is a Client, so a test can put either behind the
// other.
package garden

import (
	"io"
	"time"
)

//go:generate go tool counterfeiter -generate

//counterfeiter:generate . Client
//counterfeiter:generate . Backend
//counterfeiter:generate . Container
//counterfeiter:generate . Process

// Client is the whole Garden API.
type Client interface {
	Ping() error
	Capacity() (Capacity, error)
	Create(ContainerSpec) (Container, error)
	Destroy(handle string) error
	// Containers lists containers whose properties match every entry of
	// the filter (spec §2.3, garden.state rules included).
	Containers(filter Properties) ([]Container, error)
	BulkInfo(handles []string) (map[string]ContainerInfoEntry, error)
	BulkMetrics(handles []string) (map[string]ContainerMetricsEntry, error)
	// Lookup returns a ContainerNotFoundError for an unknown handle.
	Lookup(handle string) (Container, error)
}

// Backend is what the server serves: the Client API plus the lifecycle
// and the grace time the server's reaper needs.
type Backend interface {
	Client
	// Start prepares the host (and, when configured, destroys or reloads
	// the containers left by a previous run).
	Start() error
	// Stop releases what Start took; containers keep running.
	Stop()
	// GraceTime is the container's idle time before it is reaped (0 =
	// never).
	GraceTime(Container) time.Duration
}

// Container is one container.
type Container interface {
	Handle() string

	// Stop signals every process but the init (spec §2.11).
	Stop(kill bool) error
	Info() (ContainerInfo, error)

	StreamIn(StreamInSpec) error
	StreamOut(StreamOutSpec) (io.ReadCloser, error)

	CurrentBandwidthLimits() (BandwidthLimits, error)
	CurrentCPULimits() (CPULimits, error)
	CurrentDiskLimits() (DiskLimits, error)
	CurrentMemoryLimits() (MemoryLimits, error)

	// NetIn maps a host port to a container port; 0 picks one (spec
	// §2.10) and the ports actually used are returned.
	NetIn(hostPort, containerPort uint32) (uint32, uint32, error)
	NetOut(NetOutRule) error
	BulkNetOut([]NetOutRule) error

	// Run starts a process. Output is copied to the ProcessIO writers;
	// Process.Wait returns only after both have received all of it.
	Run(ProcessSpec, ProcessIO) (Process, error)
	// Attach reconnects to a running or recently exited process.
	Attach(processID string, io ProcessIO) (Process, error)

	Metrics() (Metrics, error)
	SetGraceTime(time.Duration) error

	Properties() (Properties, error)
	Property(name string) (string, error)
	SetProperty(name, value string) error
	RemoveProperty(name string) error
}

// Process is a process running in a container.
type Process interface {
	ID() string
	// Wait blocks until the process has exited and its output is drained.
	Wait() (int, error)
	SetTTY(TTYSpec) error
	Signal(Signal) error
}

// ProcessIO is where a process's stdio goes; nil members are discarded
// (or, for Stdin, an immediately closed stdin).
type ProcessIO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// Signal is the signal a client may send a process.
type Signal int

// The two signals of the protocol (spec §2.6).
const (
	SignalTerminate Signal = 0
	SignalKill      Signal = 1
)

// Properties are a container's string key/value pairs.
type Properties map[string]string

// Property names the backend sets (spec §2.3).
const (
	StateProperty          = "garden.state"
	StateCreated           = "created"
	StateAll               = "all"
	GraceTimeProperty      = "garden.grace-time"
	ContainerIPProperty    = "garden.network.container-ip"
	ContainerIPv6Property  = "garden.network.container-ipv6"
	HostIPProperty         = "garden.network.host-ip"
	ExternalIPProperty     = "garden.network.external-ip"
	MappedPortsProperty    = "garden.network.mapped-ports"
	OutOfMemoryEvent       = "Out of memory"
	ContainerStateActive   = "active"
	ContainerStateStopped  = "stopped"
	DefaultGraceTimeNever  = time.Duration(0)
	DefaultNetworkPool     = "10.254.0.0/22"
	DefaultPortPoolStart   = 61001
	DefaultPortPoolSize    = 4534
	DefaultListenNetwork   = "tcp"
	DefaultListenAddress   = "127.0.0.1:7777"
	DefaultProcessPathRoot = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	DefaultProcessPathUser = "/usr/local/bin:/usr/bin:/bin"
)

// ContainerSpec is the body of POST /containers (spec §2.3).
type ContainerSpec struct {
	Handle     string        `json:"handle,omitempty"`
	GraceTime  time.Duration `json:"grace_time,omitempty"`
	RootFSPath string        `json:"rootfs,omitempty"`
	Image      ImageRef      `json:"image,omitempty"`
	BindMounts []BindMount   `json:"bind_mounts,omitempty"`
	Network    string        `json:"network,omitempty"`
	Properties Properties    `json:"properties,omitempty"`
	Env        []string      `json:"env,omitempty"`
	Privileged bool          `json:"privileged,omitempty"`
	Limits     Limits        `json:"limits,omitempty"`
	NetOut     []NetOutRule  `json:"netout_rules,omitempty"`
	NetIn      []NetInSpec   `json:"netin,omitempty"`
}

// ImageRef names a container's rootfs.
type ImageRef struct {
	URI      string `json:"uri,omitempty"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
}

// BindMountMode is read-only (0) or read-write (1).
type BindMountMode uint8

// BindMountOrigin is the host (0) or the container (1).
type BindMountOrigin uint8

// Bind mount modes and origins.
const (
	BindMountModeRO BindMountMode = 0
	BindMountModeRW BindMountMode = 1

	BindMountOriginHost      BindMountOrigin = 0
	BindMountOriginContainer BindMountOrigin = 1
)

// BindMount mounts SrcPath at DstPath in the container.
type BindMount struct {
	SrcPath string          `json:"src_path,omitempty"`
	DstPath string          `json:"dst_path,omitempty"`
	Mode    BindMountMode   `json:"mode,omitempty"`
	Origin  BindMountOrigin `json:"origin,omitempty"`
}

// NetInSpec is a port mapping requested at create.
type NetInSpec struct {
	HostPort      uint32 `json:"host_port,omitempty"`
	ContainerPort uint32 `json:"container_port,omitempty"`
}

// Limits are the resource limits fixed at create (spec §2.8).
type Limits struct {
	Bandwidth BandwidthLimits `json:"bandwidth_limits,omitempty"`
	CPU       CPULimits       `json:"cpu_limits,omitempty"`
	Disk      DiskLimits      `json:"disk_limits,omitempty"`
	Memory    MemoryLimits    `json:"memory_limits,omitempty"`
	Pid       PidLimits       `json:"pid_limits,omitempty"`
}

// BandwidthLimits are accepted and reported, not enforced.
type BandwidthLimits struct {
	RateInBytesPerSecond      uint64 `json:"rate,omitempty"`
	BurstRateInBytesPerSecond uint64 `json:"burst,omitempty"`
}

// CPULimits set cpu.shares; Weight wins when set.
type CPULimits struct {
	Weight        uint64 `json:"weight,omitempty"`
	LimitInShares uint64 `json:"limit_in_shares,omitempty"`
}

// DiskLimitScope says whether disk limits include the rootfs.
type DiskLimitScope uint8

// Disk limit scopes.
const (
	DiskLimitScopeTotal     DiskLimitScope = 0
	DiskLimitScopeExclusive DiskLimitScope = 1
)

// DiskLimits are accepted and reported; usage is measured, not enforced.
type DiskLimits struct {
	InodeSoft uint64         `json:"inode_soft,omitempty"`
	InodeHard uint64         `json:"inode_hard,omitempty"`
	ByteSoft  uint64         `json:"byte_soft,omitempty"`
	ByteHard  uint64         `json:"byte_hard,omitempty"`
	Scope     DiskLimitScope `json:"scope,omitempty"`
}

// MemoryLimits set the memory cgroup limit.
type MemoryLimits struct {
	LimitInBytes uint64 `json:"limit_in_bytes,omitempty"`
}

// PidLimits set pids.max (0 = unlimited).
type PidLimits struct {
	Max uint64 `json:"max,omitempty"`
}

// ProcessLimits override container limits for one process (accepted,
// ignored: spec §2.13).
type ProcessLimits struct {
	CPU    CPULimits    `json:"cpu_limits,omitempty"`
	Memory MemoryLimits `json:"memory_limits,omitempty"`
}

// Protocol is a NetOutRule's protocol.
type Protocol uint8

// NetOut protocols (spec §2.3).
const (
	ProtocolAll    Protocol = 0
	ProtocolTCP    Protocol = 1
	ProtocolUDP    Protocol = 2
	ProtocolICMP   Protocol = 3
	ProtocolICMPv6 Protocol = 4
)

// NetOutRule allows egress to networks and ports.
type NetOutRule struct {
	Protocol Protocol     `json:"protocol,omitempty"`
	Networks []IPRange    `json:"networks,omitempty"`
	Ports    []PortRange  `json:"ports,omitempty"`
	ICMPs    *ICMPControl `json:"icmps,omitempty"`
	Log      bool         `json:"log,omitempty"`
}

// IPRange is an inclusive range of IPv4 addresses, as dotted quads.
type IPRange struct {
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

// PortRange is an inclusive port range.
type PortRange struct {
	Start uint16 `json:"start,omitempty"`
	End   uint16 `json:"end,omitempty"`
}

// ICMPControl matches an ICMP type and, optionally, code.
type ICMPControl struct {
	Type uint8  `json:"type"`
	Code *uint8 `json:"code,omitempty"`
}

// ProcessSpec is the body of POST …/processes (spec §2.5).
type ProcessSpec struct {
	ID     string         `json:"id,omitempty"`
	Path   string         `json:"path,omitempty"`
	Args   []string       `json:"args,omitempty"`
	Env    []string       `json:"env,omitempty"`
	Dir    string         `json:"dir,omitempty"`
	User   string         `json:"user,omitempty"`
	Limits ResourceLimits `json:"rlimits,omitempty"`
	// OverrideContainerLimits are a pea's own memory and cpu limits.
	OverrideContainerLimits *ProcessLimits `json:"limits,omitempty"`
	TTY                     *TTYSpec       `json:"tty,omitempty"`
	// Image makes the process a pea (a sidecar with its own root, pid
	// namespace and cgroup); BindMounts are refused.
	Image      ImageRef    `json:"image,omitempty"`
	BindMounts []BindMount `json:"bind_mounts,omitempty"`
}

// ResourceLimits are a process's rlimits; nil means inherit.
type ResourceLimits struct {
	As         *uint64 `json:"as,omitempty"`
	Core       *uint64 `json:"core,omitempty"`
	Cpu        *uint64 `json:"cpu,omitempty"`
	Data       *uint64 `json:"data,omitempty"`
	Fsize      *uint64 `json:"fsize,omitempty"`
	Locks      *uint64 `json:"locks,omitempty"`
	Memlock    *uint64 `json:"memlock,omitempty"`
	Msgqueue   *uint64 `json:"msgqueue,omitempty"`
	Nice       *uint64 `json:"nice,omitempty"`
	Nofile     *uint64 `json:"nofile,omitempty"`
	Nproc      *uint64 `json:"nproc,omitempty"`
	Rss        *uint64 `json:"rss,omitempty"`
	Rtprio     *uint64 `json:"rtprio,omitempty"`
	Sigpending *uint64 `json:"sigpending,omitempty"`
	Stack      *uint64 `json:"stack,omitempty"`
}

// TTYSpec asks for a pty (stdout and stderr merged) of a window size.
type TTYSpec struct {
	WindowSize *WindowSize `json:"window_size,omitempty"`
}

// WindowSize is a terminal's size.
type WindowSize struct {
	Columns uint16 `json:"columns,omitempty"`
	Rows    uint16 `json:"rows,omitempty"`
}

// StreamInSpec streams a tar into Path (spec §2.7).
type StreamInSpec struct {
	Path      string
	User      string
	TarStream io.Reader
}

// StreamOutSpec streams Path out as a tar (spec §2.7).
type StreamOutSpec struct {
	Path string
	User string
}

// Capacity is GET /capacity.
type Capacity struct {
	MemoryInBytes          uint64 `json:"memory_in_bytes,omitempty"`
	DiskInBytes            uint64 `json:"disk_in_bytes,omitempty"`
	SchedulableDiskInBytes uint64 `json:"schedulable_disk_in_bytes,omitempty"`
	MaxContainers          uint64 `json:"max_containers,omitempty"`
}

// ContainerInfo is GET …/info; Garden's struct has no JSON tags, so the keys
// are the field names.
type ContainerInfo struct {
	State         string
	Events        []string
	HostIP        string
	ContainerIP   string
	ContainerIPv6 string
	ExternalIP    string
	ContainerPath string
	ProcessIDs    []string
	Properties    Properties
	MappedPorts   []PortMapping
}

// PortMapping is one NetIn mapping.
type PortMapping struct {
	HostPort      uint32
	ContainerPort uint32
}

// ContainerInfoEntry is one handle's answer in BulkInfo.
type ContainerInfoEntry struct {
	Info ContainerInfo
	Err  *Error
}

// ContainerMetricsEntry is one handle's answer in BulkMetrics.
type ContainerMetricsEntry struct {
	Metrics Metrics
	Err     *Error
}

// Metrics is GET …/metrics (spec §2.9).
type Metrics struct {
	MemoryStat     ContainerMemoryStat
	CPUStat        ContainerCPUStat
	DiskStat       ContainerDiskStat
	NetworkStat    *ContainerNetworkStat
	PidStat        ContainerPidStat
	Age            time.Duration
	CPUEntitlement uint64
}

// ContainerMemoryStat mirrors cgroup v1 memory.stat.
type ContainerMemoryStat struct {
	ActiveAnon              uint64 `json:"active_anon"`
	ActiveFile              uint64 `json:"active_file"`
	Cache                   uint64 `json:"cache"`
	HierarchicalMemoryLimit uint64 `json:"hierarchical_memory_limit"`
	InactiveAnon            uint64 `json:"inactive_anon"`
	InactiveFile            uint64 `json:"inactive_file"`
	MappedFile              uint64 `json:"mapped_file"`
	Pgfault                 uint64 `json:"pgfault"`
	Pgmajfault              uint64 `json:"pgmajfault"`
	Pgpgin                  uint64 `json:"pgpgin"`
	Pgpgout                 uint64 `json:"pgpgout"`
	Rss                     uint64 `json:"rss"`
	TotalActiveAnon         uint64 `json:"total_active_anon"`
	TotalActiveFile         uint64 `json:"total_active_file"`
	TotalCache              uint64 `json:"total_cache"`
	TotalInactiveAnon       uint64 `json:"total_inactive_anon"`
	TotalInactiveFile       uint64 `json:"total_inactive_file"`
	TotalMappedFile         uint64 `json:"total_mapped_file"`
	TotalPgfault            uint64 `json:"total_pgfault"`
	TotalPgmajfault         uint64 `json:"total_pgmajfault"`
	TotalPgpgin             uint64 `json:"total_pgpgin"`
	TotalPgpgout            uint64 `json:"total_pgpgout"`
	TotalRss                uint64 `json:"total_rss"`
	TotalUnevictable        uint64 `json:"total_unevictable"`
	Unevictable             uint64 `json:"unevictable"`
	Swap                    uint64 `json:"swap"`
	HierarchicalMemswLimit  uint64 `json:"hierarchical_memsw_limit"`
	TotalSwap               uint64 `json:"total_swap"`
	// TotalUsageTowardLimit is total_rss + total_cache + total_swap −
	// total_inactive_file, floored at 0 (spec §2.9).
	TotalUsageTowardLimit uint64
}

// ContainerCPUStat is cumulative CPU time in nanoseconds.
type ContainerCPUStat struct {
	Usage  uint64
	User   uint64
	System uint64
}

// ContainerDiskStat is disk usage; diego measures the overlay upper dir.
type ContainerDiskStat struct {
	TotalBytesUsed      uint64
	TotalInodesUsed     uint64
	ExclusiveBytesUsed  uint64
	ExclusiveInodesUsed uint64
}

// ContainerNetworkStat counts the container interface's traffic.
type ContainerNetworkStat struct {
	RxBytes uint64
	TxBytes uint64
}

// ContainerPidStat is the pids cgroup's count and limit.
type ContainerPidStat struct {
	Current uint64
	Max     uint64
}
