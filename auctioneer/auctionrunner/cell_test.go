package auctionrunner_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/auctioneer/auctionrunner"
	"diego/rep"
)

var _ = Describe("Cell", func() {
	var (
		state rep.CellState
		cell  *auctionrunner.Cell
		cfg   auctionrunner.Config
		need  rep.Resource
	)

	BeforeEach(func() {
		state = newCell("c", "z", 100, 200, 10)
		state.LRPs = []rep.LRP{{ProcessGuid: "web"}, {ProcessGuid: "web"}, {ProcessGuid: "worker"}}
		state.Tasks = []rep.Task{{TaskGuid: "t1"}}
		state.AvailableResources = rep.Resources{MemoryMB: 40, DiskMB: 100, Containers: 5}
		state.StartingContainerCount = 2
		cell = auctionrunner.NewCell(3, state)
		cell.ZoneIndex = 2
		cfg = auctionrunner.DefaultConfig()
		need = rep.NewResource(10, 20, 0)
	})

	It("has the default weights", func() {
		Expect(cfg).To(Equal(auctionrunner.Config{
			StartingContainerWeight: 0.25, BinPackFirstFitWeight: 0, LRPSpreadWeight: 1000, TaskSpreadWeight: 1000,
		}))
	})

	Describe("Fit", func() {
		It("fits with room for memory, disk and one container", func() {
			Expect(cell.Fit(need)).To(BeZero())
			Expect(cell.Fit(rep.NewResource(40, 100, 0))).To(BeZero())
		})

		It("names every resource that is short", func() {
			Expect(cell.Fit(rep.NewResource(41, 1, 0))).To(Equal(auctionrunner.MisfitMemory))
			Expect(cell.Fit(rep.NewResource(41, 101, 0))).To(Equal(auctionrunner.MisfitMemory | auctionrunner.MisfitDisk))
			cell.State.AvailableResources.Containers = 0
			Expect(cell.Fit(need)).To(Equal(auctionrunner.MisfitContainers))
		})

		It("adds the proxy's memory for LRPs only", func() {
			cell.State.ProxyMemoryAllocationMB = 35
			Expect(cell.Fit(need)).To(BeZero())
			Expect(cell.FitLRP(need)).To(Equal(auctionrunner.MisfitMemory))
		})

		It("words misfit sets sorted", func() {
			Expect(auctionrunner.Misfit(0).Error()).To(Equal("insufficient resources"))
			Expect((auctionrunner.MisfitMemory | auctionrunner.MisfitDisk).Error()).To(Equal("insufficient resources: disk, memory"))
			Expect((auctionrunner.MisfitMemory | auctionrunner.MisfitContainers | auctionrunner.MisfitDisk).Error()).
				To(Equal("insufficient resources: containers, disk, memory"))
		})
	})

	Describe("scores", func() {
		// as if placed: memory (100-30)/100, disk (200-80)/200, containers (10-4)/10
		resource := (0.7 + 0.6 + 0.6) / 3

		It("scores an LRP: resource, starting containers, same-guid spread, bin-pack", func() {
			Expect(cell.LRPScore(cfg, "new", need)).To(BeNumerically("~", resource+2*0.25, 1e-9))
			Expect(cell.LRPScore(cfg, "web", need)).To(BeNumerically("~", resource+0.5+2000, 1e-9))
			cfg.BinPackFirstFitWeight = 0.5
			cfg.LRPSpreadWeight = 1
			cfg.StartingContainerWeight = 0
			Expect(cell.LRPScore(cfg, "worker", need)).To(BeNumerically("~", resource+1+2*0.5, 1e-9))
		})

		It("scores a task: resource, starting containers, tasks on the cell", func() {
			Expect(cell.TaskScore(cfg, need)).To(BeNumerically("~", resource+0.5+1000, 1e-9))
			cfg.BinPackFirstFitWeight = 7 // tasks ignore bin-packing
			cfg.TaskSpreadWeight = 0
			Expect(cell.TaskScore(cfg, need)).To(BeNumerically("~", resource+0.5, 1e-9))
		})
	})

	Describe("reserving", func() {
		It("takes the resources and lists the LRP on the cell and in its work", func() {
			lrp := rep.LRP{ProcessGuid: "worker", Index: 1, Resource: need}
			cell.ReserveLRP(lrp)
			Expect(cell.State.AvailableResources).To(Equal(rep.Resources{MemoryMB: 30, DiskMB: 80, Containers: 4}))
			Expect(cell.InstancesOf("worker")).To(Equal(2))
			Expect(cell.State.LRPs).To(HaveLen(4))
			Expect(cell.Work.LRPs).To(Equal([]rep.LRP{lrp}))
			Expect(cell.Work.CellID).To(Equal("c"))
		})

		It("takes the resources and lists the task", func() {
			task := rep.Task{TaskGuid: "t2", Resource: need}
			cell.ReserveTask(task)
			Expect(cell.State.AvailableResources).To(Equal(rep.Resources{MemoryMB: 30, DiskMB: 80, Containers: 4}))
			Expect(cell.State.Tasks).To(HaveLen(2))
			Expect(cell.Work.Tasks).To(Equal([]rep.Task{task}))
		})

		It("counts every reservation as a starting container, so later scores see it", func() {
			before := cell.LRPScore(cfg, "new", need)
			cell.ReserveLRP(rep.LRP{ProcessGuid: "worker", Index: 1, Resource: need})
			Expect(cell.State.StartingContainerCount).To(Equal(3))
			cell.ReserveTask(rep.Task{TaskGuid: "t2", Resource: need})
			Expect(cell.State.StartingContainerCount).To(Equal(4))
			// two more containers' resources, and two more starting ones
			// at 0.25 each
			resourceStep := (10.0/100 + 20.0/200 + 1.0/10) / 3
			Expect(cell.LRPScore(cfg, "new", need)).To(BeNumerically("~", before+2*resourceStep+2*0.25, 1e-9))
		})

		It("never touches the state it was built from", func() {
			cell.ReserveLRP(rep.LRP{ProcessGuid: "web"})
			Expect(state.LRPs).To(HaveLen(3))
			Expect(state.AvailableResources.Containers).To(Equal(5))
			Expect(state.StartingContainerCount).To(Equal(2))
		})
	})
})
