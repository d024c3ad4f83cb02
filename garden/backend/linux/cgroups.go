package linux

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"diego/garden"
)

// cgroupDriver knows the per-container cgroup "garden/<handle>" in the
// host's hierarchy, v1 (a mount per controller) or v2 (unified). runc
// creates it from the bundle, with the memory and cpu limits; the driver
// reads it, adds the pids limit and removes what runc left.
type cgroupDriver interface {
	// Path is the bundle's cgroupsPath for a handle.
	Path(handle string) string
	// SwapLimit says whether a memory+swap limit can be set (v1 swap
	// accounting, or v2 memory.swap.max).
	SwapLimit() bool
	// ExecCgroup is runc exec's --cgroup for processes ("" = the
	// container's own group).
	ExecCgroup() string
	// Create finishes the cgroup runc made: the pids limit.
	Create(handle string, limits garden.Limits) (cgroup, error)
	// Open finds an existing container's cgroup (after a restart).
	Open(handle string) cgroup
	// Handles lists the containers that have a cgroup, for cleanup.
	Handles() []string
}

type cgroup interface {
	// MoveOutOfMemory puts the init in the memory cgroup's parent, out of
	// the container's OOM killer's reach.
	MoveOutOfMemory(pid int) error
	// ProcessJoins are the cgroup.procs files a process the init started
	// is written to, so it sits where runc exec would have put it: the
	// pids sub-group on v1, and the memory group when the init is out of
	// it.
	ProcessJoins(initOutOfMemory bool) []string
	Procs() ([]int, error)
	OOMKilled() bool
	Stats() (garden.ContainerMemoryStat, garden.ContainerCPUStat, garden.ContainerPidStat)
	Destroy() error
}

// cgroupParentFor is the parent of a garden's container cgroups:
// "garden" as guardian's, or "garden-<tag>" so that two gardens on one host
// (the local cluster's cells) neither share handles' cgroups nor clean up
// each other's.
func cgroupParentFor(tag string) string {
	if tag == "" {
		return "garden"
	}
	return "garden-" + tag
}

// detectCgroups picks the driver for this host, failing clearly when the
// memory or cpu controller is missing. mountinfo is normally
// /proc/self/mountinfo; tests point it elsewhere.
func detectCgroups(mountinfo, tag string) (cgroupDriver, error) {
	mounts, err := cgroupMounts(mountinfo)
	if err != nil {
		return nil, err
	}
	if len(mounts.v1) > 0 {
		var missing []string
		for _, c := range []string{"memory", "cpu"} {
			if mounts.v1[c] == "" {
				missing = append(missing, c)
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("cgroup v1 controller(s) %s not mounted: garden needs memory and cpu (mount them under /sys/fs/cgroup)", strings.Join(missing, ", "))
		}
		return &cgroupsV1{mounts: mounts.v1, all: mounts.all, parent: cgroupParentFor(tag)}, nil
	}
	if mounts.v2 == "" {
		return nil, errors.New("no cgroup filesystem is mounted: garden needs cgroup v1 memory and cpu controllers or a cgroup v2 hierarchy")
	}
	d := &cgroupsV2{root: mounts.v2, parent: cgroupParentFor(tag)}
	return d, d.enable()
}

type mountTable struct {
	v1  map[string]string // controller → mount point
	all []string          // every v1 hierarchy, which runc joins
	v2  string
}

func cgroupMounts(mountinfo string) (mountTable, error) {
	t := mountTable{v1: map[string]string{}}
	f, err := os.Open(mountinfo)
	if err != nil {
		return t, fmt.Errorf("reading mounts: %w", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		// id parent major:minor root mountpoint opts [optional...] - fstype source superopts
		fields := strings.Fields(s.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 4 || len(fields) < sep+3 {
			continue
		}
		mountPoint, fstype, superOpts := fields[4], fields[sep+1], fields[len(fields)-1]
		switch fstype {
		case "cgroup":
			t.all = append(t.all, mountPoint)
			for _, opt := range strings.Split(superOpts, ",") {
				switch opt {
				case "memory", "cpu", "cpuacct", "pids":
					if t.v1[opt] == "" {
						t.v1[opt] = mountPoint
					}
				}
			}
		case "cgroup2":
			// A hybrid host also mounts an empty unified tree; it is used
			// only when there are no v1 controllers.
			if t.v2 == "" || mountPoint == "/sys/fs/cgroup" {
				t.v2 = mountPoint
			}
		}
	}
	return t, s.Err()
}

func readUint(path string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	v, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return v
}

// readKeyValues parses "key value" lines (memory.stat, cpu.stat, …).
func readKeyValues(path string) map[string]uint64 {
	out := map[string]uint64{}
	b, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		if v, err := strconv.ParseUint(f[1], 10, 64); err == nil {
			out[f[0]] = v
		}
	}
	return out
}

func readProcs(path string) ([]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// removeCgroupDir removes a cgroup directory, retrying briefly while the
// kernel finishes tearing down the processes that were in it.
func removeCgroupDir(dir string) error {
	if entries, err := os.ReadDir(dir); err == nil {
		for _, e := range entries {
			if e.IsDir() {
				if err := removeCgroupDir(filepath.Join(dir, e.Name())); err != nil {
					return err
				}
			}
		}
	}
	var err error
	for range 100 {
		err = unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("removing cgroup %s: %w", dir, err)
}

// cpuShares is the spec's rule: weight wins when set (spec cell §2.8).
func cpuShares(l garden.CPULimits) uint64 {
	if l.Weight > 0 {
		return l.Weight
	}
	return l.LimitInShares
}

func memoryTowardLimit(rss, cache, swap, inactiveFile uint64) uint64 {
	total := rss + cache + swap
	if inactiveFile > total {
		return 0
	}
	return total - inactiveFile
}

// cgroupsV1 is a host with one mount per controller.
type cgroupsV1 struct {
	mounts map[string]string
	all    []string
	parent string
}

type cgroupV1 struct {
	dirs map[string]string // controller → this container's directory
	all  []string          // the container's directory in every hierarchy
}

// processesCgroup is the pids sub-cgroup processes run in on v1: the pids
// limit is for the container's processes, not the init's runtime threads
// (decision 11).
const processesCgroup = "processes"

func (d *cgroupsV1) Path(handle string) string { return "/" + d.parent + "/" + handle }

func (d *cgroupsV1) SwapLimit() bool {
	return fileExists(filepath.Join(d.mounts["memory"], "memory.memsw.limit_in_bytes"))
}

func (d *cgroupsV1) ExecCgroup() string {
	if d.mounts["pids"] == "" {
		return ""
	}
	return "pids:" + processesCgroup
}

func (d *cgroupsV1) Open(handle string) cgroup {
	cg := &cgroupV1{dirs: map[string]string{}}
	for controller, mount := range d.mounts {
		cg.dirs[controller] = filepath.Join(mount, d.parent, handle)
	}
	for _, mount := range d.all {
		cg.all = append(cg.all, filepath.Join(mount, d.parent, handle))
	}
	return cg
}

func (d *cgroupsV1) Handles() []string {
	entries, _ := os.ReadDir(filepath.Join(d.mounts["memory"], d.parent))
	var handles []string
	for _, e := range entries {
		if e.IsDir() {
			handles = append(handles, e.Name())
		}
	}
	return handles
}

func (d *cgroupsV1) Create(handle string, limits garden.Limits) (cgroup, error) {
	cg := d.Open(handle).(*cgroupV1)
	if dir := cg.dirs["pids"]; dir != "" {
		sub := filepath.Join(dir, processesCgroup)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return cg, fmt.Errorf("creating cgroup: %w", err)
		}
		if v := limits.Pid.Max; v > 0 {
			if err := writeFile(filepath.Join(sub, "pids.max"), strconv.FormatUint(v, 10)); err != nil {
				return cg, err
			}
		}
	}
	return cg, nil
}

func (cg *cgroupV1) MoveOutOfMemory(pid int) error {
	return writeFile(filepath.Join(filepath.Dir(cg.dirs["memory"]), "cgroup.procs"), strconv.Itoa(pid))
}

func (cg *cgroupV1) ProcessJoins(initOutOfMemory bool) []string {
	var out []string
	if dir := cg.dirs["pids"]; dir != "" {
		out = append(out, filepath.Join(dir, processesCgroup, "cgroup.procs"))
	}
	if initOutOfMemory {
		out = append(out, filepath.Join(cg.dirs["memory"], "cgroup.procs"))
	}
	return out
}

func (cg *cgroupV1) Procs() ([]int, error) {
	return readProcs(filepath.Join(cg.dirs["memory"], "cgroup.procs"))
}

func (cg *cgroupV1) OOMKilled() bool {
	return readKeyValues(filepath.Join(cg.dirs["memory"], "memory.oom_control"))["oom_kill"] > 0
}

func (cg *cgroupV1) Stats() (garden.ContainerMemoryStat, garden.ContainerCPUStat, garden.ContainerPidStat) {
	m := readKeyValues(filepath.Join(cg.dirs["memory"], "memory.stat"))
	mem := garden.ContainerMemoryStat{
		ActiveAnon: m["active_anon"], ActiveFile: m["active_file"], Cache: m["cache"],
		HierarchicalMemoryLimit: m["hierarchical_memory_limit"], InactiveAnon: m["inactive_anon"],
		InactiveFile: m["inactive_file"], MappedFile: m["mapped_file"], Pgfault: m["pgfault"],
		Pgmajfault: m["pgmajfault"], Pgpgin: m["pgpgin"], Pgpgout: m["pgpgout"], Rss: m["rss"],
		TotalActiveAnon: m["total_active_anon"], TotalActiveFile: m["total_active_file"],
		TotalCache: m["total_cache"], TotalInactiveAnon: m["total_inactive_anon"],
		TotalInactiveFile: m["total_inactive_file"], TotalMappedFile: m["total_mapped_file"],
		TotalPgfault: m["total_pgfault"], TotalPgmajfault: m["total_pgmajfault"], TotalPgpgin: m["total_pgpgin"],
		TotalPgpgout: m["total_pgpgout"], TotalRss: m["total_rss"], TotalUnevictable: m["total_unevictable"],
		Unevictable: m["unevictable"], Swap: m["swap"], HierarchicalMemswLimit: m["hierarchical_memsw_limit"],
		TotalSwap: m["total_swap"],
	}
	mem.TotalUsageTowardLimit = memoryTowardLimit(mem.TotalRss, mem.TotalCache, mem.TotalSwap, mem.TotalInactiveFile)

	var cpu garden.ContainerCPUStat
	if dir := cg.dirs["cpuacct"]; dir != "" {
		cpu.Usage = readUint(filepath.Join(dir, "cpuacct.usage"))
		// cpuacct.stat counts USER_HZ (100 Hz) ticks.
		st := readKeyValues(filepath.Join(dir, "cpuacct.stat"))
		cpu.User, cpu.System = st["user"]*uint64(10*time.Millisecond), st["system"]*uint64(10*time.Millisecond)
	}
	var pids garden.ContainerPidStat
	if dir := cg.dirs["pids"]; dir != "" {
		dir = filepath.Join(dir, processesCgroup)
		pids.Current = readUint(filepath.Join(dir, "pids.current"))
		pids.Max = readUint(filepath.Join(dir, "pids.max")) // "max" reads as 0 = unlimited
	}
	return mem, cpu, pids
}

// distinct is the set of directories, skipping the controllers named and
// counting co-mounted ones (cpu,cpuacct) once.
func (cg *cgroupV1) distinct(skip ...string) map[string]bool {
	out := map[string]bool{}
	for controller, dir := range cg.dirs {
		if !contains(skip, controller) {
			out[dir] = true
		}
	}
	return out
}

func (cg *cgroupV1) Destroy() error {
	var errs []error
	dirs := cg.distinct()
	for _, dir := range cg.all {
		dirs[dir] = true
	}
	for dir := range dirs {
		if err := removeCgroupDir(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// cgroupsV2 is a unified hierarchy.
type cgroupsV2 struct {
	root   string
	parent string
}

type cgroupV2 struct {
	dir string
}

// enable turns on the controllers garden uses for its children.
func (d *cgroupsV2) enable() error {
	controllers, err := os.ReadFile(filepath.Join(d.root, "cgroup.controllers"))
	if err != nil {
		return fmt.Errorf("reading cgroup v2 controllers: %w", err)
	}
	have := strings.Fields(string(controllers))
	var missing []string
	for _, c := range []string{"memory", "cpu"} {
		if !contains(have, c) {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("cgroup v2 controller(s) %s not available in %s: garden needs memory and cpu", strings.Join(missing, ", "), d.root)
	}
	parent := filepath.Join(d.root, d.parent)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", parent, err)
	}
	want := "+memory +cpu"
	if contains(have, "pids") {
		want += " +pids"
	}
	for _, dir := range []string{d.root, parent} {
		if err := writeFile(filepath.Join(dir, "cgroup.subtree_control"), want); err != nil {
			return err
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (d *cgroupsV2) Open(handle string) cgroup {
	return &cgroupV2{dir: filepath.Join(d.root, d.parent, handle)}
}

func (d *cgroupsV2) Handles() []string {
	entries, _ := os.ReadDir(filepath.Join(d.root, d.parent))
	var handles []string
	for _, e := range entries {
		if e.IsDir() {
			handles = append(handles, e.Name())
		}
	}
	return handles
}

func (d *cgroupsV2) Path(handle string) string { return "/" + d.parent + "/" + handle }

// SwapLimit needs swap accounting, without which the kernel has no
// memory.swap.max.
func (d *cgroupsV2) SwapLimit() bool {
	return fileExists(filepath.Join(d.root, d.parent, "memory.swap.max"))
}

// ExecCgroup is the container's group on v2, where a process may not sit
// beside a child group: the pids limit counts the init there.
func (d *cgroupsV2) ExecCgroup() string { return "" }

func (d *cgroupsV2) Create(handle string, limits garden.Limits) (cgroup, error) {
	cg := d.Open(handle).(*cgroupV2)
	if v := limits.Pid.Max; v > 0 && fileExists(filepath.Join(cg.dir, "pids.max")) {
		if err := writeFile(filepath.Join(cg.dir, "pids.max"), strconv.FormatUint(v, 10)); err != nil {
			return cg, err
		}
	}
	return cg, nil
}

// sharesToWeight maps v1 cpu.shares [2, 262144] onto v2 cpu.weight
// [1, 10000], as the kernel documentation and runc do.
func sharesToWeight(shares uint64) uint64 {
	shares = min(max(shares, 2), 262144)
	return 1 + ((shares-2)*9999)/262142
}

// MoveOutOfMemory cannot work on v2, whose parent group holds no
// processes of its own.
func (cg *cgroupV2) MoveOutOfMemory(int) error {
	return errors.New("cgroup v2 has no memory group outside the container's for the init")
}

// ProcessJoins is empty on v2: processes share the init's group.
func (cg *cgroupV2) ProcessJoins(bool) []string { return nil }

func (cg *cgroupV2) Procs() ([]int, error) { return readProcs(filepath.Join(cg.dir, "cgroup.procs")) }

func (cg *cgroupV2) OOMKilled() bool {
	return readKeyValues(filepath.Join(cg.dir, "memory.events"))["oom_kill"] > 0
}

func (cg *cgroupV2) Stats() (garden.ContainerMemoryStat, garden.ContainerCPUStat, garden.ContainerPidStat) {
	m := readKeyValues(filepath.Join(cg.dir, "memory.stat"))
	mem := garden.ContainerMemoryStat{
		ActiveAnon: m["active_anon"], ActiveFile: m["active_file"], InactiveAnon: m["inactive_anon"],
		InactiveFile: m["inactive_file"], MappedFile: m["file_mapped"], Pgfault: m["pgfault"],
		Pgmajfault: m["pgmajfault"], Rss: m["anon"], Cache: m["file"], Unevictable: m["unevictable"],
	}
	// v2 has no hierarchical "total_" split: the group's own numbers are
	// its totals.
	mem.TotalActiveAnon, mem.TotalActiveFile = mem.ActiveAnon, mem.ActiveFile
	mem.TotalInactiveAnon, mem.TotalInactiveFile = mem.InactiveAnon, mem.InactiveFile
	mem.TotalRss, mem.TotalCache, mem.TotalMappedFile = mem.Rss, mem.Cache, mem.MappedFile
	mem.TotalPgfault, mem.TotalPgmajfault, mem.TotalUnevictable = mem.Pgfault, mem.Pgmajfault, mem.Unevictable
	mem.Swap = readUint(filepath.Join(cg.dir, "memory.swap.current"))
	mem.TotalSwap = mem.Swap
	mem.TotalUsageTowardLimit = memoryTowardLimit(mem.TotalRss, mem.TotalCache, mem.TotalSwap, mem.TotalInactiveFile)

	st := readKeyValues(filepath.Join(cg.dir, "cpu.stat"))
	cpu := garden.ContainerCPUStat{
		Usage: st["usage_usec"] * 1000, User: st["user_usec"] * 1000, System: st["system_usec"] * 1000,
	}
	pids := garden.ContainerPidStat{
		Current: readUint(filepath.Join(cg.dir, "pids.current")),
		Max:     readUint(filepath.Join(cg.dir, "pids.max")),
	}
	return mem, cpu, pids
}

func (cg *cgroupV2) Destroy() error { return removeCgroupDir(cg.dir) }

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
