package auctionrunner

import (
	"slices"
	"strings"

	"diego/rep"
)

// Cell is the scheduler's working copy of one cell's state. Every
// reservation updates it, so later decisions in the round see it.
type Cell struct {
	// Index is the cell's position in the scheduler's input; it breaks
	// score ties.
	Index int
	// ZoneIndex is the cell's position among the cells of its zone, in
	// Index order; the bin-pack first-fit term multiplies it.
	ZoneIndex int
	// State is a private copy of the cell's reported state.
	State rep.CellState
	// Work is what this round placed on the cell.
	Work rep.Work

	guidCounts map[string]int
}

// NewCell copies state (its LRP and task lists too) into a Cell.
func NewCell(index int, state rep.CellState) *Cell {
	state.LRPs = slices.Clone(state.LRPs)
	state.Tasks = slices.Clone(state.Tasks)
	c := &Cell{
		Index:      index,
		State:      state,
		Work:       rep.Work{CellID: state.CellID},
		guidCounts: make(map[string]int, len(state.LRPs)),
	}
	for _, l := range state.LRPs {
		c.guidCounts[l.ProcessGuid]++
	}
	return c
}

// InstancesOf counts the instances of a process guid on the cell, the ones
// placed this round included.
func (c *Cell) InstancesOf(processGuid string) int { return c.guidCounts[processGuid] }

// Misfit is the set of resources a cell lacks for some work.
type Misfit uint8

// The resources that can be short.
const (
	MisfitContainers Misfit = 1 << iota
	MisfitDisk
	MisfitMemory
)

// allMisfits is the identity of set intersection.
const allMisfits = MisfitContainers | MisfitDisk | MisfitMemory

// Error is `insufficient resources: disk, memory` (names sorted), or
// `insufficient resources` for the empty set.
func (m Misfit) Error() string {
	var names []string
	if m&MisfitContainers != 0 {
		names = append(names, "containers")
	}
	if m&MisfitDisk != 0 {
		names = append(names, "disk")
	}
	if m&MisfitMemory != 0 {
		names = append(names, "memory")
	}
	if len(names) == 0 {
		return ErrInsufficientResource
	}
	return ErrInsufficientResource + ": " + strings.Join(names, ", ")
}

// lrpNeed is an LRP's resource need on this cell: its proxy's memory is
// added (spec core §5.3 item 4).
func (c *Cell) lrpNeed(r rep.Resource) rep.Resource {
	r.MemoryMB += int32(c.State.ProxyMemoryAllocationMB)
	return r
}

// Fit returns what the cell lacks to take need; 0 means it fits.
func (c *Cell) Fit(need rep.Resource) Misfit {
	var m Misfit
	avail := c.State.AvailableResources
	if avail.MemoryMB < need.MemoryMB {
		m |= MisfitMemory
	}
	if avail.DiskMB < need.DiskMB {
		m |= MisfitDisk
	}
	if avail.Containers < 1 {
		m |= MisfitContainers
	}
	return m
}

// FitLRP is Fit for one LRP instance.
func (c *Cell) FitLRP(r rep.Resource) Misfit { return c.Fit(c.lrpNeed(r)) }

// resourceScore is the mean used fraction of memory, disk and containers
// once need is placed.
func (c *Cell) resourceScore(need rep.Resource) float64 {
	avail, total := c.State.AvailableResources, c.State.TotalResources
	mem := usedFraction(float64(avail.MemoryMB-need.MemoryMB), float64(total.MemoryMB))
	disk := usedFraction(float64(avail.DiskMB-need.DiskMB), float64(total.DiskMB))
	containers := usedFraction(float64(avail.Containers-1), float64(total.Containers))
	return (mem + disk + containers) / 3
}

// usedFraction is 1 − left/total; a cell with no capacity counts as full.
func usedFraction(left, total float64) float64 {
	if total <= 0 {
		return 1
	}
	return 1 - left/total
}

func (c *Cell) startingScore(cfg Config) float64 {
	return float64(c.State.StartingContainerCount) * cfg.StartingContainerWeight
}

// LRPScore scores placing one instance of processGuid needing r here;
// lower wins.
func (c *Cell) LRPScore(cfg Config, processGuid string, r rep.Resource) float64 {
	return c.resourceScore(c.lrpNeed(r)) +
		c.startingScore(cfg) +
		cfg.LRPSpreadWeight*float64(c.InstancesOf(processGuid)) +
		cfg.BinPackFirstFitWeight*float64(c.ZoneIndex)
}

// TaskScore scores placing a task needing r here; lower wins.
func (c *Cell) TaskScore(cfg Config, r rep.Resource) float64 {
	return c.resourceScore(r) +
		c.startingScore(cfg) +
		cfg.TaskSpreadWeight*float64(len(c.State.Tasks))
}

// ReserveLRP takes the instance's resources, lists it on the cell, counts
// it as a starting container and queues it in the cell's work.
func (c *Cell) ReserveLRP(lrp rep.LRP) {
	c.subtract(c.lrpNeed(lrp.Resource))
	c.State.LRPs = append(c.State.LRPs, lrp)
	c.guidCounts[lrp.ProcessGuid]++
	c.Work.LRPs = append(c.Work.LRPs, lrp)
}

// ReserveTask takes the task's resources, lists it on the cell, counts it
// as a starting container and queues it in the cell's work.
func (c *Cell) ReserveTask(task rep.Task) {
	c.subtract(task.Resource)
	c.State.Tasks = append(c.State.Tasks, task)
	c.Work.Tasks = append(c.Work.Tasks, task)
}

// subtract books one new container of need on the cell. The container is
// also counted as starting, as Diego's CellState.AddLRP/AddTask do
// (decision 124): without it every placement of a round goes to the cell
// that reported the fewest starting containers until its resource score
// catches up with 0.25 per container, which on a large cell is dozens of
// placements.
func (c *Cell) subtract(need rep.Resource) {
	c.State.AvailableResources.MemoryMB -= need.MemoryMB
	c.State.AvailableResources.DiskMB -= need.DiskMB
	c.State.AvailableResources.Containers--
	c.State.StartingContainerCount++
}
