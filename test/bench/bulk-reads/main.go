// Command bulk-reads is benchmark B5 (../shared/benchmarks.md): 50,000
// desired and 50,000 actual LRPs over 250 cells, read through the BBS API the
// way the rep (per cell), nsync (all scheduling infos) and the route-emitter
// (all actuals and routing infos) read them, against raw etcd ranges of the
// same keys.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	bbsclient "diego/bbs/client"
	"diego/bbs/db/etcddb"
	"diego/bbs/lock"
	"diego/models"
	"diego/test/bench/benchutil"
)

const (
	lrpCount = 50000
	cells    = 250
	// cellReaders is how many reps fetch their cell at once.
	cellReaders = 4
	target      = 1.0 // each full read < 1 s; the ratio is raw ÷ API time
)

func main() {
	etcd := benchutil.StartEtcd()
	defer etcd.Stop()
	raw := etcd.Raw
	ctx := context.Background()
	keys := etcddb.NewKeys("/diego")
	benchutil.SeedLRPs(ctx, raw, keys, benchutil.LRPSeed{Desired: lrpCount, Instances: 1, Domain: "cf-apps",
		Cell: func(i int, _ int32) string { return cellID(i % cells) }})

	bbs := benchutil.StartBBS(etcd.ClientURL(), benchutil.DebugConfig)
	defer bbs.Stop()
	c := bbs.Client

	// Per-cell fetch (the rep), 250 cells, cellReaders at a time. Reps fetch
	// once per 30 s bulk cycle each, so a few at once is the realistic load.
	var perCell benchutil.Latencies
	cellsCh := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < cellReaders; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := bbs.NewClient()
			for i := range cellsCh {
				t := time.Now()
				lrps, err := client.ActualLRPs(ctx, bbsclient.ActualLRPFilter{CellID: cellID(i)})
				if err != nil || len(lrps) != lrpCount/cells {
					benchutil.Fatal("cell %d: %d records, %v", i, len(lrps), err)
				}
				perCell.Add(time.Since(t))
			}
		}()
	}
	for i := 0; i < cells; i++ {
		cellsCh <- i
	}
	close(cellsCh)
	wg.Wait()
	rawPerCell := timeIt(func() { benchutil.RawCellRead(ctx, raw, keys, cellID(7)) })

	schedAPI := timeIt(func() {
		infos, err := c.DesiredLRPSchedulingInfos(ctx, bbsclient.DesiredLRPFilter{})
		if err != nil || len(infos) != lrpCount {
			benchutil.Fatal("scheduling infos: %d, %v", len(infos), err)
		}
	})
	schedRaw := timeIt(func() { rawRange(ctx, raw, keys.SchedulingInfoPrefix()) })

	emitterAPI := timeIt(func() {
		actuals, err := c.ActualLRPs(ctx, bbsclient.ActualLRPFilter{})
		if err != nil || len(actuals) != lrpCount {
			benchutil.Fatal("actuals: %d, %v", len(actuals), err)
		}
		routing, err := c.DesiredLRPRoutingInfos(ctx, bbsclient.DesiredLRPFilter{})
		if err != nil || len(routing) != lrpCount {
			benchutil.Fatal("routing infos: %d, %v", len(routing), err)
		}
	})
	emitterRaw := timeIt(func() {
		rawRange(ctx, raw, keys.ActualPrefix())
		rawRange(ctx, raw, keys.SchedulingInfoPrefix())
	})

	// A convergence pass over all of it (the converger's call): every cell
	// present, every instance RUNNING where it should be, so the pass is the
	// gather and the decisions, with no writes.
	for i := 0; i < cells; i++ {
		presence, _ := json.Marshal(&models.CellPresence{CellId: cellID(i), RepAddress: "http://127.0.0.1:1", RepUrl: "http://127.0.0.1:1", Zone: "z1",
			Capacity: &models.CellCapacity{MemoryMb: 1 << 20, DiskMb: 1 << 20, Containers: 1000}})
		if _, err := raw.Put(ctx, lock.PresenceKey(lock.DefaultRoot, cellID(i)), string(presence)); err != nil {
			benchutil.Fatal("%v", err)
		}
	}
	converge := timeIt(func() {
		if err := c.ConvergeLRPs(ctx); err != nil {
			benchutil.Fatal("converging: %v", err)
		}
	})

	apiTotal := perCell.Percentile(50)/1000 + schedAPI.Seconds() + emitterAPI.Seconds()
	rawTotal := rawPerCell.Seconds() + schedRaw.Seconds() + emitterRaw.Seconds()
	ratio := rawTotal / apiTotal
	p99 := perCell.Percentile(99)
	benchutil.Result{
		Bench: "bulk-reads", Value: apiTotal, Unit: "s (cell p50 + scheduling infos + actuals and routing infos)",
		Anchor: "etcd-range-same-prefixes", AnchorValue: rawTotal,
		Ratio: ratio, Target: target,
		Pass:  p99 < 20 && schedAPI < time.Second && emitterAPI < time.Second && converge < 2*time.Second,
		P50ms: perCell.Percentile(50), P99ms: p99,
		Conditions: map[string]any{
			"desired": lrpCount, "actual": lrpCount, "cells": cells, "concurrent_cell_readers": cellReaders,
			"per_cell_raw_ms": ms(rawPerCell), "scheduling_infos_ms": ms(schedAPI), "scheduling_infos_raw_ms": ms(schedRaw),
			"actuals_and_routing_ms": ms(emitterAPI), "actuals_and_routing_raw_ms": ms(emitterRaw),
			"ratio_target_note":   "pass is the absolute targets; ratio is raw ÷ API time",
			"convergence_pass_ms": ms(converge), "bbs_rss_mb": bbs.RSSMB(),
		},
	}.Print()
}

func cellID(i int) string { return fmt.Sprintf("cell-%03d", i) }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func timeIt(f func()) time.Duration {
	t := time.Now()
	f()
	return time.Since(t)
}

// rawRange reads every key under prefix and decodes nothing: the floor.
func rawRange(ctx context.Context, raw *clientv3.Client, prefix string) {
	if _, err := raw.Get(ctx, prefix, clientv3.WithPrefix()); err != nil {
		benchutil.Fatal("%v", err)
	}
}
