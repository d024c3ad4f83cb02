// Package simulation builds the in-process cells and work of Diego's auction
// simulation (spec core §5.10) and measures how the scheduler spread the
// work. Its suite holds the reference scenarios, B4's quality gate.
package simulation

import (
	"fmt"
	"math"
	"math/rand/v2"

	"diego/auctioneer"
	"diego/auctioneer/auctionrunner"
	"diego/rep"
)

// The simulated cells' shape.
const (
	CellMemoryMB   = 100
	CellDiskMB     = 100
	CellContainers = 100
	Stack          = "linux"
	RootFS         = "preloaded:" + Stack
	VolumeDriver   = "my-driver"
	LRPDiskMB      = 1
	LRPMaxPids     = 10
)

// Config is the simulation runner's configuration: no bin-packing,
// starting-container weight 0.25, no in-flight limit.
func Config() auctionrunner.Config {
	cfg := auctionrunner.DefaultConfig()
	cfg.BinPackFirstFitWeight = 0
	cfg.StartingContainerWeight = 0.25
	cfg.StartingContainerCountMaximum = 0
	return cfg
}

// NewCell is simulated cell i (from 0): REP-<i+1> in zone Z<i mod 2>, empty.
func NewCell(i int) rep.CellState {
	total := rep.Resources{MemoryMB: CellMemoryMB, DiskMB: CellDiskMB, Containers: CellContainers}
	return rep.CellState{
		CellID:             fmt.Sprintf("REP-%d", i+1),
		CellIndex:          i,
		Zone:               fmt.Sprintf("Z%d", i%2),
		RootFSProviders:    rep.RootFSProviders{"preloaded": rep.NewFixedSetProvider(Stack)},
		AvailableResources: total,
		TotalResources:     total,
		VolumeDrivers:      []string{VolumeDriver},
	}
}

// NewCells is the first n simulated cells.
func NewCells(n int) []rep.CellState {
	cells := make([]rep.CellState, n)
	for i := range cells {
		cells[i] = NewCell(i)
	}
	return cells
}

// Preload puts count running 1 MB LRPs, each of its own process guid, on
// the cell.
func Preload(cell *rep.CellState, count int) {
	for j := range count {
		lrp := rep.LRP{
			ProcessGuid:         fmt.Sprintf("%s-running-%d", cell.CellID, j),
			Domain:              "domain",
			PlacementConstraint: rep.NewPlacementConstraint(RootFS, nil, nil),
			Resource:            rep.NewResource(1, LRPDiskMB, LRPMaxPids),
			State:               "RUNNING",
		}
		cell.LRPs = append(cell.LRPs, lrp)
		cell.AvailableResources.MemoryMB -= lrp.MemoryMB
		cell.AvailableResources.DiskMB -= lrp.DiskMB
		cell.AvailableResources.Containers--
	}
}

// LRP asks for the given indices of processGuid, memoryMB each.
func LRP(processGuid string, memoryMB int32, indices ...int) auctioneer.LRPStartRequest {
	return auctioneer.LRPStartRequest{
		ProcessGuid:         processGuid,
		Domain:              "domain",
		Indices:             indices,
		Resource:            rep.NewResource(memoryMB, LRPDiskMB, LRPMaxPids),
		PlacementConstraint: rep.NewPlacementConstraint(RootFS, nil, nil),
	}
}

// Singles is n single-instance LRPs (index 0 of their own guid).
func Singles(prefix string, n int, memoryMB int32) []auctioneer.LRPStartRequest {
	reqs := make([]auctioneer.LRPStartRequest, n)
	for i := range reqs {
		reqs[i] = LRP(fmt.Sprintf("%s-%d", prefix, i), memoryMB, 0)
	}
	return reqs
}

// Instances is indices 0…n−1 of processGuid, one request per index.
func Instances(processGuid string, n int, memoryMB int32) []auctioneer.LRPStartRequest {
	reqs := make([]auctioneer.LRPStartRequest, n)
	for i := range reqs {
		reqs[i] = LRP(processGuid, memoryMB, i)
	}
	return reqs
}

// Placed counts the LRP instances placed by the round.
func Placed(r auctionrunner.Result) int {
	n := 0
	for _, w := range r.PerCell {
		n += len(w.LRPs)
	}
	return n
}

// Received is, for every cell that received new work in the round, the
// number of LRP instances it received, in cell order.
func Received(r auctionrunner.Result) []int {
	var counts []int
	for _, c := range r.Cells {
		if len(c.Work.LRPs) > 0 {
			counts = append(counts, len(c.Work.LRPs))
		}
	}
	return counts
}

// MaxDeviation is the largest distance of a count from the counts' mean.
func MaxDeviation(counts []int) float64 {
	if len(counts) == 0 {
		return 0
	}
	sum := 0
	for _, c := range counts {
		sum += c
	}
	mean := float64(sum) / float64(len(counts))
	worst := 0.0
	for _, c := range counts {
		worst = math.Max(worst, math.Abs(float64(c)-mean))
	}
	return worst
}

// LargeColdStart is the large cold start's work for n cells: 72n LRPs of
// 1 MB, 8n of 2 MB and 2n of 4 MB (1,800/200/50 for 25 cells, 7,200/800/200
// for 100). Half of each set is single-instance; the other half are indices
// of 4 process guids per set, each instance's guid picked at random. The
// whole is shuffled. The seed makes it reproducible.
func LargeColdStart(n int, seed uint64) []auctioneer.LRPStartRequest {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var reqs []auctioneer.LRPStartRequest
	for _, set := range []struct {
		memoryMB int32
		perCell  int
	}{{1, 72}, {2, 8}, {4, 2}} {
		count := set.perCell * n
		singles := count / 2
		reqs = append(reqs, Singles(fmt.Sprintf("single-%dmb", set.memoryMB), singles, set.memoryMB)...)
		next := [4]int{}
		for range count - singles {
			g := rng.IntN(len(next))
			reqs = append(reqs, LRP(fmt.Sprintf("app-%dmb-%d", set.memoryMB, g), set.memoryMB, next[g]))
			next[g]++
		}
	}
	rng.Shuffle(len(reqs), func(i, j int) { reqs[i], reqs[j] = reqs[j], reqs[i] })
	return reqs
}
