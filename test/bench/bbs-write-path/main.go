// Command bbs-write-path is benchmark B1 (../shared/benchmarks.md): 100
// concurrent clients claim and then start 10,000 pre-created unclaimed
// actual LRPs through the BBS, against raw etcd compare-and-swap
// transactions at 100 clients on the same etcd.
package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"diego/models"
	"diego/test/bench/benchutil"
)

const (
	clients   = 100
	lrps      = 1000
	instances = 10
	target    = 0.5
)

func main() {
	etcd := benchutil.StartEtcd()
	defer etcd.Stop()
	raw := etcd.Raw
	anchor := benchutil.AnchorCAS(raw, clients, 10*time.Second)

	bbs := benchutil.StartBBS(etcd.ClientURL(), benchutil.DebugConfig)
	defer bbs.Stop()
	ctx := context.Background()
	seed(ctx, bbs)

	work := make(chan *models.ActualLRPKey, lrps*instances)
	for p := 0; p < lrps; p++ {
		for i := int32(0); i < instances; i++ {
			work <- &models.ActualLRPKey{ProcessGuid: fmt.Sprintf("pg-%d", p), Index: i, Domain: "bench"}
		}
	}
	close(work)

	stopProfile := benchutil.Profile()
	var (
		lat      benchutil.Latencies
		writes   atomic.Int64
		failures atomic.Int64
		wg       sync.WaitGroup
	)
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			client := bbs.NewClient()
			ik := &models.ActualLRPInstanceKey{CellId: fmt.Sprintf("cell-%d", c%20)}
			net := &models.ActualLRPNetInfo{Address: "10.0.0.1", Ports: []*models.PortMapping{{ContainerPort: 8080, HostPort: 61001}}}
			for key := range work {
				ik.InstanceGuid = fmt.Sprintf("ig-%s-%d", key.ProcessGuid, key.Index)
				t := time.Now()
				if err := client.ClaimActualLRP(ctx, key, ik); err != nil {
					failures.Add(1)
					continue
				}
				lat.Add(time.Since(t))
				t = time.Now()
				err := client.StartActualLRP(ctx, &models.StartActualLRPRequest{ActualLrpKey: key, ActualLrpInstanceKey: ik, ActualLrpNetInfo: net})
				if err != nil {
					failures.Add(1)
					continue
				}
				lat.Add(time.Since(t))
				writes.Add(2)
			}
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopProfile()

	rate := float64(writes.Load()) / elapsed.Seconds()
	ratio := rate / anchor
	p99 := lat.Percentile(99)
	benchutil.Result{
		Bench: "bbs-write-path", Value: rate, Unit: "writes/s",
		Anchor: "etcd-cas-txn-100-clients", AnchorValue: anchor,
		Ratio: ratio, Target: target, Pass: ratio >= target && p99 < 25 && failures.Load() == 0,
		P50ms: lat.Percentile(50), P99ms: p99,
		Conditions: map[string]any{
			"clients": clients, "instances": lrps * instances, "elapsed_s": elapsed.Seconds(), "failures": failures.Load(),
		},
	}.Print()
}

// seed desires the LRPs whose unclaimed instances the clients will claim
// (no auctioneer runs, so they stay unclaimed).
func seed(ctx context.Context, bbs *benchutil.BBS) {
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 20; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := bbs.NewClient()
			for p := range next {
				d := &models.DesiredLRP{ProcessGuid: fmt.Sprintf("pg-%d", p), Domain: "bench", RootFs: "preloaded:cflinuxfs4",
					Instances: instances, Action: models.WrapAction(&models.RunAction{Path: "/bin/server", User: "vcap"})}
				if err := c.DesireLRP(ctx, d); err != nil {
					benchutil.Fatal("seeding %d: %v", p, err)
				}
			}
		}()
	}
	for p := 0; p < lrps; p++ {
		next <- p
	}
	close(next)
	wg.Wait()
}
