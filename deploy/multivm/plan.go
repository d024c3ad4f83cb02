// Package multivm runs a whole diego deployment on one host with each of
// its VMs in a network namespace of its own: the instance groups of the
// BOSH release's example manifest (deploy/bosh/manifests/diego.yml), with
// every daemon's config rendered from the release's templates by
// test/boshrender, as a BOSH director would. The namespaces share a private
// bridge (in a namespace of its own too), so the manifest's 10.244.0.0/24
// addresses exist only inside namespaces the cluster creates; the host
// reaches the cluster through loopback forwarders.
//
// A cluster can stop a whole VM (its processes, then its namespace) and
// start it again, which is what the HA suite (test/multivm) does under a
// steady workload.
package multivm

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"diego/test/boshrender"
)

// GroupOrder is the order groups start in (and the reverse of the order
// they stop in): stores first, cells last. The cc-bridge group is not run
// (MultiVMOps removes it, decision 112): it needs a Cloud Controller.
var GroupOrder = []string{"etcd", "nats", "database", "brain", "access", "cell"}

// Options say what to run.
type Options struct {
	// StateDir holds each VM's root (its /var/vcap), the generated
	// variables and the logs (absolute).
	StateDir string
	// BinDir holds the daemons' binaries (make build's bin/).
	BinDir string
	// ReleaseDir and Manifest are the BOSH release and the deployment.
	ReleaseDir, Manifest string
	// RootFS is the cells' busybox rootfs (garden's default and the
	// cflinuxfs4 stack).
	RootFS string
	// Prefix names the namespaces (<prefix>-<group>-<index>); a short,
	// unique one per cluster.
	Prefix string
	// LogLevel is every daemon's log_level.
	LogLevel string
	// GardenTag prefixes the cells' garden tags (DefaultGardenTag); two
	// clusters on one host need different ones.
	GardenTag string
	// Ops are more go-patch operations on the manifest, after the
	// cluster's own (MultiVMOps).
	Ops []boshrender.Op
}

// VM is one instance of an instance group: a namespace and its daemons.
type VM struct {
	Group   string
	Index   int
	Address string
	// Namespace is the network namespace's name.
	Namespace string
	// Root stands for the VM's / : its /var/vcap lives under it.
	Root string
	// Daemons in start order.
	Daemons []Daemon
}

// Name is <group>-<index>, as BOSH names instances.
func (v *VM) Name() string { return fmt.Sprintf("%s-%d", v.Group, v.Index) }

// Daemon is one job's process.
type Daemon struct {
	Job        string
	Executable string
	Args       []string
	// Files maps absolute paths (under the VM's root) to their content.
	Files map[string]string
}

// Plan is every VM of the deployment, in start order.
type Plan struct {
	Options
	VMs []*VM
	// Vars are the manifest's generated variables (diego_ca, ...).
	Vars map[string]any
}

// DefaultGardenTag is the tag prefix of the cells' gardens (m0, m1, ...):
// no other suite's gardens use m (decision 19, decision 81).
const DefaultGardenTag = "m"

// GardenNetworkPool is the cells' container network, inside their
// namespaces (decision 81).
const GardenNetworkPool = "10.249.0.0/22"

// MultiVMOps adapt the example manifest to VMs that share one kernel and
// one filesystem: gardens with their own tags (cgroups are global) on a
// unix socket (which the host can reach to destroy containers), the
// given rootfs, and logs at the chosen level.
func MultiVMOps(opts Options) []boshrender.Op {
	level := opts.LogLevel
	if level == "" {
		level = "info"
	}
	ig := func(group, job, prop string, v any) boshrender.Op {
		return boshrender.Op{Type: "replace", Path: "/instance_groups/name=" + group + "/jobs/name=" + job + "/properties/" + prop, Value: v}
	}
	ops := []boshrender.Op{
		ig("cell", "garden", "garden/tag?", opts.GardenTag),
		ig("cell", "garden", "garden/tag_per_instance?", true),
		ig("cell", "garden", "garden/network_pool?", GardenNetworkPool),
		ig("cell", "garden", "garden/default_rootfs?", opts.RootFS),
		ig("cell", "garden", "garden/rootfs_map?", map[string]string{"docker:///busybox": opts.RootFS}),
		ig("cell", "garden", "garden/listen_network?", "unix"),
		ig("cell", "garden", "garden/listen_addr?", "/var/vcap/data/garden/garden.sock"),
		ig("cell", "executor", "executor/garden_network?", "unix"),
		ig("cell", "executor", "executor/garden_addr?", "/var/vcap/data/garden/garden.sock"),
		ig("cell", "rep", "rep/preloaded_root_fs?", []string{"cflinuxfs4:" + opts.RootFS}),
	}
	for group, jobs := range map[string][]string{
		"etcd": {"etcd", "metron"}, "nats": {"nats", "metron"}, "database": {"bbs", "metron"},
		"brain":  {"auctioneer", "converger", "metrics-server", "metron"},
		"access": {"receptor", "route-emitter", "router", "doppler", "metron"}, "cell": {"garden", "executor", "rep", "metron"},
	} {
		for _, job := range jobs {
			prefix := strings.ReplaceAll(job, "-", "_")
			ops = append(ops, ig(group, job, prefix+"?/log_level?", level))
		}
	}
	// The cluster runs every job of the example manifest but the cc-bridge
	// group's, whose daemons call a Cloud Controller the cluster does not
	// have (decision 112).
	ops = append(ops, boshrender.Op{Type: "remove", Path: "/instance_groups/name=cc-bridge"})
	return append(ops, opts.Ops...)
}

// NewPlan renders the manifest for every VM. The variables are generated
// once and kept in StateDir/vars.json, so that a restarted cluster keeps
// its CA.
func NewPlan(opts Options) (*Plan, error) {
	if !filepath.IsAbs(opts.StateDir) || !filepath.IsAbs(opts.RootFS) {
		return nil, errors.New("multivm: StateDir and RootFS must be absolute")
	}
	if opts.GardenTag == "" {
		opts.GardenTag = DefaultGardenTag
	}
	vars, err := loadVars(opts)
	if err != nil {
		return nil, err
	}
	jobs, err := boshrender.Render(opts.ReleaseDir, opts.Manifest, vars, MultiVMOps(opts))
	if err != nil {
		return nil, err
	}
	plan := &Plan{Options: opts, Vars: vars}
	byName := map[string]*VM{}
	for _, j := range jobs {
		name := fmt.Sprintf("%s-%d", j.InstanceGroup, j.Index)
		vm, ok := byName[name]
		if !ok {
			vm = &VM{Group: j.InstanceGroup, Index: j.Index, Address: j.Address,
				Namespace: opts.Prefix + "-" + name, Root: filepath.Join(opts.StateDir, "vms", name)}
			byName[name] = vm
			plan.VMs = append(plan.VMs, vm)
		}
		d, err := daemonOf(vm, j, opts.BinDir)
		if err != nil {
			return nil, err
		}
		vm.Daemons = append(vm.Daemons, d)
	}
	order := map[string]int{}
	for i, g := range GroupOrder {
		order[g] = i + 1
	}
	for _, vm := range plan.VMs {
		if order[vm.Group] == 0 {
			return nil, fmt.Errorf("multivm: instance group %s has no place in GroupOrder", vm.Group)
		}
	}
	sort.SliceStable(plan.VMs, func(a, b int) bool { return order[plan.VMs[a].Group] < order[plan.VMs[b].Group] })
	return plan, nil
}

// Group lists the VMs of one instance group.
func (p *Plan) Group(name string) []*VM {
	var out []*VM
	for _, vm := range p.VMs {
		if vm.Group == name {
			out = append(out, vm)
		}
	}
	return out
}

// Addresses lists the addresses of a group's VMs.
func (p *Plan) Addresses(group string) []string {
	var out []string
	for _, vm := range p.Group(group) {
		out = append(out, vm.Address)
	}
	return out
}

var (
	executableLine = regexp.MustCompile(`(?m)^\s*executable:\s*(\S+)\s*$`)
	argLine        = regexp.MustCompile(`(?m)^\s{6}-\s*(\S+)\s*$`)
)

// daemonOf turns a rendered job into a process of the VM: its files under
// the VM's root, with every /var/vcap/ path in them moved there too, and
// the executable and args of its bpm.yml, from BinDir.
func daemonOf(vm *VM, j boshrender.Job, binDir string) (Daemon, error) {
	rewrite := func(s string) string { return strings.ReplaceAll(s, "/var/vcap/", vm.Root+"/var/vcap/") }
	d := Daemon{Job: j.Job, Files: map[string]string{}}
	for rel, content := range j.Files {
		if rel == "monit" {
			continue
		}
		d.Files[filepath.Join(vm.Root, "var/vcap/jobs", j.Job, rel)] = rewrite(content)
	}
	bpm := j.Files["config/bpm.yml"]
	m := executableLine.FindStringSubmatch(bpm)
	if m == nil {
		return Daemon{}, fmt.Errorf("multivm: job %s's bpm.yml names no executable", j.Job)
	}
	d.Executable = filepath.Join(binDir, filepath.Base(m[1]))
	args := bpm[strings.Index(bpm, "args:"):]
	if end := strings.Index(args, "limits:"); end >= 0 {
		args = args[:end]
	}
	for _, a := range argLine.FindAllStringSubmatch(args, -1) {
		d.Args = append(d.Args, rewrite(a[1]))
	}
	return d, nil
}

func loadVars(opts Options) (map[string]any, error) {
	if err := os.MkdirAll(opts.StateDir, 0o700); err != nil {
		return nil, err
	}
	return loadVarsFile(opts.Manifest, filepath.Join(opts.StateDir, "vars.json"))
}

// loadVarsFile reads the variables in path, generates those of the
// manifest it lacks (all of them the first time; a CA already there signs
// the new certificates), and writes them back when it added any.
func loadVarsFile(manifest, path string) (map[string]any, error) {
	var stored map[string]any
	if data, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(data, &stored)
	}
	defs, err := boshrender.Variables(manifest)
	if err != nil {
		return nil, err
	}
	missing := false
	for _, d := range defs {
		if _, ok := stored[d.Name]; !ok {
			missing = true
		}
	}
	if !missing {
		return stored, nil
	}
	vars, err := boshrender.GenerateMissing(defs, stored)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(vars)
	if err != nil {
		return nil, err
	}
	return vars, os.WriteFile(path, data, 0o600)
}
