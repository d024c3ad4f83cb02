// Command lrp-burst is benchmark B3 (../shared/benchmarks.md): 100
// simulated cells (the real rep code over an in-memory executor,
// test/simrep) with the real bbs and auctioneer; 1,000 LRPs × 10 instances
// desired at once; the time until all 10,000 are RUNNING. The anchor is the
// write-bound floor: the (10,000 × 3 + 1,000) writes at the etcd
// compare-and-swap rate measured first; the ratio is floor ÷ measured, and
// its target is the ratio at 8 s. The spread score is the standard
// deviation of the instances per cell over their mean.
package main

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	bbsclient "diego/bbs/client"
	"diego/models"
	"diego/rep"
	"diego/test/bench/benchutil"
	"diego/test/simrep"
)

const (
	instances = 10
	maxSpread = 0.05
)

// BENCH_SIZE multiplies the cells, the LRPs and the time limit (growth
// curves); size 1 is B3 as defined.
var (
	size  = benchutil.Size()
	cells = 100 * size
	lrps  = 1000 * size
	limit = time.Duration(size) * 8 * time.Second
)

func main() {
	etcd := benchutil.StartEtcd()
	defer etcd.Stop()
	raw := etcd.Raw
	casRate := benchutil.AnchorCAS(raw, 100, 5*time.Second)
	floor := float64(lrps*instances*3+lrps) / casRate

	endpoints := []string{etcd.ClientURL()}
	bbs := benchutil.StartBBS(etcd.ClientURL(), benchutil.DebugConfig)
	defer bbs.Stop()
	auctioneer := benchutil.StartAuctioneer(etcd.ClientURL(), bbs.URL)
	defer auctioneer.Stop()

	reps := make([]*simrep.Rep, cells)
	for i := range reps {
		r, err := simrep.Start(simrep.Config{CellID: fmt.Sprintf("cell-%03d", i), Zone: fmt.Sprintf("z%d", i%2),
			ETCDEndpoints: endpoints, PresenceTTL: 15 * time.Second, BBS: bbs.NewClient(),
			Total: rep.Resources{MemoryMB: 32 * 1024, DiskMB: 32 * 1024, Containers: 250}})
		if err != nil {
			benchutil.Fatal("%v", err)
		}
		defer r.Stop()
		reps[i] = r
	}
	ctx := context.Background()
	c := bbs.Client
	if err := c.UpsertDomain(ctx, "apps", 0); err != nil {
		benchutil.Fatal("%v", err)
	}
	benchutil.WaitFor(30*time.Second, 20*time.Millisecond, "every cell", func() bool {
		cs, err := c.Cells(ctx)
		return err == nil && len(cs) == cells
	})
	// The auctioneer must hold its lock before the burst, or the first
	// auctions would wait for the converger.
	benchutil.WaitFor(30*time.Second, 20*time.Millisecond, "the auctioneer's lock", func() bool {
		resp, err := raw.Get(ctx, "/diego/v1/locks/auctioneer")
		return err == nil && len(resp.Kvs) == 1
	})

	stopProfile := benchutil.Profile()
	start := time.Now()
	var desireLat benchutil.Latencies
	names := make(chan int, lrps)
	for p := 0; p < lrps; p++ {
		names <- p
	}
	close(names)
	var wg sync.WaitGroup
	for w := 0; w < 20; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := bbs.NewClient()
			for p := range names {
				t := time.Now()
				err := client.DesireLRP(ctx, &models.DesiredLRP{ProcessGuid: fmt.Sprintf("pg-%04d", p), Domain: "apps",
					RootFs: "preloaded:" + simrep.Stack, Instances: instances, MemoryMb: 128, DiskMb: 128,
					Ports:  []uint32{8080},
					Action: models.WrapAction(&models.RunAction{Path: "/bin/server", User: "vcap"})})
				if err != nil {
					benchutil.Fatal("desiring pg-%04d: %v", p, err)
				}
				desireLat.Add(time.Since(t))
			}
		}()
	}
	wg.Wait()
	desired := time.Since(start)
	total := int64(lrps * instances)
	var started int64
	benchutil.WaitFor(time.Duration(size)*60*time.Second, 20*time.Millisecond, "every instance started", func() bool {
		started = 0
		for _, r := range reps {
			started += r.Started()
		}
		return started >= total
	})
	elapsed := time.Since(start)
	stopProfile()
	var fetches int64
	for _, r := range reps {
		fetches += r.DesiredFetches()
	}
	auctioneerRSS, bbsRSS := auctioneer.RSSMB(), bbs.RSSMB()

	// The BBS's own view: every instance RUNNING, none unplaced, and the
	// spread over the cells.
	all, err := c.ActualLRPs(ctx, bbsclient.ActualLRPFilter{Domain: "apps"})
	if err != nil {
		benchutil.Fatal("%v", err)
	}
	perCell := map[string]int{}
	running, placementErrors := 0, 0
	for _, l := range all {
		if l.PlacementError != "" {
			placementErrors++
		}
		if l.State == models.ActualLRPStateRunning {
			running++
			perCell[l.ActualLrpInstanceKey.CellId]++
		}
	}
	var sum, sq float64
	lo, hi := int(total), 0
	zones := map[string]int{}
	for i, r := range reps {
		lo, hi = min(lo, perCell[r.ID()]), max(hi, perCell[r.ID()])
		zones[fmt.Sprintf("z%d", i%2)] += perCell[r.ID()]
		n := float64(perCell[r.ID()])
		sum += n
		sq += n * n
	}
	mean := sum / float64(cells)
	spread := math.Sqrt(sq/float64(cells)-mean*mean) / mean
	ratio := floor / elapsed.Seconds()
	target := floor / limit.Seconds()
	benchutil.Result{
		Bench: "lrp-burst", Value: elapsed.Seconds(), Unit: "s to all RUNNING", Anchor: "etcd-cas-write-floor", AnchorValue: floor,
		Ratio: ratio, Target: target,
		Pass:  elapsed < limit && spread <= maxSpread && placementErrors == 0 && running == int(total) && started == total,
		P50ms: desireLat.Percentile(50), P99ms: desireLat.Percentile(99),
		Conditions: map[string]any{
			"cells": cells, "instances": total, "running": running, "placement_errors": placementErrors,
			"spread_stddev_over_mean": spread, "per_cell_min": lo, "per_cell_max": hi, "per_zone": zones, "auctioneer_rss_mb": auctioneerRSS, "bbs_rss_mb": bbsRSS, "etcd_cas_per_s": casRate, "desire_all_s": desired.Seconds(), "rep_desired_fetches": fetches,
			"note": "ratio = write-bound floor ÷ time to all RUNNING; target is that ratio at 8 s; p50/p99 are DesireLRP latencies",
		},
	}.Print()
}
