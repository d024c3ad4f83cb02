// Command cell-loss is benchmark B6 (../shared/benchmarks.md): 20 cells
// (simulated: real presence leases, the rep API, claims and starts through
// the BBS), 2,000 instances, presence TTL 5 s; one cell dies. It measures
// when the cell is seen gone (its presence expires) and when all of its
// instances are RUNNING elsewhere, and checks that no instance ever runs
// twice.
package main

import (
	"context"
	convergerconfig "diego/converger/config"
	"diego/deploy/cluster"
	"diego/deploy/config"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	bbsclient "diego/bbs/client"
	"diego/models"
	"diego/rep"
	"diego/test/bench/benchutil"
	"diego/test/simrep"
)

const (
	cellCount   = 20
	lrps        = 200
	instances   = 10
	presenceTTL = 5 * time.Second
)

func main() {
	etcd := benchutil.StartEtcd()
	defer etcd.Stop()
	endpoints := []string{etcd.ClientURL()}
	bbs := benchutil.StartBBS(etcd.ClientURL())
	defer bbs.Stop()
	m := cluster.Maker{ETCD: config.ETCD{Endpoints: endpoints}, BBSURL: bbs.URL, LogLevel: "error"}
	defer benchutil.StartAuctioneer(etcd.ClientURL(), bbs.URL).Stop()
	defer benchutil.StartBinary("converger", m.Converger("bench-converger", func(c *convergerconfig.Config) {
		c.LockTTL, c.LockRetryInterval = config.Duration(3*time.Second), config.Duration(500*time.Millisecond)
	})).Stop()

	ctx := context.Background()
	c := bbs.Client
	if err := c.UpsertDomain(ctx, "apps", 0); err != nil {
		benchutil.Fatal("%v", err)
	}
	cells := map[string]*simrep.Rep{}
	for i := 0; i < cellCount; i++ {
		id := fmt.Sprintf("cell-%02d", i)
		r, err := simrep.Start(simrep.Config{CellID: id, Zone: fmt.Sprintf("z%d", i%2), ETCDEndpoints: endpoints,
			PresenceTTL: presenceTTL, BBS: bbs.NewClient(), Total: rep.Resources{MemoryMB: 64 * 1024, DiskMB: 64 * 1024, Containers: 250}})
		if err != nil {
			benchutil.Fatal("%v", err)
		}
		defer r.Stop()
		cells[id] = r
	}
	for p := 0; p < lrps; p++ {
		err := c.DesireLRP(ctx, &models.DesiredLRP{ProcessGuid: fmt.Sprintf("pg-%03d", p), Domain: "apps",
			RootFs: "preloaded:cflinuxfs4", Instances: instances, MemoryMb: 64, DiskMb: 64,
			Action: models.WrapAction(&models.RunAction{Path: "/bin/server", User: "vcap"})})
		if err != nil {
			benchutil.Fatal("%v", err)
		}
	}
	benchutil.WaitFor(60*time.Second, 100*time.Millisecond, "every instance RUNNING", func() bool { return len(runningOn(ctx, c, "")) == lrps*instances })

	victim := "cell-07"
	lost := runningOn(ctx, c, victim)
	gone := watchGone(etcd.Raw, "/diego/v1/cell/"+victim)
	cells[victim].Kill()
	killed := time.Now()

	duplicates := 0
	var detected time.Time
	benchutil.WaitFor(presenceTTL+30*time.Second, 100*time.Millisecond, "the lost instances RUNNING elsewhere", func() bool {
		if detected.IsZero() {
			select {
			case <-gone:
				detected = time.Now()
			default:
			}
		}
		all := runningOn(ctx, c, "")
		duplicates = max(duplicates, countDuplicates(ctx, c))
		if len(all) != lrps*instances {
			return false
		}
		for _, cell := range all {
			if cell == victim {
				return false
			}
		}
		return true
	})
	recovered := time.Now()
	if detected.IsZero() {
		<-gone
		detected = time.Now()
	}
	sinceKill := recovered.Sub(killed)
	benchutil.Result{
		Bench: "cell-loss", Value: recovered.Sub(detected).Seconds(), Unit: "s (recovery - detection)",
		Anchor: "presence-ttl-detection", AnchorValue: detected.Sub(killed).Seconds(),
		Ratio: sinceKill.Seconds() / (presenceTTL + 2*time.Second).Seconds(), Target: 1,
		Pass: sinceKill <= presenceTTL+2*time.Second && duplicates == 0,
		Conditions: map[string]any{
			"cells": cellCount, "instances": lrps * instances, "lost_instances": len(lost), "presence_ttl_s": presenceTTL.Seconds(),
			"recovered_after_kill_s": sinceKill.Seconds(), "duplicate_running_instances": duplicates,
			"ratio_note": "ratio is time from the kill to full recovery ÷ (TTL + 2 s); pass ≤ 1",
		},
	}.Print()
}

// runningOn maps each RUNNING ordinary instance (process guid/index) to its
// cell, or, with a cell id, lists only that cell's.
func runningOn(ctx context.Context, c *bbsclient.Client, cell string) map[string]string {
	lrps, err := c.ActualLRPs(ctx, bbsclient.ActualLRPFilter{CellID: cell})
	if err != nil {
		benchutil.Fatal("%v", err)
	}
	out := map[string]string{}
	for _, l := range lrps {
		if l.State == models.ActualLRPStateRunning && l.Presence == models.ActualLRP_ORDINARY {
			out[fmt.Sprintf("%s/%d", l.ActualLrpKey.ProcessGuid, l.ActualLrpKey.Index)] = l.ActualLrpInstanceKey.CellId
		}
	}
	return out
}

// countDuplicates counts indices with more than one RUNNING record.
func countDuplicates(ctx context.Context, c *bbsclient.Client) int {
	lrps, err := c.ActualLRPs(ctx, bbsclient.ActualLRPFilter{})
	if err != nil {
		return 0
	}
	seen := map[string]int{}
	dup := 0
	for _, l := range lrps {
		if l.State != models.ActualLRPStateRunning {
			continue
		}
		k := fmt.Sprintf("%s/%d", l.ActualLrpKey.ProcessGuid, l.ActualLrpKey.Index)
		seen[k]++
		if seen[k] == 2 {
			dup++
		}
	}
	return dup
}

// watchGone closes its channel when key is deleted.
func watchGone(raw *clientv3.Client, key string) <-chan struct{} {
	gone := make(chan struct{})
	w := raw.Watch(context.Background(), key)
	go func() {
		for resp := range w {
			for _, e := range resp.Events {
				if e.Type == clientv3.EventTypeDelete {
					close(gone)
					return
				}
			}
		}
	}()
	return gone
}
