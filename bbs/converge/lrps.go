package converge

import (
	"cmp"
	"slices"
	"time"

	"diego/models"
)

// LRPRule names a decision of spec core §5.7; the names are the log names
// of §6.2 (session calculate-convergence), except RemoveEvacuating.
type LRPRule string

const (
	RuleMissing               LRPRule = "missing"
	RuleMissingCell           LRPRule = "missing-cell"
	RuleExtra                 LRPRule = "extra"
	RuleRestartCrash          LRPRule = "restart-crash"
	RuleStaleUnclaimed        LRPRule = "stale-unclaimed"
	RuleNoLongerDesired       LRPRule = "no-longer-desired"
	RuleSkippingUnfreshDomain LRPRule = "skipping-unfresh-domain"
	// RuleRemoveEvacuating deletes an evacuating record whose cell is gone.
	RuleRemoveEvacuating LRPRule = "evacuating-missing-cell"
)

// LRPSnapshot is what one LRP convergence pass reads (spec core §5.7):
// every instance and evacuating actual record, the scheduling infos by
// process guid, the fresh domains and the present cells.
type LRPSnapshot struct {
	Instances       []*models.ActualLRP
	Evacuating      []*models.ActualLRP
	SchedulingInfos map[string]*models.DesiredLRPSchedulingInfo
	FreshDomains    map[string]bool
	Cells           map[string]bool
}

// LRPAction is one decision. Key is the index it is about; LRP the record
// read (nil for RuleMissing).
type LRPAction struct {
	Rule LRPRule
	Key  *models.ActualLRPKey
	LRP  *models.ActualLRP
	// Recreate (RuleMissingCell only): the index is still desired, so
	// after the delete a fresh UNCLAIMED record is created and started.
	Recreate bool
}

// Starts reports whether the action puts its index in the auction request
// (once its write, if any, succeeded).
func (a LRPAction) Starts() bool {
	switch a.Rule {
	case RuleMissing, RuleRestartCrash, RuleStaleUnclaimed:
		return true
	case RuleMissingCell:
		return a.Recreate
	}
	return false
}

// LRPStart is the part of the pass's one auction request for one process
// guid.
type LRPStart struct {
	SchedulingInfo *models.DesiredLRPSchedulingInfo
	Indices        []int
}

// LRPCounts feed the gauges of spec core §6.2.
type LRPCounts struct {
	Desired, Unclaimed, Claimed, Running, Crashed int
	CrashingDesired                               int
	Missing, Extra                                int
}

// LRPPlan is what one LRP convergence pass does: the actions in process
// guid and index order (evacuating removals last), and the auction request
// the pass sends when every write succeeds.
type LRPPlan struct {
	Actions []LRPAction
	Starts  []LRPStart
	Counts  LRPCounts
}

// ConvergeLRPs applies the rules of spec core §5.7 to snap at now.
func ConvergeLRPs(now time.Time, snap LRPSnapshot) LRPPlan {
	var plan LRPPlan
	byGuid := map[string][]*models.ActualLRP{}
	for _, a := range snap.Instances {
		if a.GetActualLrpKey() == nil {
			continue
		}
		pg := a.GetActualLrpKey().GetProcessGuid()
		byGuid[pg] = append(byGuid[pg], a)
		switch a.GetState() {
		case models.ActualLRPStateUnclaimed:
			plan.Counts.Unclaimed++
		case models.ActualLRPStateClaimed:
			plan.Counts.Claimed++
		case models.ActualLRPStateRunning:
			plan.Counts.Running++
		case models.ActualLRPStateCrashed:
			plan.Counts.Crashed++
		}
	}
	guids := make([]string, 0, len(byGuid)+len(snap.SchedulingInfos))
	for pg := range byGuid {
		guids = append(guids, pg)
	}
	for pg := range snap.SchedulingInfos {
		if _, ok := byGuid[pg]; !ok {
			guids = append(guids, pg)
		}
	}
	slices.Sort(guids)

	for _, pg := range guids {
		actuals := byGuid[pg]
		slices.SortStableFunc(actuals, func(a, b *models.ActualLRP) int {
			return cmp.Compare(a.GetActualLrpKey().GetIndex(), b.GetActualLrpKey().GetIndex())
		})
		info, desired := snap.SchedulingInfos[pg]
		if !desired || info == nil {
			for _, a := range actuals {
				rule := RuleSkippingUnfreshDomain
				if snap.FreshDomains[a.GetActualLrpKey().GetDomain()] {
					rule = RuleNoLongerDesired
					plan.Counts.Extra++
				}
				plan.Actions = append(plan.Actions, LRPAction{Rule: rule, Key: a.GetActualLrpKey(), LRP: a})
			}
			continue
		}
		plan.Actions = append(plan.Actions, convergeDesired(now, snap, info, actuals, &plan.Counts)...)
	}

	for _, e := range snap.Evacuating {
		if e.GetActualLrpKey() == nil || snap.Cells[e.GetActualLrpInstanceKey().GetCellId()] {
			continue
		}
		plan.Actions = append(plan.Actions, LRPAction{Rule: RuleRemoveEvacuating, Key: e.GetActualLrpKey(), LRP: e})
	}

	plan.Starts = GroupStarts(snap.SchedulingInfos, plan.Actions)
	return plan
}

// convergeDesired decides for one desired LRP and its instance records
// (sorted by index).
func convergeDesired(now time.Time, snap LRPSnapshot, info *models.DesiredLRPSchedulingInfo, actuals []*models.ActualLRP, counts *LRPCounts) []LRPAction {
	var actions []LRPAction
	dk := info.GetDesiredLrpKey()
	n := info.GetInstances()
	counts.Desired += int(n)

	present := make(map[int32]bool, len(actuals))
	crashing := false
	for _, a := range actuals {
		present[a.GetActualLrpKey().GetIndex()] = true
		crashing = crashing || a.GetState() == models.ActualLRPStateCrashed
	}
	if crashing {
		counts.CrashingDesired++
	}
	for i := int32(0); i < n; i++ {
		if present[i] {
			continue
		}
		counts.Missing++
		actions = append(actions, LRPAction{Rule: RuleMissing,
			Key: &models.ActualLRPKey{ProcessGuid: dk.GetProcessGuid(), Index: i, Domain: dk.GetDomain()}})
	}

	for _, a := range actuals {
		key := a.GetActualLrpKey()
		index := key.GetIndex()
		state := a.GetState()
		switch {
		case (state == models.ActualLRPStateClaimed || state == models.ActualLRPStateRunning) &&
			!snap.Cells[a.GetActualLrpInstanceKey().GetCellId()]:
			actions = append(actions, LRPAction{Rule: RuleMissingCell, Key: key, LRP: a, Recreate: index < n})
		case index >= n && snap.FreshDomains[dk.GetDomain()]:
			counts.Extra++
			actions = append(actions, LRPAction{Rule: RuleExtra, Key: key, LRP: a})
		case state == models.ActualLRPStateCrashed && a.ShouldRestartCrash(now):
			actions = append(actions, LRPAction{Rule: RuleRestartCrash, Key: key, LRP: a})
		case state == models.ActualLRPStateUnclaimed &&
			now.Sub(time.Unix(0, a.GetSince())) > models.StaleUnclaimedActualLRPDuration:
			actions = append(actions, LRPAction{Rule: RuleStaleUnclaimed, Key: key, LRP: a})
		}
	}
	return actions
}

// GroupStarts builds the auction request of the actions that start an
// index: one entry per process guid (in guid order) with its indices in
// order. Actions of process guids that have no scheduling info are left
// out.
func GroupStarts(infos map[string]*models.DesiredLRPSchedulingInfo, actions []LRPAction) []LRPStart {
	byGuid := map[string][]int{}
	for _, a := range actions {
		if !a.Starts() {
			continue
		}
		pg := a.Key.GetProcessGuid()
		if infos[pg] == nil {
			continue
		}
		byGuid[pg] = append(byGuid[pg], int(a.Key.GetIndex()))
	}
	guids := make([]string, 0, len(byGuid))
	for pg := range byGuid {
		guids = append(guids, pg)
	}
	slices.Sort(guids)
	starts := make([]LRPStart, 0, len(guids))
	for _, pg := range guids {
		indices := byGuid[pg]
		slices.Sort(indices)
		starts = append(starts, LRPStart{SchedulingInfo: infos[pg], Indices: slices.Compact(indices)})
	}
	return starts
}
