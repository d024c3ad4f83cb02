// Command auction-quality is benchmark B4 (../shared/benchmarks.md): the
// auction simulation's 100-cell large cold start (8,200 instances) placed by
// our scheduler, against a naive best-fit placer on the same inputs. The
// distribution assertions of every scenario run in `make test`
// (auctioneer/simulation); this reports the rate and the spread.
package main

import (
	"time"

	"diego/auctioneer"
	"diego/auctioneer/auctionrunner"
	"diego/auctioneer/simulation"
	"diego/rep"
	"diego/test/bench/benchutil"
)

const (
	cells  = 100
	rounds = 5
)

func main() {
	work := simulation.LargeColdStart(cells, 42)
	instances := 0
	for _, w := range work {
		instances += len(w.Indices)
	}

	var ours time.Duration
	var result auctionrunner.Result
	for i := 0; i < rounds; i++ {
		start := time.Now()
		result = auctionrunner.Schedule(simulation.Config(), simulation.NewCells(cells), work, nil)
		ours += time.Since(start)
	}
	ours /= rounds

	var naive time.Duration
	var naivePlaced int
	for i := 0; i < rounds; i++ {
		start := time.Now()
		naivePlaced = bestFit(simulation.NewCells(cells), work)
		naive += time.Since(start)
	}
	naive /= rounds

	placed := simulation.Placed(result)
	spread := simulation.MaxDeviation(simulation.Received(result))
	rate := float64(placed) / ours.Seconds()
	naiveRate := float64(naivePlaced) / naive.Seconds()
	benchutil.Result{
		Bench: "auction-quality", Value: rate, Unit: "placements/s",
		Anchor: "naive-best-fit", AnchorValue: naiveRate, Ratio: rate / naiveRate, Target: 0,
		Pass:  ours < time.Second && placed == instances && spread <= 10,
		P50ms: float64(ours) / float64(time.Millisecond), P99ms: float64(ours) / float64(time.Millisecond),
		Conditions: map[string]any{
			"cells": cells, "instances": instances, "placed": placed, "naive_placed": naivePlaced,
			"max_deviation_from_mean": spread, "round_ms": float64(ours) / float64(time.Millisecond),
			"note": "ratio is informational: the naive placer ignores zones and spreading; pass is < 1 s, all placed, within ±10",
		},
	}.Print()
}

// bestFit places each instance, in request order, on the fitting cell with
// the least memory left: no zones, no spreading, no filters beyond fit.
func bestFit(cells []rep.CellState, work []auctioneer.LRPStartRequest) int {
	placed := 0
	for _, w := range work {
		for range w.Indices {
			best := -1
			for i := range cells {
				a := cells[i].AvailableResources
				if a.MemoryMB < w.MemoryMB || a.DiskMB < w.DiskMB || a.Containers < 1 {
					continue
				}
				if best < 0 || a.MemoryMB < cells[best].AvailableResources.MemoryMB {
					best = i
				}
			}
			if best < 0 {
				continue
			}
			cells[best].AvailableResources.MemoryMB -= w.MemoryMB
			cells[best].AvailableResources.DiskMB -= w.DiskMB
			cells[best].AvailableResources.Containers--
			placed++
		}
	}
	return placed
}
