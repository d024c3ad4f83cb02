// Command diego-multivm runs the BOSH release's example deployment with
// each VM in a network namespace of its own (docs/deploy.md), until
// SIGINT or SIGTERM; `diego-multivm render` renders one instance's configs
// for a plain VM (deploy/vm/install.sh).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"diego/deploy/multivm"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "render" {
		os.Exit(render(os.Args[2:]))
	}
	os.Exit(run())
}

func run() int {
	self, _ := os.Executable()
	var opts multivm.Options
	flag.StringVar(&opts.StateDir, "state-dir", "/var/lib/diego/multivm", "VM roots, generated certificates and logs")
	flag.StringVar(&opts.BinDir, "bin-dir", filepath.Dir(self), "the daemons' binaries")
	flag.StringVar(&opts.ReleaseDir, "release", "deploy/bosh", "the BOSH release directory")
	flag.StringVar(&opts.Manifest, "manifest", "deploy/bosh/manifests/diego.yml", "the deployment manifest")
	flag.StringVar(&opts.RootFS, "rootfs", "/var/lib/diego/rootfs/busybox", "the cells' rootfs")
	flag.StringVar(&opts.LogLevel, "log-level", "info", "every daemon's log_level")
	flag.StringVar(&opts.Prefix, "prefix", "dmv", "the network namespaces' name prefix")
	flag.StringVar(&opts.GardenTag, "garden-tag", multivm.DefaultGardenTag, "the cells' garden tag prefix (cgroups are shared by every cluster on the host)")
	receptorAddr := flag.String("receptor", "127.0.0.1:8887", "host loopback address forwarded to any receptor")
	routerAddr := flag.String("router", "127.0.0.1:8081", "host loopback address forwarded to any router")
	verbose := flag.Bool("v", false, "print every daemon's output")
	flag.Parse()

	plan, err := multivm.NewPlan(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "diego-multivm:", err)
		return 1
	}
	var out *os.File
	if *verbose {
		out = os.Stdout
	}
	cluster := multivm.New(plan, out)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	fmt.Println("starting", len(plan.VMs), "VMs; logs in", filepath.Join(opts.StateDir, "logs"))
	started := make(chan error, 1)
	go func() { started <- cluster.Start() }()
	select {
	case err := <-started:
		if err != nil {
			fmt.Fprintln(os.Stderr, "diego-multivm:", err)
			return 1
		}
	case <-signals:
		fmt.Println("stopping")
		cluster.Abort()
		fmt.Fprintln(os.Stderr, "diego-multivm:", <-started)
		return 1
	}
	fwd, err := cluster.Forward(*receptorAddr, hostPorts(plan.Addresses("access"), "8887")...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "diego-multivm:", err)
		_ = cluster.Stop()
		return 1
	}
	rfwd, err := cluster.Forward(*routerAddr, hostPorts(plan.Addresses("access"), "8081")...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "diego-multivm:", err)
		_ = fwd.Close()
		_ = cluster.Stop()
		return 1
	}
	for _, vm := range plan.VMs {
		fmt.Printf("  %-12s %-13s netns %s\n", vm.Name(), vm.Address, vm.Namespace)
	}
	fmt.Printf("ready: the receptor API at http://%s and the routers at http://%s (any access VM); `ip netns exec %s ...` reaches every VM\n",
		fwd.Addr(), rfwd.Addr(), cluster.DriverNS())
	<-signals
	fmt.Println("stopping")
	_ = fwd.Close()
	_ = rfwd.Close()
	if err := cluster.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "diego-multivm: stopping:", err)
		return 1
	}
	return 0
}

func hostPorts(hosts []string, port string) []string {
	out := make([]string, len(hosts))
	for i, h := range hosts {
		out[i] = h + ":" + port
	}
	return out
}

func render(args []string) int {
	fs := flag.NewFlagSet("render", flag.ExitOnError)
	release := fs.String("release", "deploy/bosh", "the BOSH release directory")
	manifest := fs.String("manifest", "deploy/bosh/manifests/diego.yml", "the deployment manifest")
	vars := fs.String("vars", "vars.json", "the manifest's variables (generated here when missing; keep it secret)")
	group := fs.String("group", "", "the instance group (etcd, nats, database, brain, access, cell)")
	index := fs.Int("index", 0, "the instance's index in its group")
	out := fs.String("out", "", "where to write etc/diego/<job>/...")
	_ = fs.Parse(args)
	if *group == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: diego-multivm render -group G -index I -out DIR [-vars FILE] [-manifest M] [-release R]")
		return 2
	}
	jobs, err := multivm.RenderInstance(*release, *manifest, *vars, *group, *index, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "diego-multivm render:", err)
		return 1
	}
	fmt.Println(jobs)
	return 0
}
