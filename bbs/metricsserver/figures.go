// Package metricsserver is the brain's metrics-server (spec core §6.4): it
// reads the BBS API on a timer, emits the figures as dropsonde gauges, and
// serves the latest ones as JSON. It takes no lock: every instance reports
// the same figures.
package metricsserver

import "diego/models"

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

	instances := map[string]int32{}
	var desired float64
	for _, si := range s.SchedulingInfos {
		instances[si.GetDesiredLrpKey().GetProcessGuid()] = si.GetInstances()
		desired += float64(si.GetInstances())
	}
	set(s.SchedulingInfosErr, map[string]float64{"LRPsDesired": desired})

	lrpStates := map[string]float64{}
	crashing := map[string]bool{}
	seen := map[string]map[int32]bool{}
	var extra float64
	for _, lrp := range s.ActualLRPs {
		if lrp.GetPresence() == models.ActualLRP_EVACUATING {
			continue
		}
		lrpStates[lrp.GetState()]++
		pg, index := lrp.GetActualLrpKey().GetProcessGuid(), lrp.GetActualLrpKey().GetIndex()
		if lrp.GetState() == models.ActualLRPStateCrashed {
			crashing[pg] = true
		}
		if seen[pg] == nil {
			seen[pg] = map[int32]bool{}
		}
		seen[pg][index] = true
		if n, ok := instances[pg]; ok && index >= n {
			extra++
		}
	}
	set(s.ActualLRPsErr, map[string]float64{
		"LRPsUnclaimed": lrpStates[models.ActualLRPStateUnclaimed], "LRPsClaimed": lrpStates[models.ActualLRPStateClaimed],
		"LRPsRunning": lrpStates[models.ActualLRPStateRunning], "CrashedActualLRPs": lrpStates[models.ActualLRPStateCrashed],
		"CrashingDesiredLRPs": float64(len(crashing)),
	})

	var missing float64
	for pg, n := range instances {
		for i := int32(0); i < n; i++ {
			if !seen[pg][i] {
				missing++
			}
		}
	}
	var bothErr error = s.SchedulingInfosErr
	if bothErr == nil {
		bothErr = s.ActualLRPsErr
	}
	set(bothErr, map[string]float64{"LRPsMissing": missing, "LRPsExtra": extra})

	if s.DomainsErr == nil {
		for _, d := range s.Domains {
			f["Domain."+d] = 1
		}
	}
	set(s.CellsErr, map[string]float64{"PresentCells": float64(len(s.Cells))})
	return f
}
