// Command diego-local runs a whole diego on this host: embedded etcd and
// NATS, a CA with mutual TLS for the BBS, the BBS, auctioneer, converger,
// metrics-server and receptor, and N cells (garden, executor, rep), each a
// separate process with its own config under the state directory, with one
// merged log. Ctrl-C stops everything in order. It builds nothing: `make
// run` builds the binaries beside it first. See docs/local-cluster.md.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"diego/deploy/local"
)

func main() {
	// `make run | tee run.log`: the Ctrl-C that starts the stop also ends
	// tee. With SIGPIPE notified, a write to the broken stdout fails with
	// EPIPE (which stdout drops) instead of killing the launcher mid-stop,
	// which would leave the gardens' chains and cgroup parents behind.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	stdout := local.NewBrokenPipeWriter(os.Stdout)
	self, _ := os.Executable()
	rootfs := os.Getenv("DIEGO_ROOTFS")
	if rootfs == "" {
		rootfs = "/var/lib/diego/rootfs/busybox"
	}
	stackRootFS := os.Getenv("DIEGO_STACK_ROOTFS")
	if stackRootFS == "" {
		stackRootFS = "/var/lib/diego/rootfs/cflinuxfs"
	}
	stateDir := flag.String("state-dir", "/var/lib/diego/local", "configs, certificates, data, depots and logs")
	cells := flag.Int("cells", 2, fmt.Sprintf("how many cells (garden + executor + rep) to run, 1-%d", local.MaxCells))
	etcd := flag.String("etcd-endpoints", "", "comma-separated URLs of an external etcd (default: an embedded one)")
	etcdTLS := flag.Bool("etcd-tls", false, "the embedded etcd serves https and requires a client certificate from the cluster's CA")
	binDir := flag.String("bin-dir", filepath.Dir(self), "where the daemons' binaries are")
	rootfsDir := flag.String("rootfs", rootfs, "the busybox rootfs: the default rootfs and docker:///busybox (built with deploy/rootfs/build.sh when missing; or $DIEGO_ROOTFS)")
	stackDir := flag.String("stack-rootfs", stackRootFS, "the Debian rootfs of the stacks "+strings.Join(local.DefaultStacks, ", ")+
		" (built with deploy/rootfs/build-stack.sh when missing; or $DIEGO_STACK_ROOTFS)")
	stacks := flag.String("stacks", "", "comma-separated more stacks to offer, each NAME (on -stack-rootfs) or NAME:/abs/rootfs")
	logLevel := flag.String("log-level", "info", "every daemon's log_level: debug, info, warn or error")
	raw := flag.Bool("raw-logs", false, "show the daemons' JSON log lines as they are")
	noColor := flag.Bool("no-color", false, "no colours in the merged log (the default when stdout is not a terminal)")
	keep := flag.Bool("keep-data", false, "keep the embedded etcd's data from the last run (default: start empty)")
	flag.Parse()

	opts := local.Options{Cells: *cells, LogLevel: *logLevel, ETCDTLS: *etcdTLS}
	var err error
	for dst, src := range map[*string]string{&opts.StateDir: *stateDir, &opts.BinDir: *binDir, &opts.RootFS: *rootfsDir, &opts.StackRootFS: *stackDir} {
		if *dst, err = filepath.Abs(src); err != nil {
			fail(2, err)
		}
	}
	if *stacks != "" {
		opts.Stacks = strings.Split(*stacks, ",")
	}
	if *etcd != "" {
		opts.ETCDEndpoints = strings.Split(*etcd, ",")
	}
	plan, err := local.NewPlan(opts)
	if err == nil {
		err = plan.Validate()
	}
	if err != nil {
		fail(2, err)
	}
	if err := local.CheckRoot(); err != nil {
		fail(1, err)
	}
	if err := plan.CheckBinaries(); err != nil {
		fail(1, err)
	}
	if err := plan.EnsureRootFS(stdout); err != nil {
		fail(1, err)
	}

	info, _ := os.Stdout.Stat()
	terminal := info != nil && info.Mode()&os.ModeCharDevice != 0
	log := local.NewMergedLog(stdout, local.LogFormat{Width: len("metrics-server"), Raw: *raw, Color: terminal && !*noColor})
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	cluster := &local.Cluster{Plan: plan, Log: log, Out: stdout, KeepData: *keep}
	if err := cluster.Run(signals); err != nil {
		os.Exit(1)
	}
}

func fail(code int, err error) {
	fmt.Fprintf(os.Stderr, "diego-local: %v\n", err)
	os.Exit(code)
}
