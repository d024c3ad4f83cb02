// Command api-read is benchmark B9 (../shared/benchmarks.md): 100 concurrent
// readers of single records by guid through the BBS API while writes run
// beside them, against linearizable etcd Gets at 100 clients on the same etcd.
package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"diego/models"
	"diego/test/bench/benchutil"
)

const (
	readers  = 100
	writers  = 50 // B1 runs 100 writing clients; here half of them write
	records  = 2000
	duration = 10 * time.Second
	target   = 0.5
)

func main() {
	etcd := benchutil.StartEtcd()
	defer etcd.Stop()
	raw := etcd.Raw
	anchor := benchutil.AnchorGets(raw, readers, duration)

	bbs := benchutil.StartBBS(etcd.ClientURL(), benchutil.DebugConfig)
	defer bbs.Stop()
	ctx := context.Background()
	def := &models.TaskDefinition{RootFs: "preloaded:cflinuxfs4", Action: models.WrapAction(&models.RunAction{Path: "/bin/true", User: "vcap"})}
	for i := 0; i < records; i++ {
		if err := bbs.Client.DesireTask(ctx, fmt.Sprintf("read-%d", i), "bench", def); err != nil {
			benchutil.Fatal("seeding: %v", err)
		}
	}

	var (
		lat      benchutil.Latencies
		reads    atomic.Int64
		writes   atomic.Int64
		failures atomic.Int64
		wg       sync.WaitGroup
	)
	fmt.Fprintf(os.Stderr, "bench: reading for %s\n", duration) // a mark to profile the read phase by
	stopProfile := benchutil.Profile()
	bbsCPU, selfCPU, machineCPU := bbs.CPUSeconds(), benchutil.CPUSeconds(os.Getpid()), benchutil.MachineBusySeconds()
	deadline := time.Now().Add(duration)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := bbs.NewClient()
			for i := 0; time.Now().Before(deadline); i++ {
				guid := fmt.Sprintf("write-%d-%d", w, i)
				if c.DesireTask(ctx, guid, "bench", def) != nil {
					failures.Add(1)
					continue
				}
				if _, err := c.StartTask(ctx, guid, "cell"); err != nil {
					failures.Add(1)
				}
				writes.Add(2)
			}
		}(w)
	}
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			c := bbs.NewClient()
			rng := rand.New(rand.NewPCG(seed, seed))
			for time.Now().Before(deadline) {
				start := time.Now()
				if _, err := c.TaskByGuid(ctx, fmt.Sprintf("read-%d", rng.IntN(records))); err != nil {
					failures.Add(1)
					continue
				}
				lat.Add(time.Since(start))
				reads.Add(1)
			}
		}(uint64(r))
	}
	wg.Wait()
	bbsCPU, selfCPU, machineCPU = bbs.CPUSeconds()-bbsCPU, benchutil.CPUSeconds(os.Getpid())-selfCPU, benchutil.MachineBusySeconds()-machineCPU
	stopProfile()

	rate := float64(reads.Load()) / duration.Seconds()
	ratio := rate / anchor
	p99 := lat.Percentile(99)
	benchutil.Result{
		Bench: "api-read", Value: rate, Unit: "reads/s",
		Anchor: "etcd-linearizable-get", AnchorValue: anchor,
		Ratio: ratio, Target: target, Pass: ratio >= target && p99 < 20,
		P50ms: lat.Percentile(50), P99ms: p99,
		Conditions: map[string]any{
			"readers": readers, "writers": writers, "records": records, "duration_s": duration.Seconds(),
			"writes_per_s": float64(writes.Load()) / duration.Seconds(), "failures": failures.Load(), "read": "task by guid",
			// Cores used during the read phase: the BBS, this process (its
			// embedded etcd and its 150 clients), and the whole machine.
			"bbs_cores": bbsCPU / duration.Seconds(), "harness_cores": selfCPU / duration.Seconds(),
			"machine_cores": machineCPU / duration.Seconds(),
		},
	}.Print()
}
