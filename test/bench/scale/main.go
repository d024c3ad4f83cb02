// Command scale is the memory and scale benchmark of issue 21 (item 5): one
// BBS with its record cache, over the embedded etcd the other benchmarks
// use, holding 25,000 desired LRPs × 10 instances = 250,000 RUNNING actual
// LRPs over 1,000 cells (250 each: Diego's sizing figure of 1,000 cells and
// 250k LRPs). It reports the seeding time, the BBS's start (the cache's
// load), the per-cell fetch as the reps do it (B5's shape: a few cells at a
// time, every cell once), a convergence pass, and the BBS's resident set.
// The anchor is the raw etcd read of a cell's records, done the same way.
// A first, separate phase measures the resident set of the rep binary
// (cmd/rep, over an in-memory executor served through the executor API by
// repcell) and of a simulated cell, each holding 250 containers.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	bbsclient "diego/bbs/client"
	"diego/bbs/db/etcddb"
	"diego/bbs/lock"
	"diego/deploy/cluster"
	"diego/deploy/config"
	"diego/models"
	"diego/test/bench/benchutil"
	"diego/test/ports"
	"diego/test/simrep"
)

const (
	instances   = 10
	perCellLRPs = 250
	// cellReaders is how many reps fetch their cell at once (as B5).
	cellReaders = 4
	// The targets of issue 21 item 5.
	fetchP99Limit = 50.0 // ms
	convergeLimit = 5 * time.Second
	rssLimitMB    = 4096.0
	// repContainers is the rep phase's container count.
	repContainers = 250
	domain        = "cf-apps"
)

func main() {
	desired := 25000
	if v := os.Getenv("BENCH_SCALE_DESIRED"); v != "" { // a smaller store, to try the harness quickly
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 || n%100 != 0 {
			benchutil.Fatal("BENCH_SCALE_DESIRED=%q: want a multiple of 100", v)
		}
		desired = n
	}
	cells := desired * instances / perCellLRPs
	benchStart := time.Now()
	rep := repPhase()

	etcd := benchutil.StartEtcd()
	defer etcd.Stop()
	raw := etcd.Raw
	ctx := context.Background()
	keys := etcddb.NewKeys("/diego")
	t := time.Now()
	// Desired i's instance j runs on cell (10i + j) mod cells: each cell holds
	// perCellLRPs instances and no desired LRP has two on one cell.
	benchutil.SeedLRPs(ctx, raw, keys, benchutil.LRPSeed{Desired: desired, Instances: instances, Domain: domain, Ports: []uint32{8080},
		Cell: func(i int, j int32) string { return cellID((i*instances + int(j)) % cells) }})
	seedTime := time.Since(t)
	etcdStatus, err := raw.Status(ctx, etcd.ClientURL())
	if err != nil {
		benchutil.Fatal("%v", err)
	}

	benchutil.BBSStartTimeout = 5 * time.Minute
	bbs := benchutil.StartBBS(etcd.ClientURL(), benchutil.DebugConfig)
	defer bbs.Stop()
	rssLoaded := bbs.RSSMB()
	c := bbs.Client
	if err := c.UpsertDomain(ctx, domain, 0); err != nil {
		benchutil.Fatal("%v", err)
	}

	// Per-cell fetch, every cell once, cellReaders at a time; then the raw
	// etcd read of the same records the same way.
	profiled := profile("fetch", 10)
	perCell := fetchCells(cells, func(cell string) int {
		lrps, err := c.ActualLRPs(ctx, bbsclient.ActualLRPFilter{CellID: cell})
		if err != nil {
			benchutil.Fatal("%s: %v", cell, err)
		}
		return len(lrps)
	})
	profiled()
	rssFetched := bbs.RSSMB()
	rawPerCell := fetchCells(cells, func(cell string) int { return benchutil.RawCellRead(ctx, raw, keys, cell) })

	// Convergence passes over all of it (the converger's call): every cell
	// present and every instance RUNNING where it should be, so a pass is
	// the gather and the decisions, and writes nothing (checked).
	for i := 0; i < cells; i++ {
		presence, _ := json.Marshal(&models.CellPresence{CellId: cellID(i), RepAddress: "http://127.0.0.1:1", RepUrl: "http://127.0.0.1:1", Zone: "z1",
			Capacity: &models.CellCapacity{MemoryMb: 1 << 20, DiskMb: 1 << 20, Containers: 1000}})
		if _, err := raw.Put(ctx, lock.PresenceKey(lock.DefaultRoot, cellID(i)), string(presence)); err != nil {
			benchutil.Fatal("%v", err)
		}
	}
	before := revision(ctx, raw)
	var passes []float64
	profiled = profile("converge", 30)
	for i := 0; i < 3; i++ {
		t := time.Now()
		if err := c.ConvergeLRPs(ctx); err != nil {
			benchutil.Fatal("converging: %v", err)
		}
		passes = append(passes, ms(time.Since(t)))
	}
	profiled()
	convergeWrites := revision(ctx, raw) - before
	converge := slices.Clone(passes)
	slices.Sort(converge)
	convergeMedian := converge[1]

	rss, peak := bbs.RSSMB(), bbs.PeakRSSMB()
	heapProfile()
	p99, rawP99 := perCell.Percentile(99), rawPerCell.Percentile(99)
	benchutil.Result{
		Bench: "scale", Value: p99, Unit: fmt.Sprintf("ms per-cell fetch p99 (%d of %d actual LRPs)", perCellLRPs, desired*instances),
		Anchor: "etcd-per-cell-raw-p99", AnchorValue: rawP99, Ratio: rawP99 / p99, Target: 0,
		Pass: p99 < fetchP99Limit && convergeMedian < ms(convergeLimit) && convergeWrites == 0 && rss < rssLimitMB && peak < rssLimitMB &&
			rep.ok,
		P50ms: perCell.Percentile(50), P99ms: p99,
		Conditions: map[string]any{
			"desired": desired, "instances_per_desired": instances, "actual": desired * instances, "cells": cells,
			"concurrent_cell_readers": cellReaders, "per_cell_raw_p50_ms": rawPerCell.Percentile(50),
			"seed_s": seedTime.Seconds(), "seed_keys": desired * (3 + 2*instances), "etcd_db_mb": float64(etcdStatus.DbSize) / (1 << 20),
			"bbs_ready_s": bbs.Ready.Seconds(), "bbs_rss_mb_loaded": rssLoaded, "bbs_rss_mb_after_fetch": rssFetched,
			"convergence_pass_ms": passes, "convergence_median_ms": convergeMedian, "convergence_writes": convergeWrites,
			"bbs_rss_mb": rss, "bbs_peak_rss_mb": peak, "harness_rss_mb": benchutil.SelfRSSMB(),
			"rep_containers": repContainers, "rep_rss_mb_idle": rep.idleMB, "rep_rss_mb": rep.fullMB, "rep_peak_rss_mb": rep.peakMB,
			"rep_bin_rss_mb_idle": rep.binIdleMB, "rep_bin_rss_mb": rep.binFullMB, "rep_bin_peak_rss_mb": rep.binPeakMB,
			"rep_bin_executor_rss_mb_idle": rep.execIdleMB, "rep_bin_executor_rss_mb": rep.execFullMB,
			"rep_fill_s": rep.fill.Seconds(), "total_s": time.Since(benchStart).Seconds(),
			"targets":        "per-cell p99 < 50 ms, convergence median of 3 passes < 5 s with no writes, BBS RSS and peak < 4 GiB; ratio is raw ÷ API (informational)",
			"rep_note":       "the real rep code (test/simrep) with the in-memory executor in the same process (repcell), 250 LRP instances placed by the real auctioneer; the deployed rep reaches its executor over HTTP, so this bounds the rep from above",
			"rep_bin_note":   "the rep binary (cmd/rep, as deployed) beside it, its executor the in-memory one served through the real executor API by another process (repexec); 250 instances each",
			"bbs_ready_note": "process start → first ping: the record cache's initial load of the store",
		},
	}.Print()
}

// profile starts a CPU profile of the BBS, of the given length, for a phase
// when BENCH_SCALE_PROFILE_DIR is set (with BENCH_PPROF naming the BBS's
// debug address); the returned func waits for it and writes
// <dir>/<phase>.cpu.pprof. A phase that outlasts it is profiled in part.
func profile(phase string, seconds int) (wait func()) {
	dir, addr := os.Getenv("BENCH_SCALE_PROFILE_DIR"), os.Getenv("BENCH_PPROF")
	if dir == "" || addr == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fetchProfile(context.Background(), fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, seconds), filepath.Join(dir, phase+".cpu.pprof"))
	}()
	time.Sleep(100 * time.Millisecond) // the profile has started
	return func() { <-done }
}

// heapProfile writes the BBS's heap profile to the profile dir, if set.
func heapProfile() {
	dir, addr := os.Getenv("BENCH_SCALE_PROFILE_DIR"), os.Getenv("BENCH_PPROF")
	if dir != "" && addr != "" {
		fetchProfile(context.Background(), "http://"+addr+"/debug/pprof/heap", filepath.Join(dir, "heap.pprof"))
	}
}

func fetchProfile(ctx context.Context, url, path string) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(os.Stderr, "scale: profile %s: %v\n", url, err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if err := os.WriteFile(path, body, 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "scale: %v\n", err)
	}
}

func cellID(i int) string { return fmt.Sprintf("cell-%04d", i) }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// fetchCells reads every cell once with cellReaders readers and records
// each read's latency; read returns how many records it got.
func fetchCells(cells int, read func(cell string) int) *benchutil.Latencies {
	var lat benchutil.Latencies
	ch := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < cellReaders; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ch {
				t := time.Now()
				if n := read(cellID(i)); n != perCellLRPs {
					benchutil.Fatal("%s: %d records, want %d", cellID(i), n, perCellLRPs)
				}
				lat.Add(time.Since(t))
			}
		}()
	}
	for i := 0; i < cells; i++ {
		ch <- i
	}
	close(ch)
	wg.Wait()
	return &lat
}

func revision(ctx context.Context, raw *clientv3.Client) int64 {
	resp, err := raw.Get(ctx, "/diego/none")
	if err != nil {
		benchutil.Fatal("%v", err)
	}
	return resp.Header.Revision
}

type repFigures struct {
	idleMB, fullMB, peakMB float64
	// The rep binary's, and its in-memory executor's process.
	binIdleMB, binFullMB, binPeakMB, execIdleMB, execFullMB float64
	fill                                                    time.Duration
	ok                                                      bool
}

// repPhase runs its own etcd, BBS and auctioneer, a simulated cell in its
// own process (repcell) and the rep binary over repcell's executor mode,
// desires 50 LRPs × 10 instances onto the two, and reads the processes'
// resident sets idle and once each cell has 250 RUNNING.
func repPhase() repFigures {
	etcd := benchutil.StartEtcd()
	defer etcd.Stop()
	endpoints := []string{etcd.ClientURL()}
	bbs := benchutil.StartBBS(etcd.ClientURL())
	defer bbs.Stop()
	defer benchutil.StartAuctioneer(etcd.ClientURL(), bbs.URL).Stop()
	const cell, binCell = "rep-cell", "rep-bin"
	rc := benchutil.StartPackage("diego/test/bench/scale/repcell", "repcell", benchutil.RepCellConfig{
		CellID: cell, Zone: "z1", ETCDEndpoints: endpoints, BBSAddress: bbs.URL,
		MemoryMB: 64 * 1024, DiskMB: 64 * 1024, Containers: repContainers, PresenceTTL: 15,
	})
	defer rc.Stop()
	// The real rep binary beside it, over the same kind of in-memory
	// executor served through the real executor API.
	execAddr := ports.Addr()
	ex := benchutil.StartPackage("diego/test/bench/scale/repcell", "repexec", benchutil.RepCellConfig{
		MemoryMB: 64 * 1024, DiskMB: 64 * 1024, Containers: repContainers, ExecutorListen: execAddr,
	})
	defer ex.Stop()
	m := cluster.Maker{ETCD: config.ETCD{Endpoints: endpoints}, BBSURL: bbs.URL, LogLevel: "error",
		Stacks: map[string]string{simrep.Stack: "/var/lib/diego/rootfs/" + simrep.Stack}}
	rb := benchutil.StartBinary("rep", m.Rep(cluster.Cell{ID: binCell, Zone: "z1", ExecutorAddr: execAddr, RepAddr: ports.Addr()}))
	defer rb.Stop()
	ctx := context.Background()
	c := bbs.Client
	benchutil.WaitFor(60*time.Second, 100*time.Millisecond, "both reps' presences", func() bool {
		cs, err := c.Cells(ctx)
		return err == nil && len(cs) == 2
	})
	raw := etcd.Raw
	benchutil.WaitFor(30*time.Second, 100*time.Millisecond, "the auctioneer's lock", func() bool {
		resp, err := raw.Get(ctx, "/diego/v1/locks/auctioneer")
		return err == nil && len(resp.Kvs) == 1
	})
	f := repFigures{idleMB: rc.RSSMB(), binIdleMB: rb.RSSMB(), execIdleMB: ex.RSSMB()}
	if err := c.UpsertDomain(ctx, "apps", 0); err != nil {
		benchutil.Fatal("%v", err)
	}
	start := time.Now()
	for p := 0; p < 2*repContainers/instances; p++ { // fills both cells
		err := c.DesireLRP(ctx, &models.DesiredLRP{ProcessGuid: fmt.Sprintf("rep-pg-%02d", p), Domain: "apps",
			RootFs: "preloaded:" + simrep.Stack, Instances: instances, MemoryMb: 128, DiskMb: 128, Ports: []uint32{8080},
			Action: models.WrapAction(&models.RunAction{Path: "/bin/server", User: "vcap"})})
		if err != nil {
			benchutil.Fatal("desiring rep-pg-%02d: %v", p, err)
		}
	}
	benchutil.WaitFor(60*time.Second, 100*time.Millisecond, "250 instances RUNNING on each rep", func() bool {
		return running(ctx, c, cell) == repContainers && running(ctx, c, binCell) == repContainers
	})
	f.fill = time.Since(start)
	f.fullMB, f.peakMB = rc.RSSMB(), rc.PeakRSSMB()
	f.binFullMB, f.binPeakMB, f.execFullMB = rb.RSSMB(), rb.PeakRSSMB(), ex.RSSMB()
	f.ok = true
	return f
}

// running is how many of a cell's instances are RUNNING, or -1.
func running(ctx context.Context, c *bbsclient.Client, cell string) int {
	lrps, err := c.ActualLRPs(ctx, bbsclient.ActualLRPFilter{CellID: cell})
	if err != nil {
		return -1
	}
	n := 0
	for _, l := range lrps {
		if l.State == models.ActualLRPStateRunning {
			n++
		}
	}
	return n
}
