package auctionrunner_test

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/auctioneer"
	"diego/auctioneer/auctionrunner"
	"diego/rep"
)

var _ = Describe("Schedule", func() {
	var cfg auctionrunner.Config

	BeforeEach(func() {
		cfg = auctionrunner.DefaultConfig()
	})

	lrps := func(reqs ...auctioneer.LRPStartRequest) []auctioneer.LRPStartRequest { return reqs }
	tasks := func(reqs ...auctioneer.TaskStartRequest) []auctioneer.TaskStartRequest { return reqs }

	failedLRPErrors := func(r auctionrunner.Result) map[string]string {
		out := map[string]string{}
		for _, f := range r.FailedLRPs {
			out[fmt.Sprintf("%s/%d", f.ProcessGuid, f.Index)] = f.PlacementError
		}
		return out
	}

	It("returns the work per cell, with the cell id, for cells that got some", func() {
		cells := []rep.CellState{newCell("A", "z", 10, 10, 10), newCell("B", "z", 10, 10, 10)}
		r := auctionrunner.Schedule(cfg, cells, lrps(lrpReq("web", 1, 0)), nil)
		Expect(r.PerCell).To(HaveLen(1))
		Expect(r.PerCell["A"].CellID).To(Equal("A"))
		Expect(r.PerCell["A"].LRPs).To(ConsistOf(rep.LRP{
			ProcessGuid: "web", Index: 0, Domain: "d",
			Resource: rep.NewResource(1, 1, 10), PlacementConstraint: rep.NewPlacementConstraint(linux, nil, nil),
		}))
		Expect(r.FailedLRPs).To(BeEmpty())
		Expect(r.FailedTasks).To(BeEmpty())
	})

	It("fails everything with no cells", func() {
		r := auctionrunner.Schedule(cfg, nil, lrps(lrpReq("web", 1, 0, 1)), tasks(taskReq("t", 1)))
		Expect(r.PerCell).To(BeEmpty())
		Expect(r.FailedLRPs).To(ConsistOf(
			auctionrunner.FailedLRP{ProcessGuid: "web", Index: 0, Domain: "d", PlacementError: "unable to communicate to compatible cells"},
			auctionrunner.FailedLRP{ProcessGuid: "web", Index: 1, Domain: "d", PlacementError: "unable to communicate to compatible cells"},
		))
		Expect(r.FailedTasks).To(ConsistOf(auctionrunner.FailedTask{TaskGuid: "t", PlacementError: "unable to communicate to compatible cells"}))
	})

	Describe("order", func() {
		It("places index-0 LRPs, then tasks, then the other indices", func() {
			cells := []rep.CellState{newCell("A", "z", 3, 100, 100)}
			r := auctionrunner.Schedule(cfg, cells, lrps(lrpReq("a", 1, 0, 1), lrpReq("b", 1, 0)), tasks(taskReq("t", 1)))
			Expect(placements(r.PerCell)).To(Equal(map[string]string{"a/0": "A", "b/0": "A", "t": "A"}))
			Expect(failedLRPErrors(r)).To(Equal(map[string]string{"a/1": "insufficient resources: memory"}))
			Expect(r.PerCell["A"].LRPs[0].ProcessGuid).To(Equal("a"))
		})

		It("sorts LRPs by index, then memory descending, keeping request order on ties", func() {
			cells := []rep.CellState{newCell("A", "z", 3, 100, 100)}
			r := auctionrunner.Schedule(cfg, cells, lrps(lrpReq("x", 1, 0), lrpReq("y", 2, 0), lrpReq("z", 1, 0)), nil)
			Expect(placements(r.PerCell)).To(Equal(map[string]string{"y/0": "A", "x/0": "A"}))
			Expect(failedLRPErrors(r)).To(HaveKey("z/0"))

			r = auctionrunner.Schedule(cfg, cells, lrps(lrpReq("p", 1, 1), lrpReq("q", 1, 2), lrpReq("r", 2, 2), lrpReq("s", 1, 0)), nil)
			var order []string
			for _, l := range r.PerCell["A"].LRPs {
				order = append(order, fmt.Sprintf("%s/%d", l.ProcessGuid, l.Index))
			}
			// r/2 (2 MB) is tried before q/2 (1 MB) and no longer fits.
			Expect(order).To(Equal([]string{"s/0", "p/1", "q/2"}))
			Expect(failedLRPErrors(r)).To(Equal(map[string]string{"r/2": "insufficient resources: memory"}))
		})

		It("sorts tasks by memory descending", func() {
			cells := []rep.CellState{newCell("A", "z", 3, 100, 100)}
			r := auctionrunner.Schedule(cfg, cells, nil, tasks(taskReq("t1", 1), taskReq("t2", 2), taskReq("t3", 1)))
			Expect(placements(r.PerCell)).To(Equal(map[string]string{"t2": "A", "t1": "A"}))
			Expect(r.FailedTasks).To(Equal([]auctionrunner.FailedTask{{TaskGuid: "t3", PlacementError: "insufficient resources: memory"}}))
		})
	})

	It("dedupes LRPs by process guid and index, tasks by guid", func() {
		cells := []rep.CellState{newCell("A", "z", 100, 100, 100)}
		r := auctionrunner.Schedule(cfg, cells,
			lrps(lrpReq("web", 1, 0, 1, 1), lrpReq("web", 1, 1, 2), lrpReq("api", 1, 0)),
			tasks(taskReq("t", 1), taskReq("t", 1), taskReq("u", 1)))
		Expect(r.PerCell["A"].LRPs).To(HaveLen(4))
		Expect(r.PerCell["A"].Tasks).To(HaveLen(2))
	})

	It("stops at the in-flight limit", func() {
		cfg.StartingContainerCountMaximum = 5
		a, b := newCell("A", "z", 100, 100, 100), newCell("B", "z", 100, 100, 100)
		a.StartingContainerCount, b.StartingContainerCount = 1, 2
		r := auctionrunner.Schedule(cfg, []rep.CellState{a, b}, lrps(lrpReq("web", 1, 0, 1, 2)), tasks(taskReq("t", 1)))
		// web/0 makes A's starting count 2, B's too: the task goes to the
		// emptier B. Then 3 + 2 placements reach the limit of 5.
		Expect(placements(r.PerCell)).To(Equal(map[string]string{"web/0": "A", "t": "B"}))
		Expect(failedLRPErrors(r)).To(Equal(map[string]string{
			"web/1": "waiting to start instance: reached in-flight start limit",
			"web/2": "waiting to start instance: reached in-flight start limit",
		}))
	})

	Describe("filter errors", func() {
		var noRootFS, noDriver, wrongTags, fits rep.CellState
		pc := rep.NewPlacementConstraint(linux, []string{"a", "b"}, []string{"nfs"})
		req := func() auctioneer.LRPStartRequest {
			r := lrpReq("web", 1, 0)
			r.PlacementConstraint = pc
			return r
		}

		BeforeEach(func() {
			noRootFS = newCell("R", "z", 10, 10, 10)
			noRootFS.RootFSProviders = rep.RootFSProviders{"preloaded": rep.NewFixedSetProvider("windows")}
			noDriver = newCell("D", "z", 10, 10, 10)
			wrongTags = newCell("T", "y", 10, 10, 10)
			wrongTags.VolumeDrivers = []string{"nfs"}
			fits = newCell("F", "y", 10, 10, 10)
			fits.VolumeDrivers = []string{"nfs"}
			fits.OptionalPlacementTags = []string{"a", "b"}
		})

		DescribeTable("reports the most specific mismatch seen",
			func(cells func() []rep.CellState, expected string) {
				r := auctionrunner.Schedule(cfg, cells(), lrps(req()), nil)
				Expect(failedLRPErrors(r)).To(Equal(map[string]string{"web/0": expected}))
				t := taskReq("t", 1)
				t.PlacementConstraint = pc
				r = auctionrunner.Schedule(cfg, cells(), nil, tasks(t))
				Expect(r.FailedTasks).To(Equal([]auctionrunner.FailedTask{{TaskGuid: "t", PlacementError: expected}}))
			},
			Entry("rootfs only", func() []rep.CellState { return []rep.CellState{noRootFS} },
				"found no compatible cell for required rootfs"),
			Entry("volume drivers beat rootfs", func() []rep.CellState { return []rep.CellState{noDriver, noRootFS} },
				"found no compatible cell with required volume drivers"),
			Entry("placement tags beat both", func() []rep.CellState { return []rep.CellState{wrongTags, noRootFS, noDriver} },
				`found no compatible cell with placement tags "a" and "b"`),
		)

		It("places on the one cell that passes every filter", func() {
			r := auctionrunner.Schedule(cfg, []rep.CellState{noRootFS, noDriver, wrongTags, fits}, lrps(req()), nil)
			Expect(placements(r.PerCell)).To(Equal(map[string]string{"web/0": "F"}))
		})
	})

	Describe("insufficient resources", func() {
		It("names only the problems every candidate cell had", func() {
			a, b := newCell("A", "z", 1, 10, 10), newCell("B", "y", 1, 0, 10)
			windows := newCell("W", "z", 0, 0, 0)
			windows.RootFSProviders = rep.RootFSProviders{}
			r := auctionrunner.Schedule(cfg, []rep.CellState{a, b, windows}, lrps(lrpReq("web", 2, 0)), nil)
			Expect(failedLRPErrors(r)).To(Equal(map[string]string{"web/0": "insufficient resources: memory"}))

			b = newCell("B", "y", 10, 0, 10)
			r = auctionrunner.Schedule(cfg, []rep.CellState{a, b}, lrps(lrpReq("web", 2, 0)), nil)
			Expect(failedLRPErrors(r)).To(Equal(map[string]string{"web/0": "insufficient resources"}))

			a, b = newCell("A", "z", 0, 0, 0), newCell("B", "y", 0, 0, 0)
			r = auctionrunner.Schedule(cfg, []rep.CellState{a, b}, nil, tasks(taskReq("t", 2)))
			Expect(r.FailedTasks[0].PlacementError).To(Equal("insufficient resources: containers, disk, memory"))
		})
	})

	Describe("scoring", func() {
		It("prefers the emptier cell and breaks ties by cell index", func() {
			a, b, c := newCell("A", "z", 100, 100, 100), newCell("B", "z", 100, 100, 100), newCell("C", "z", 100, 100, 100)
			a.AvailableResources.MemoryMB = 50
			r := auctionrunner.Schedule(cfg, []rep.CellState{a, b, c}, lrps(lrpReq("x", 1, 0)), nil)
			Expect(placements(r.PerCell)).To(Equal(map[string]string{"x/0": "B"}))
		})

		It("weighs starting containers", func() {
			a, b := newCell("A", "z", 100, 100, 100), newCell("B", "z", 100, 100, 100)
			a.StartingContainerCount = 4
			b.AvailableResources.MemoryMB = 10 // resource ~0.31 < 4 × 0.25
			r := auctionrunner.Schedule(cfg, []rep.CellState{a, b}, lrps(lrpReq("x", 1, 0)), tasks(taskReq("t", 1)))
			Expect(placements(r.PerCell)).To(Equal(map[string]string{"x/0": "B", "t": "B"}))
		})

		It("spreads instances of one process guid, not of different ones", func() {
			a, b := newCell("A", "z", 100, 100, 100), newCell("B", "z", 100, 100, 100)
			b.AvailableResources = rep.Resources{MemoryMB: 50, DiskMB: 50, Containers: 50}
			r := auctionrunner.Schedule(cfg, []rep.CellState{a, b}, lrps(lrpReq("web", 1, 0, 1)), nil)
			Expect(placements(r.PerCell)).To(Equal(map[string]string{"web/0": "A", "web/1": "B"}))

			r = auctionrunner.Schedule(cfg, []rep.CellState{a, b}, lrps(lrpReq("x", 1, 0), lrpReq("y", 1, 0)), nil)
			Expect(placements(r.PerCell)).To(Equal(map[string]string{"x/0": "A", "y/0": "A"}))
		})

		It("counts instances already running on the cell", func() {
			a, b := newCell("A", "z", 100, 100, 100), newCell("B", "z", 100, 100, 100)
			a.LRPs = []rep.LRP{{ProcessGuid: "web", Index: 0}}
			r := auctionrunner.Schedule(cfg, []rep.CellState{a, b}, lrps(lrpReq("web", 1, 1)), nil)
			Expect(placements(r.PerCell)).To(Equal(map[string]string{"web/1": "B"}))
		})

		It("spreads tasks", func() {
			a, b := newCell("A", "z", 100, 100, 100), newCell("B", "z", 100, 100, 100)
			b.AvailableResources = rep.Resources{MemoryMB: 50, DiskMB: 50, Containers: 50}
			r := auctionrunner.Schedule(cfg, []rep.CellState{a, b}, nil, tasks(taskReq("t1", 1), taskReq("t2", 1)))
			Expect(placements(r.PerCell)).To(Equal(map[string]string{"t1": "A", "t2": "B"}))
		})

		It("bin-packs by index within each zone", func() {
			cfg.BinPackFirstFitWeight = 0.5
			cells := []rep.CellState{newCell("A", "Z0", 100, 100, 100), newCell("B", "Z1", 100, 100, 100),
				newCell("C", "Z0", 100, 100, 100), newCell("D", "Z1", 100, 100, 100)}
			r := auctionrunner.Schedule(cfg, cells, lrps(lrpReq("x", 1, 0), lrpReq("y", 1, 0), lrpReq("z", 1, 0)), nil)
			Expect(placements(r.PerCell)).To(Equal(map[string]string{"x/0": "A", "y/0": "B", "z/0": "A"}))
			var zoneIndices []int
			for _, c := range r.Cells {
				zoneIndices = append(zoneIndices, c.ZoneIndex)
			}
			Expect(zoneIndices).To(Equal([]int{0, 0, 1, 1}))
		})
	})

	Describe("zones", func() {
		var cells []rep.CellState
		BeforeEach(func() {
			cells = []rep.CellState{newCell("A", "Z0", 100, 100, 100), newCell("B", "Z0", 100, 100, 100), newCell("C", "Z1", 100, 100, 100)}
		})

		It("puts an LRP in the zone with fewest instances of its guid", func() {
			r := auctionrunner.Schedule(cfg, cells, lrps(lrpReq("web", 1, 0, 1, 2, 3)), nil)
			Expect(placements(r.PerCell)).To(Equal(map[string]string{"web/0": "A", "web/1": "C", "web/2": "B", "web/3": "C"}))
		})

		It("goes on to the next zone when the least-loaded zone cannot take it", func() {
			cells[2].AvailableResources.MemoryMB = 0
			r := auctionrunner.Schedule(cfg, cells, lrps(lrpReq("web", 1, 0, 1)), nil)
			Expect(placements(r.PerCell)).To(Equal(map[string]string{"web/0": "A", "web/1": "B"}))
		})

		It("ignores zones for tasks", func() {
			r := auctionrunner.Schedule(cfg, cells, nil, tasks(taskReq("t1", 1), taskReq("t2", 1)))
			Expect(placements(r.PerCell)).To(Equal(map[string]string{"t1": "A", "t2": "B"}))
		})
	})

	It("is deterministic and leaves its input alone", func() {
		var cells []rep.CellState
		for i := range 7 {
			cells = append(cells, newCell(fmt.Sprintf("C%d", i), fmt.Sprintf("Z%d", i%3), 50, 50, 40))
		}
		cells[3].LRPs = []rep.LRP{{ProcessGuid: "g1"}}
		var reqs []auctioneer.LRPStartRequest
		var ts []auctioneer.TaskStartRequest
		for i := range 60 {
			reqs = append(reqs, lrpReq(fmt.Sprintf("g%d", i%5), int32(1+i%3), i/5))
			ts = append(ts, taskReq(fmt.Sprintf("t%d", i), int32(1+i%2)))
		}
		first := auctionrunner.Schedule(cfg, cells, reqs, ts)
		second := auctionrunner.Schedule(cfg, cells, reqs, ts)
		Expect(second.PerCell).To(Equal(first.PerCell))
		Expect(second.FailedLRPs).To(Equal(first.FailedLRPs))
		Expect(second.FailedTasks).To(Equal(first.FailedTasks))
		Expect(cells[3].LRPs).To(HaveLen(1))
		Expect(cells[0].AvailableResources.MemoryMB).To(BeEquivalentTo(50))
	})
})
