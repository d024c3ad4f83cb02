// Command task-e2e is benchmark B2 (../shared/benchmarks.md): tasks desired
// through the receptor, placed by the auctioneer on 10 simulated cells (the
// real rep code over an in-memory executor, test/simrep), started and
// completed by the reps through the BBS, called back, resolved and deleted
// by the BBS. 200 tasks are kept in flight for 20 s (closed loop: each
// callback desires the next). The anchor is the etcd compare-and-swap rate
// at 100 clients divided by the 5 writes a task costs.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"diego/models"
	"diego/receptor"
	receptorclient "diego/receptor/client"
	receptorconfig "diego/receptor/config"
	"diego/rep"
	"diego/test/bench/benchutil"
	"diego/test/ports"
	"diego/test/simrep"
)

const (
	duration = 20 * time.Second
	target   = 0.35
)

// BENCH_SIZE multiplies the cells and the tasks in flight (growth curves);
// size 1 is B2 as defined.
var (
	size     = benchutil.Size()
	cells    = 10 * size
	inFlight = 200 * size
)

func main() {
	etcd := benchutil.StartEtcd()
	defer etcd.Stop()
	raw := etcd.Raw
	casRate := benchutil.AnchorCAS(raw, 100, 5*time.Second)
	anchor := casRate / 5

	endpoints := []string{etcd.ClientURL()}
	bbs := benchutil.StartBBS(etcd.ClientURL(), benchutil.DebugConfig)
	defer bbs.Stop()
	auctioneer := benchutil.StartAuctioneer(etcd.ClientURL(), bbs.URL)
	defer auctioneer.Stop()
	rc := receptorconfig.DefaultConfig()
	rc.ListenAddr = ports.Addr()
	rc.BBSAddress = bbs.URL
	rc.LogLevel = "error"
	if addr := os.Getenv("BENCH_RECEPTOR_PPROF"); addr != "" {
		rc.DebugAddress = addr // profile the receptor while the benchmark runs
	}
	receptorProcess := benchutil.StartBinary("receptor", rc)
	defer receptorProcess.Stop()

	for i := 0; i < cells; i++ {
		r, err := simrep.Start(simrep.Config{CellID: fmt.Sprintf("cell-%02d", i), Zone: fmt.Sprintf("z%d", i%2),
			ETCDEndpoints: endpoints, PresenceTTL: 15 * time.Second, BBS: bbs.NewClient(),
			Total: rep.Resources{MemoryMB: 64 * 1024, DiskMB: 64 * 1024, Containers: 250}})
		if err != nil {
			benchutil.Fatal("%v", err)
		}
		defer r.Stop()
	}

	// Each callback records the task's desire→completed latency and hands
	// its slot to the next task.
	var (
		mu      sync.Mutex
		desired = map[string]time.Time{}
		lat     benchutil.Latencies
		done    atomic.Int64
		failed  atomic.Int64
		measure atomic.Bool
	)
	slots := make(chan struct{}, inFlight)
	callbacks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var cb models.TaskCallbackResponse
		if err := json.NewDecoder(req.Body).Decode(&cb); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		at, ok := desired[cb.TaskGuid]
		delete(desired, cb.TaskGuid)
		mu.Unlock()
		if ok {
			if measure.Load() {
				lat.Add(time.Since(at))
				done.Add(1)
				if cb.Failed {
					failed.Add(1)
				}
			}
			slots <- struct{}{}
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer callbacks.Close()

	client, err := receptorclient.New(receptorclient.Config{URL: "http://" + rc.ListenAddr})
	if err != nil {
		benchutil.Fatal("%v", err)
	}
	ctx := context.Background()
	benchutil.WaitFor(30*time.Second, 100*time.Millisecond, "the receptor and every cell", func() bool {
		cs, err := client.Cells(ctx)
		return err == nil && len(cs) == cells
	})
	desire := func(guid string) error {
		mu.Lock()
		desired[guid] = time.Now()
		mu.Unlock()
		err := client.CreateTask(ctx, receptor.TaskCreateRequest{
			TaskGuid: guid, Domain: "bench", RootFS: "preloaded:" + simrep.Stack, MemoryMB: 16, DiskMB: 16,
			Action:                models.WrapAction(&models.RunAction{Path: "/bin/true", User: "vcap"}),
			CompletionCallbackURL: callbacks.URL + "/done",
		})
		if err != nil {
			mu.Lock()
			delete(desired, guid)
			mu.Unlock()
		}
		return err
	}
	// One task through the whole path first: the auctioneer holds its lock.
	benchutil.WaitFor(30*time.Second, 100*time.Millisecond, "a first task through the auctioneer", func() bool {
		select {
		case <-slots:
			return true
		default:
		}
		mu.Lock()
		pending := len(desired)
		mu.Unlock()
		if pending == 0 {
			_ = desire(fmt.Sprintf("probe-%d", time.Now().UnixNano()))
		}
		return false
	})
	for i := 0; i < inFlight; i++ {
		slots <- struct{}{}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var seq atomic.Int64
	desireErrors := atomic.Int64{}
	for w := 0; w < inFlight; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-slots:
				}
				if err := desire(fmt.Sprintf("task-%d", seq.Add(1))); err != nil {
					desireErrors.Add(1)
					slots <- struct{}{}
				}
			}
		}()
	}
	// A short warm-up, then the measured window.
	time.Sleep(2 * time.Second)
	stopProfile := benchutil.Profile()
	// The CPU each process uses per completed task (informational): the
	// harness's share is etcd's, the simulated reps' and its own clients'.
	cpu := func() [4]float64 {
		return [4]float64{bbs.CPUSeconds(), receptorProcess.CPUSeconds(), auctioneer.CPUSeconds(), benchutil.CPUSeconds(os.Getpid())}
	}
	cpuBefore := cpu()
	measure.Store(true)
	start := time.Now()
	time.Sleep(duration)
	measure.Store(false)
	elapsed := time.Since(start)
	cpuAfter := cpu()
	stopProfile()
	close(stop)
	wg.Wait()

	rate := float64(done.Load()) / elapsed.Seconds()
	cpuPerTask := map[string]float64{}
	for i, name := range []string{"bbs", "receptor", "auctioneer", "harness"} {
		ms := (cpuAfter[i] - cpuBefore[i]) * 1000 / float64(max(done.Load(), 1))
		cpuPerTask[name] = math.Round(ms*1000) / 1000
		cpuPerTask["total"] += cpuPerTask[name]
	}
	cpuPerTask["total"] = math.Round(cpuPerTask["total"]*1000) / 1000
	ratio := rate / anchor
	p99 := lat.Percentile(99)
	benchutil.Result{
		Bench: "task-e2e", Value: rate, Unit: "tasks/s", Anchor: "etcd-cas-ceiling/5", AnchorValue: anchor,
		Ratio: ratio, Target: target, Pass: ratio >= target && p99 < 1000 && failed.Load() == 0 && desireErrors.Load() == 0,
		P50ms: lat.Percentile(50), P99ms: p99,
		Conditions: map[string]any{
			"cells": cells, "in_flight": inFlight, "duration_s": elapsed.Seconds(), "completed": done.Load(),
			"cpu_ms_per_task": cpuPerTask, "failed_tasks": failed.Load(), "desire_errors": desireErrors.Load(), "etcd_cas_per_s": casRate,
			"latency": "desire (receptor POST) → completion callback; p99 target < 1 s",
		},
	}.Print()
}
