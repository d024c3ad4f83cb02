// Package metricsserver is the brain's metrics-server (spec core §6.4): it
// reads the BBS API on a timer, emits the figures as dropsonde gauges, and
// serves the latest ones as JSON. It takes no lock: every instance reports
// the same figures.
package metricsserver

import (
	"errors"
	"time"

	"diego/bbs/converge"
	"diego/models"
)

// Snapshot is what one report reads from the BBS; a nil error field means
// the read worked.
type Snapshot struct {
	Tasks              []*models.Task
	TasksErr           error
	SchedulingInfos    []*models.DesiredLRPSchedulingInfo
	SchedulingInfosErr error
	ActualLRPs         []*models.ActualLRP
	ActualLRPsErr      error
	Domains            []string
	DomainsErr         error
	Cells              []*models.CellPresence
	CellsErr           error
}

// Figures computes every gauge of spec core §6.4 from a snapshot; a figure
// whose read failed is -1.
func Figures(s Snapshot) map[string]float64 {
	f := map[string]float64{}
	set := func(failed error, values map[string]float64) {
		for name, v := range values {
			if failed != nil {
				v = -1
			}
			f[name] = v
		}
	}

	byState := map[models.Task_State]float64{}
	for _, t := range s.Tasks {
		byState[t.GetState()]++
	}
	set(s.TasksErr, map[string]float64{
		"TasksPending": byState[models.Task_Pending], "TasksRunning": byState[models.Task_Running],
		"TasksCompleted": byState[models.Task_Completed], "TasksResolving": byState[models.Task_Resolving],
	})

	// The LRP figures are the counts of one convergence plan over the
	// snapshot, so "missing" and "extra" mean exactly what spec core §5.7
	// acts on (fresh domains, missing cells and all).
	counts := converge.ConvergeLRPs(time.Time{}, lrpSnapshot(s)).Counts
	set(s.SchedulingInfosErr, map[string]float64{"LRPsDesired": float64(counts.Desired)})
	set(s.ActualLRPsErr, map[string]float64{
		"LRPsUnclaimed": float64(counts.Unclaimed), "LRPsClaimed": float64(counts.Claimed),
		"LRPsRunning": float64(counts.Running), "CrashedActualLRPs": float64(counts.Crashed),
	})
	set(errors.Join(s.SchedulingInfosErr, s.ActualLRPsErr), map[string]float64{
		"CrashingDesiredLRPs": float64(counts.CrashingDesired), "LRPsMissing": float64(counts.Missing),
	})
	set(errors.Join(s.SchedulingInfosErr, s.ActualLRPsErr, s.DomainsErr, s.CellsErr),
		map[string]float64{"LRPsExtra": float64(counts.Extra)})

	if s.DomainsErr == nil {
		for _, d := range s.Domains {
			f["Domain."+d] = 1
		}
	}
	set(s.CellsErr, map[string]float64{"PresentCells": float64(len(s.Cells))})
	return f
}

// lrpSnapshot is the snapshot as convergence sees it.
func lrpSnapshot(s Snapshot) converge.LRPSnapshot {
	snap := converge.LRPSnapshot{
		SchedulingInfos: make(map[string]*models.DesiredLRPSchedulingInfo, len(s.SchedulingInfos)),
		FreshDomains:    make(map[string]bool, len(s.Domains)),
		Cells:           make(map[string]bool, len(s.Cells)),
	}
	for _, si := range s.SchedulingInfos {
		snap.SchedulingInfos[si.GetDesiredLrpKey().GetProcessGuid()] = si
	}
	for _, d := range s.Domains {
		snap.FreshDomains[d] = true
	}
	for _, c := range s.Cells {
		snap.Cells[c.GetCellId()] = true
	}
	for _, lrp := range s.ActualLRPs {
		if lrp.GetPresence() == models.ActualLRP_EVACUATING {
			snap.Evacuating = append(snap.Evacuating, lrp)
		} else {
			snap.Instances = append(snap.Instances, lrp)
		}
	}
	return snap
}
