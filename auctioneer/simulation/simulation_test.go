package simulation_test

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/auctioneer"
	"diego/auctioneer/auctionrunner"
	"diego/auctioneer/simulation"
	"diego/rep"
)

// The reference scenarios of spec core §5.10. One Schedule call is one
// auction round holding the whole batch.
var _ = Describe("Auction simulation", func() {
	schedule := func(cfg auctionrunner.Config, cells []rep.CellState, lrps []auctioneer.LRPStartRequest) auctionrunner.Result {
		return auctionrunner.Schedule(cfg, cells, lrps, nil)
	}

	// expectWithin: every cell that received new work got a count within k
	// of the mean over those cells.
	expectWithin := func(counts []int, k float64) {
		Expect(counts).NotTo(BeEmpty())
		Expect(simulation.MaxDeviation(counts)).To(BeNumerically("<=", k), "distribution %v", counts)
	}

	sizes := []struct{ cells, lrps int }{{4, 8}, {10, 40}, {20, 200}, {40, 800}}

	Describe("small cold start", func() {
		for _, size := range sizes {
			It(fmt.Sprintf("spreads %d single-instance LRPs over %d cells within ±1", size.lrps, size.cells), func() {
				r := schedule(simulation.Config(), simulation.NewCells(size.cells), simulation.Singles("app", size.lrps, 1))
				Expect(r.FailedLRPs).To(BeEmpty())
				Expect(simulation.Placed(r)).To(Equal(size.lrps))
				expectWithin(simulation.Received(r), 1)
			})
		}
	})

	Describe("bin-pack first fit", func() {
		for _, weight := range []float64{0.25, 0.5, 0.75} {
			cfg := simulation.Config()
			cfg.BinPackFirstFitWeight = weight
			cfg.StartingContainerWeight = 0.5
			for _, size := range sizes {
				It(fmt.Sprintf("weight %.2f: packs %d single-instance LRPs on %d cells by index within each zone, zones balanced", weight, size.lrps, size.cells), func() {
					r := schedule(cfg, simulation.NewCells(size.cells), simulation.Singles("app", size.lrps, 1))
					Expect(r.FailedLRPs).To(BeEmpty())
					Expect(simulation.Placed(r)).To(Equal(size.lrps))

					perZone := map[string][]int{}
					for _, c := range r.Cells {
						perZone[c.State.Zone] = append(perZone[c.State.Zone], len(c.State.LRPs))
					}
					Expect(perZone).To(HaveLen(2))
					var totals []int
					for zone, counts := range perZone {
						total := 0
						for i, n := range counts {
							total += n
							if i > 0 {
								Expect(n).To(BeNumerically("<=", counts[i-1]), "zone %s counts %v", zone, counts)
							}
						}
						totals = append(totals, total)
					}
					Expect(simulation.MaxDeviation(totals)).To(BeNumerically("<=", 1), "zone totals %v", totals)
				})

				It(fmt.Sprintf("weight %.2f: spreads indices 0…%d of one process guid over %d cells within ±1", weight, size.lrps-1, size.cells), func() {
					r := schedule(cfg, simulation.NewCells(size.cells), simulation.Instances("app", size.lrps, 1))
					Expect(r.FailedLRPs).To(BeEmpty())
					Expect(simulation.Placed(r)).To(Equal(size.lrps))
					expectWithin(simulation.Received(r), 1)
				})
			}
		}
	})

	Describe("large cold start", func() {
		for _, n := range []int{25, 100} {
			It(fmt.Sprintf("spreads %d mixed-size LRPs over %d cells within ±10", 82*n, n), func() {
				work := simulation.LargeColdStart(n, 42)
				start := time.Now()
				r := schedule(simulation.Config(), simulation.NewCells(n), work)
				elapsed := time.Since(start)
				AddReportEntry(fmt.Sprintf("placed %d instances on %d cells", simulation.Placed(r), n), elapsed)
				Expect(r.FailedLRPs).To(BeEmpty())
				Expect(simulation.Placed(r)).To(Equal(82 * n))
				expectWithin(simulation.Received(r), 10)
				if n == 100 {
					Expect(elapsed).To(BeNumerically("<", time.Second), "B4: 8,200 instances on 100 cells in < 1 s")
				}
			})
		}
	})

	Describe("imbalanced cells (a deploy)", func() {
		for _, c := range []struct{ loaded, lrps int }{{95, 500}, {99, 100}} {
			It(fmt.Sprintf("spreads %d new LRPs within ±1 without overloading the %d empty cells", c.lrps, 100-c.loaded), func() {
				cells := simulation.NewCells(100)
				for i := range c.loaded {
					simulation.Preload(&cells[i], 50)
				}
				r := schedule(simulation.Config(), cells, simulation.Singles("app", c.lrps, 1))
				Expect(r.FailedLRPs).To(BeEmpty())
				Expect(simulation.Placed(r)).To(Equal(c.lrps))
				// Each placement counts as a starting container on its cell
				// (decision 124), so an empty cell stops winning after a
				// couple of placements instead of taking ~50 while the
				// others wait: what every cell received is even.
				expectWithin(simulation.Received(r), 1)
				// Received counts only the cells that got work, so bound the
				// empty cells too: each took at least one and at most its
				// even share plus one, never the bulk of the deploy.
				share := c.lrps/100 + 1
				for i := c.loaded; i < 100; i++ {
					Expect(len(r.Cells[i].Work.LRPs)).To(BeNumerically("~", share, 1), "empty cell %s", r.Cells[i].State.CellID)
				}
			})
		}
	})

	Describe("zone distribution", func() {
		It("balances one process guid's instances across zones even when one zone is loaded", func() {
			cells := simulation.NewCells(3)
			simulation.Preload(&cells[1], 50) // REP-2, alone in Z1
			r := schedule(simulation.Config(), cells, simulation.Instances("app", 40, 1))
			Expect(r.FailedLRPs).To(BeEmpty())
			perZone := map[string]int{}
			for _, c := range r.Cells {
				perZone[c.State.Zone] += len(c.Work.LRPs)
			}
			Expect(perZone).To(Equal(map[string]int{"Z0": 20, "Z1": 20}))
		})
	})

	Describe("loaded cells", func() {
		for _, c := range []struct{ cells, lrps int }{{10, 80}, {30, 200}, {100, 400}} {
			It(fmt.Sprintf("spreads %d instances of one guid over %d cells holding 78–80 LRPs within ±1", c.lrps, c.cells), func() {
				cells := simulation.NewCells(c.cells)
				for i := range cells {
					simulation.Preload(&cells[i], 78+i%3)
				}
				r := schedule(simulation.Config(), cells, simulation.Instances("app", c.lrps, 1))
				Expect(r.FailedLRPs).To(BeEmpty())
				Expect(simulation.Placed(r)).To(Equal(c.lrps))
				// The count is what each cell received: the preload's own
				// 78–80 spread stays in what the cells hold.
				expectWithin(simulation.Received(r), 1)
			})
		}
	})

	Describe("packing when memory is low", func() {
		It("places the big index 0 first and fails its index 1", func() {
			work := append(simulation.Singles("small", 80, 1), simulation.Instances("big", 2, 50)...)
			r := schedule(simulation.Config(), simulation.NewCells(1), work)
			Expect(simulation.Placed(r)).To(Equal(51))
			Expect(r.FailedLRPs).To(HaveLen(31))

			placedBig := []int32{}
			for _, l := range r.PerCell["REP-1"].LRPs {
				if l.ProcessGuid == "big" {
					placedBig = append(placedBig, l.Index)
				}
			}
			Expect(placedBig).To(Equal([]int32{0}))
			Expect(r.FailedLRPs).To(ContainElement(auctionrunner.FailedLRP{
				ProcessGuid: "big", Index: 1, Domain: "domain", PlacementError: "insufficient resources: memory",
			}))
		})
	})
})
