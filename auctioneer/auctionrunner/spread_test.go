package auctionrunner_test

import (
	"fmt"
	"math"
	"math/rand/v2"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/auctioneer"
	"diego/auctioneer/auctionrunner"
	"diego/rep"
)

// B3 (lrp-burst) in miniature: 100 cells of the benchmark's shape, LRPs of
// 10 instances, and the spread score the benchmark checks (the standard
// deviation of the instances per cell over their mean, at most 0.05).
var _ = Describe("Spreading a burst", func() {
	const (
		cellCount = 100
		instances = 10
		maxSpread = 0.05
	)

	b3Cells := func() []rep.CellState {
		cells := make([]rep.CellState, cellCount)
		for i := range cells {
			cells[i] = newCell(fmt.Sprintf("cell-%03d", i), fmt.Sprintf("z%d", i%2), 32*1024, 32*1024, 250)
		}
		return cells
	}

	// burst is n LRPs of 10 instances, 128 MB each, named from first on.
	burst := func(first, n int) []auctioneer.LRPStartRequest {
		reqs := make([]auctioneer.LRPStartRequest, n)
		for i := range reqs {
			r := lrpReq(fmt.Sprintf("pg-%04d", first+i), 128, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
			r.Resource.DiskMB = 128
			reqs[i] = r
		}
		return reqs
	}

	spread := func(cells []rep.CellState) (float64, []int) {
		counts := make([]int, len(cells))
		var sum, sq float64
		for i, c := range cells {
			counts[i] = len(c.LRPs)
			n := float64(counts[i])
			sum += n
			sq += n * n
		}
		mean := sum / float64(len(cells))
		return math.Sqrt(sq/float64(len(cells))-mean*mean) / mean, counts
	}

	It("spreads one batch of 1,000 instances over 100 equal cells within 0.05", func() {
		r := auctionrunner.Schedule(auctionrunner.DefaultConfig(), b3Cells(), burst(0, 100), nil)
		Expect(r.FailedLRPs).To(BeEmpty())
		after := make([]rep.CellState, len(r.Cells))
		for i, c := range r.Cells {
			after[i] = c.State
		}
		s, counts := spread(after)
		Expect(s).To(BeNumerically("<=", maxSpread), "instances per cell %v", counts)
	})

	It("spreads one batch within 0.05 even when the cells still start different numbers of containers", func() {
		// What the previous batch left starting differs per cell (0–4);
		// those containers are on the cells already. The batch's own
		// placements count as starting too, so a cell that is behind gets
		// that much less of this batch, and the holdings even out.
		cells := b3Cells()
		for i := range cells {
			starting := i % 5
			for j := range 10 + starting {
				cells[i].LRPs = append(cells[i].LRPs, rep.LRP{ProcessGuid: fmt.Sprintf("old-%d", j)})
			}
			cells[i].AvailableResources.MemoryMB -= int32(128 * (10 + starting))
			cells[i].AvailableResources.DiskMB -= int32(128 * (10 + starting))
			cells[i].AvailableResources.Containers -= 10 + starting
			cells[i].StartingContainerCount = starting
		}
		r := auctionrunner.Schedule(auctionrunner.DefaultConfig(), cells, burst(0, 100), nil)
		Expect(r.FailedLRPs).To(BeEmpty())
		after := make([]rep.CellState, len(r.Cells))
		for i, c := range r.Cells {
			after[i] = c.State
		}
		s, counts := spread(after)
		Expect(s).To(BeNumerically("<=", maxSpread), "instances per cell %v", counts)
	})

	It("spreads 10,000 instances arriving in 10 batches within 0.05 while the reps lag behind the auctioneer", func() {
		// At each state fetch a cell still has part of the previous
		// batch's containers starting. The reps all wait on one BBS, so
		// the part is about the same everywhere (a share drawn per batch),
		// give or take a container. Before the reservations counted as
		// starting containers, this gave a spread of 0.11: the cells that
		// happened to be a container ahead took the next batch's surplus.
		rng := rand.New(rand.NewPCG(21, 3))
		cells := b3Cells()
		cfg := auctionrunner.DefaultConfig()
		for batch := range 10 {
			r := auctionrunner.Schedule(cfg, cells, burst(batch*100, 100), nil)
			Expect(r.FailedLRPs).To(BeEmpty())
			share := rng.Float64()
			for i, c := range r.Cells {
				cells[i] = c.State
				left := int(math.Round(share*float64(len(c.Work.LRPs)) + rng.Float64() - 0.5))
				cells[i].StartingContainerCount = max(0, left)
			}
		}
		s, counts := spread(cells)
		total := 0
		for _, n := range counts {
			total += n
		}
		Expect(total).To(Equal(10_000))
		Expect(s).To(BeNumerically("<=", maxSpread), "instances per cell %v", counts)
	})
})
