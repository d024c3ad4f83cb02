package linux

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"diego/garden"
)

// A pea is a process with its own image (ProcessSpec.Image), as guardian
// runs sidecars: its own runc container with its own mount, pid, uts and
// ipc namespaces, root filesystem and cgroup, sharing the sandbox's network
// and user namespaces. garden-dadoo runs it with `runc run`
// instead of `runc exec`; it is removed when its process exits and killed
// with its sandbox (decision 29).
type pea struct {
	id     string // the process id, which BulkMetrics takes as a handle
	name   string // runc id and cgroup name: the sandbox's handle + ".pea-" + a uuid
	dir    string // bundle: config.json, upper, work, pid, exitcode
	root   string // the root's mount point
	cg     cgroup
	rootfs string
}

const peasDirName = "peas"

// newPea builds a pea's bundle; the caller runs it with garden-dadoo.
func (c *container) newPea(id, name string, spec garden.ProcessSpec, shimEnv string, rlimits []specs.POSIXRlimit) (_ *pea, err error) {
	c.mu.Lock()
	privileged, initPid, limits := c.privileged, c.initPid, c.limits
	c.mu.Unlock()
	rootfs, readOnly, err := c.b.resolveRootFS(garden.ContainerSpec{Image: spec.Image})
	if err != nil {
		return nil, fmt.Errorf("pea image: %w", err)
	}
	p := &pea{id: id, name: name, dir: filepath.Join(c.dir, peasDirName, name), root: filepath.Join(c.b.runDir, runcID(name)),
		rootfs: rootfs, cg: c.b.cgroups.Open(name)}
	defer func() {
		if err != nil {
			_ = p.remove(c.b)
		}
	}()
	for _, d := range []string{upperDirName, workDirName} {
		if err := os.MkdirAll(filepath.Join(p.dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.Chown(filepath.Join(p.dir, upperDirName), hostID(privileged, 0), hostID(privileged, 0)); err != nil {
		return nil, err
	}
	lower := rootfs
	if !privileged && !readOnly {
		if lower, err = c.b.shifted.get(rootfs); err != nil {
			return nil, err
		}
	}
	if err = mountRoot(p.root, p.dir, lower, readOnly); err != nil {
		return nil, err
	}
	if o := spec.OverrideContainerLimits; o != nil {
		limits.Memory, limits.CPU = o.Memory, o.CPU
	}
	bundle := ociSpec(bundleSpec{
		Handle: c.handle, RootFS: p.root, ReadOnly: readOnly, Privileged: privileged, DepotDir: c.dir,
		InitBin: c.b.cfg.InitBin, CgroupPath: c.b.cgroups.Path(name), Limits: limits, SwapLimit: c.b.cgroups.SwapLimit(),
	})
	bundle.Process.Args = []string{initPath, execArg}
	bundle.Process.Env = []string{shimEnv}
	bundle.Process.Rlimits = rlimits
	// The sandbox's network namespace, and its user namespace, which owns
	// that network namespace (sysfs may only be mounted by its owner).
	for i, ns := range bundle.Linux.Namespaces {
		switch ns.Type {
		case specs.NetworkNamespace:
			bundle.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/net", initPid)
		case specs.UserNamespace:
			bundle.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/user", initPid)
		}
	}
	if err := writeJSON(filepath.Join(p.dir, "config.json"), bundle); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.peas[name] = p
	c.mu.Unlock()
	return p, nil
}

// remove deletes the pea's runc container, cgroup, root and bundle.
func (p *pea) remove(b *Backend) error {
	var errs []error
	if err := b.runc.delete(runcID(p.name)); err != nil {
		errs = append(errs, err)
	}
	if err := p.cg.Destroy(); err != nil {
		errs = append(errs, err)
	}
	if err := unmountRoot(p.root); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(p.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// removePeas kills and removes every pea of the container (at destroy).
func (c *container) removePeas() error {
	c.mu.Lock()
	peas := make([]*pea, 0, len(c.peas))
	for _, p := range c.peas {
		peas = append(peas, p)
	}
	c.mu.Unlock()
	var errs []error
	for _, p := range peas {
		errs = append(errs, p.remove(c.b))
	}
	// A pea a previous garden started: its bundle is all that says so.
	entries, _ := os.ReadDir(filepath.Join(c.dir, peasDirName))
	for _, e := range entries {
		known := false
		for _, p := range peas {
			known = known || p.name == e.Name()
		}
		if !known {
			left := &pea{name: e.Name(), dir: filepath.Join(c.dir, peasDirName, e.Name()),
				root: filepath.Join(c.b.runDir, runcID(e.Name())), cg: c.b.cgroups.Open(e.Name())}
			errs = append(errs, left.remove(c.b))
		}
	}
	return errors.Join(errs...)
}

// peaMetrics finds a pea by its process id, for BulkMetrics.
func (b *Backend) peaMetrics(id string) (garden.Metrics, bool) {
	b.mu.Lock()
	var found *pea
	var owner *container
	for _, c := range b.containers {
		c.mu.Lock()
		for _, p := range c.peas {
			if p.id == id {
				found, owner = p, c
			}
		}
		c.mu.Unlock()
	}
	b.mu.Unlock()
	if found == nil {
		return garden.Metrics{}, false
	}
	mem, cpu, pids := found.cg.Stats()
	bytes, inodes := diskUsage(filepath.Join(found.dir, upperDirName))
	owner.mu.Lock()
	age := b.clock.Since(owner.createdAt)
	owner.mu.Unlock()
	return garden.Metrics{
		MemoryStat: mem, CPUStat: cpu, PidStat: pids, Age: age,
		DiskStat: garden.ContainerDiskStat{TotalBytesUsed: bytes, TotalInodesUsed: inodes, ExclusiveBytesUsed: bytes, ExclusiveInodesUsed: inodes},
	}, true
}
