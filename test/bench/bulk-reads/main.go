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
	"google.golang.org/protobuf/proto"

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
	raw, err := etcd.Client()
	if err != nil {
		benchutil.Fatal("%v", err)
	}
	defer raw.Close()
	ctx := context.Background()
	keys := etcddb.NewKeys("/diego")
	seed(ctx, raw, keys)

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
	rawPerCell := timeIt(func() { rawCell(ctx, raw, keys, cellID(7)) })

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

// seed writes the records and their index keys as the BBS stores them.
func seed(ctx context.Context, raw *clientv3.Client, keys etcddb.Keys) {
	action := models.WrapAction(&models.RunAction{Path: "/bin/server", User: "vcap", Args: []string{"--port", "8080"}})
	routes := &models.ProtoRoutes{Routes: map[string][]byte{"cf-router": []byte(`[{"hostnames":["app.example.com"],"port":8080}]`)}}
	jobs := make(chan int, 256)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ops []clientv3.Op
			flush := func() {
				if len(ops) == 0 {
					return
				}
				if _, err := raw.Txn(ctx).Then(ops...).Commit(); err != nil {
					benchutil.Fatal("seeding: %v", err)
				}
				ops = ops[:0]
			}
			for i := range jobs {
				pg := fmt.Sprintf("pg-%05d", i)
				cell := cellID(i % cells)
				d := &models.DesiredLRP{ProcessGuid: pg, Domain: "cf-apps", RootFs: "preloaded:cflinuxfs4", Instances: 1,
					MemoryMb: 256, DiskMb: 1024, Action: action, Routes: routes, LogGuid: pg,
					ModificationTag: &models.ModificationTag{Epoch: "e", Index: 1}}
				lrp := &models.ActualLRP{
					ActualLrpKey:         &models.ActualLRPKey{ProcessGuid: pg, Index: 0, Domain: "cf-apps"},
					ActualLrpInstanceKey: &models.ActualLRPInstanceKey{InstanceGuid: "ig-" + pg, CellId: cell},
					ActualLrpNetInfo:     &models.ActualLRPNetInfo{Address: "10.0.0.1", Ports: []*models.PortMapping{{ContainerPort: 8080, HostPort: 61001}}},
					State:                models.ActualLRPStateRunning, Since: 1, ModificationTag: &models.ModificationTag{Epoch: "e", Index: 2},
				}
				ops = append(ops,
					clientv3.OpPut(keys.SchedulingInfo(pg), envelope(d.DesiredLRPSchedulingInfo())),
					clientv3.OpPut(keys.RunInfo(pg), envelope(d.DesiredLRPRunInfo(1))),
					clientv3.OpPut(keys.DesiredByDomain("cf-apps", pg), ""),
					clientv3.OpPut(keys.ActualInstance(pg, 0), envelope(lrp)),
					clientv3.OpPut(keys.ActualByCell(cell, pg, 0, false), ""),
				)
				if len(ops) >= 125 {
					flush()
				}
			}
			flush()
		}()
	}
	for i := 0; i < lrpCount; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
}

func envelope(m proto.Message) string {
	b, err := proto.Marshal(m)
	if err != nil {
		benchutil.Fatal("%v", err)
	}
	return string(append([]byte{2, 0}, b...))
}

// rawRange reads every key under prefix and decodes nothing: the floor.
func rawRange(ctx context.Context, raw *clientv3.Client, prefix string) {
	if _, err := raw.Get(ctx, prefix, clientv3.WithPrefix()); err != nil {
		benchutil.Fatal("%v", err)
	}
}

// rawCell reads a cell's index keys and then its records, as the BBS must.
func rawCell(ctx context.Context, raw *clientv3.Client, keys etcddb.Keys, cell string) {
	resp, err := raw.Get(ctx, keys.ActualByCellPrefix(cell), clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		benchutil.Fatal("%v", err)
	}
	var ops []clientv3.Op
	for _, kv := range resp.Kvs {
		ops = append(ops, clientv3.OpGet(string(kv.Key)))
	}
	for len(ops) > 0 { // etcd takes at most 128 operations per transaction
		n := min(len(ops), 128)
		if _, err := raw.Txn(ctx).Then(ops[:n]...).Commit(); err != nil {
			benchutil.Fatal("%v", err)
		}
		ops = ops[n:]
	}
}
