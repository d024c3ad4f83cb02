package auctionrunner

import (
	"cmp"
	"slices"
	"strings"

	"diego/auctioneer"
	"diego/rep"
)

// FailedLRP is one LRP instance that could not be placed.
type FailedLRP struct {
	ProcessGuid    string
	Index          int
	Domain         string
	PlacementError string
}

// FailedTask is one task that could not be placed.
type FailedTask struct {
	TaskGuid       string
	PlacementError string
}

// Result is the outcome of one round.
type Result struct {
	// PerCell is the work to send to each cell (POST /work), by cell id;
	// only cells that received work appear.
	PerCell     map[string]rep.Work
	FailedLRPs  []FailedLRP
	FailedTasks []FailedTask
	// Cells are the scheduler's copies of the cells after the round, in
	// input order.
	Cells []*Cell
}

// Schedule places one round's LRP instances and tasks on cells (spec core
// §5.2 item 4, §5.3 items 1–7). The caller has already left out the cells
// that did not answer or are evacuating. Requests are deduplicated (an LRP
// instance by process guid and index, a task by task guid; the first one
// wins); index-0 instances are placed first, then tasks, then the other
// instances. Schedule neither mutates its input nor does I/O, and score ties
// go to the lower cell index, so it is deterministic.
func Schedule(cfg Config, cells []rep.CellState, lrps []auctioneer.LRPStartRequest, tasks []auctioneer.TaskStartRequest) Result {
	s := newScheduler(cfg, cells)
	firsts, rest := orderLRPs(lrps)
	for _, a := range firsts {
		s.placeLRP(a)
	}
	for _, t := range orderTasks(tasks) {
		s.placeTask(t)
	}
	for _, a := range rest {
		s.placeLRP(a)
	}
	return s.finish()
}

// lrpAuction is one LRP instance to place.
type lrpAuction struct {
	lrp rep.LRP
}

type lrpIdentity struct {
	processGuid string
	index       int
}

// orderLRPs expands the requests into deduplicated instances sorted by
// index ascending then memory descending (ties keep request order), and
// splits off the index-0 ones.
func orderLRPs(reqs []auctioneer.LRPStartRequest) (firsts, rest []lrpAuction) {
	seen := map[lrpIdentity]bool{}
	var all []lrpAuction
	for _, r := range reqs {
		for _, i := range r.Indices {
			id := lrpIdentity{r.ProcessGuid, i}
			if seen[id] {
				continue
			}
			seen[id] = true
			all = append(all, lrpAuction{lrp: rep.LRP{
				ProcessGuid:         r.ProcessGuid,
				Index:               int32(i),
				Domain:              r.Domain,
				PlacementConstraint: r.PlacementConstraint,
				Resource:            r.Resource,
			}})
		}
	}
	slices.SortStableFunc(all, func(a, b lrpAuction) int {
		if c := cmp.Compare(a.lrp.Index, b.lrp.Index); c != 0 {
			return c
		}
		return cmp.Compare(b.lrp.MemoryMB, a.lrp.MemoryMB)
	})
	split := 0
	for split < len(all) && all[split].lrp.Index == 0 {
		split++
	}
	return all[:split], all[split:]
}

// orderTasks deduplicates the tasks by guid and sorts them by memory
// descending (ties keep request order).
func orderTasks(reqs []auctioneer.TaskStartRequest) []rep.Task {
	seen := map[string]bool{}
	var all []rep.Task
	for _, r := range reqs {
		if seen[r.TaskGuid] {
			continue
		}
		seen[r.TaskGuid] = true
		all = append(all, r.Task)
	}
	slices.SortStableFunc(all, func(a, b rep.Task) int { return cmp.Compare(b.MemoryMB, a.MemoryMB) })
	return all
}

type scheduler struct {
	cfg      Config
	cells    []*Cell
	zones    [][]*Cell // cells grouped by zone, zones in order of first appearance
	byKey    map[string]*candidates
	inflight int
	out      Result
}

// candidates are the cells that pass every filter for one placement
// constraint, per zone; filters depend only on the constraint, never on
// what was reserved, so they are computed once per constraint.
type candidates struct {
	zones [][]*Cell // non-empty zones only
	all   []*Cell
	err   string // the most specific mismatch, when zones is empty
}

func newScheduler(cfg Config, states []rep.CellState) *scheduler {
	s := &scheduler{cfg: cfg, byKey: map[string]*candidates{}}
	zoneOf := map[string]int{}
	for i, st := range states {
		c := NewCell(i, st)
		s.cells = append(s.cells, c)
		z, ok := zoneOf[st.Zone]
		if !ok {
			z = len(s.zones)
			zoneOf[st.Zone] = z
			s.zones = append(s.zones, nil)
		}
		c.ZoneIndex = len(s.zones[z])
		s.zones[z] = append(s.zones[z], c)
		s.inflight += st.StartingContainerCount
	}
	return s
}

func constraintKey(pc rep.PlacementConstraint) string {
	return pc.RootFs + "\x00" + strings.Join(pc.VolumeDrivers, "\x01") + "\x00" + strings.Join(pc.PlacementTags, "\x01")
}

func (s *scheduler) candidatesFor(pc rep.PlacementConstraint) *candidates {
	key := constraintKey(pc)
	if c, ok := s.byKey[key]; ok {
		return c
	}
	c := &candidates{}
	bestRank := -1
	for _, zone := range s.zones {
		var kept []*Cell
		for _, cell := range zone {
			rank, reason := applyFilters(&cell.State, pc)
			if rank == len(Filters) {
				kept = append(kept, cell)
				continue
			}
			if rank > bestRank {
				bestRank, c.err = rank, reason
			}
		}
		if len(kept) > 0 {
			c.zones = append(c.zones, kept)
			c.all = append(c.all, kept...)
		}
	}
	if len(c.zones) > 0 {
		c.err = ""
	}
	s.byKey[key] = c
	return c
}

// precheck returns the error that fails an auction before any cell is
// scored, or "".
func (s *scheduler) precheck() string {
	if len(s.cells) == 0 {
		return ErrNoCells
	}
	if limit := s.cfg.StartingContainerCountMaximum; limit > 0 && s.inflight >= limit {
		return ErrInflightLimit
	}
	return ""
}

// picker keeps the best-scoring fitting cell and the misfits every other
// candidate had.
type picker struct {
	best   *Cell
	score  float64
	misfit Misfit
}

func newPicker() picker { return picker{misfit: allMisfits} }

func (p *picker) consider(c *Cell, misfit Misfit, score func() float64) {
	if misfit != 0 {
		p.misfit &= misfit
		return
	}
	sc := score()
	if p.best == nil || sc < p.score || (sc == p.score && c.Index < p.best.Index) {
		p.best, p.score = c, sc
	}
}

func (p *picker) err() string { return p.misfit.Error() }

func (s *scheduler) placeLRP(a lrpAuction) {
	lrp := a.lrp
	fail := func(reason string) {
		s.out.FailedLRPs = append(s.out.FailedLRPs, FailedLRP{
			ProcessGuid: lrp.ProcessGuid, Index: int(lrp.Index), Domain: lrp.Domain, PlacementError: reason,
		})
	}
	if reason := s.precheck(); reason != "" {
		fail(reason)
		return
	}
	cands := s.candidatesFor(lrp.PlacementConstraint)
	if len(cands.zones) == 0 {
		fail(cands.err)
		return
	}

	type zoneLoad struct {
		cells []*Cell
		count int
	}
	zones := make([]zoneLoad, len(cands.zones))
	for i, z := range cands.zones {
		zones[i].cells = z
		for _, c := range z {
			zones[i].count += c.InstancesOf(lrp.ProcessGuid)
		}
	}
	slices.SortStableFunc(zones, func(a, b zoneLoad) int { return cmp.Compare(a.count, b.count) })

	p := newPicker()
	for i, z := range zones {
		for _, c := range z.cells {
			p.consider(c, c.FitLRP(lrp.Resource), func() float64 {
				return c.LRPScore(s.cfg, lrp.ProcessGuid, lrp.Resource)
			})
		}
		if i+1 < len(zones) && zones[i+1].count == z.count {
			continue
		}
		if p.best != nil {
			break
		}
	}
	if p.best == nil {
		fail(p.err())
		return
	}
	p.best.ReserveLRP(lrp)
	s.inflight++
}

func (s *scheduler) placeTask(task rep.Task) {
	fail := func(reason string) {
		s.out.FailedTasks = append(s.out.FailedTasks, FailedTask{TaskGuid: task.TaskGuid, PlacementError: reason})
	}
	if reason := s.precheck(); reason != "" {
		fail(reason)
		return
	}
	cands := s.candidatesFor(task.PlacementConstraint)
	if len(cands.all) == 0 {
		fail(cands.err)
		return
	}
	p := newPicker()
	for _, c := range cands.all {
		p.consider(c, c.Fit(task.Resource), func() float64 { return c.TaskScore(s.cfg, task.Resource) })
	}
	if p.best == nil {
		fail(p.err())
		return
	}
	p.best.ReserveTask(task)
	s.inflight++
}

func (s *scheduler) finish() Result {
	r := s.out
	r.PerCell = map[string]rep.Work{}
	for _, c := range s.cells {
		if len(c.Work.LRPs) > 0 || len(c.Work.Tasks) > 0 {
			r.PerCell[c.State.CellID] = c.Work
		}
	}
	r.Cells = s.cells
	return r
}
