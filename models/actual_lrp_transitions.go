package models

import "time"

// ActualLRP states, stored as strings (spec core §1.3).
const (
	ActualLRPStateUnclaimed = "UNCLAIMED"
	ActualLRPStateClaimed   = "CLAIMED"
	ActualLRPStateRunning   = "RUNNING"
	ActualLRPStateCrashed   = "CRASHED"
)

// Constants of the ActualLRP lifecycle (spec core §1.3).
const (
	CrashResetTimeout               = 5 * time.Minute
	StaleUnclaimedActualLRPDuration = 30 * time.Second
	RetireActualLRPRetryAttempts    = 5
	DefaultEvacuatingRecordTTL      = 10 * time.Minute
)

// AllowsTransitionTo checks the transition table of spec core §2.2: may a
// record in this state move to newState for the given keys? The ActualLRPKey
// must always match.
func (a *ActualLRP) AllowsTransitionTo(key *ActualLRPKey, instanceKey *ActualLRPInstanceKey, newState string) bool {
	if !sameActualKey(a.GetActualLrpKey(), key) {
		return false
	}
	emptyKey := isEmptyInstanceKey(instanceKey)
	sameKey := sameInstanceKey(a.GetActualLrpInstanceKey(), instanceKey)
	switch a.GetState() {
	case ActualLRPStateUnclaimed:
		switch newState {
		case ActualLRPStateUnclaimed, ActualLRPStateClaimed, ActualLRPStateRunning:
			return true
		}
	case ActualLRPStateClaimed:
		switch newState {
		case ActualLRPStateUnclaimed:
			return emptyKey
		case ActualLRPStateClaimed, ActualLRPStateCrashed:
			return sameKey
		case ActualLRPStateRunning:
			return true
		}
	case ActualLRPStateRunning:
		switch newState {
		case ActualLRPStateUnclaimed:
			return emptyKey
		case ActualLRPStateClaimed, ActualLRPStateRunning, ActualLRPStateCrashed:
			return sameKey
		}
	case ActualLRPStateCrashed:
		switch newState {
		case ActualLRPStateUnclaimed:
			return emptyKey
		case ActualLRPStateClaimed, ActualLRPStateRunning:
			return sameKey
		}
	}
	return false
}

func sameActualKey(a, b *ActualLRPKey) bool {
	return a.GetProcessGuid() == b.GetProcessGuid() && a.GetIndex() == b.GetIndex() && a.GetDomain() == b.GetDomain()
}

func sameInstanceKey(a, b *ActualLRPInstanceKey) bool {
	return a.GetInstanceGuid() == b.GetInstanceGuid() && a.GetCellId() == b.GetCellId()
}

// Crash restart policy (spec core §5.8).
const (
	ImmediateRestarts       = 3
	MaxRestartAttempts      = 200
	CrashBackoffMinDuration = 30 * time.Second
	MaxBackoffDuration      = 16 * time.Minute
	MaxBackoffCount         = 5
)

// NewCrashCount is the crash count after a crash at now: it starts again at 1
// when the instance had been RUNNING for longer than CrashResetTimeout.
func (a *ActualLRP) NewCrashCount(now time.Time) int32 {
	if a.GetState() == ActualLRPStateRunning && now.Sub(time.Unix(0, a.GetSince())) > CrashResetTimeout {
		return 1
	}
	return a.GetCrashCount() + 1
}

// ShouldRestartImmediately reports whether a crash that brought the count
// to crashCount restarts at once (the BBS auctions it inside the crash call).
func ShouldRestartImmediately(crashCount int32) bool {
	return crashCount < ImmediateRestarts
}

// ShouldRestartCrash reports whether convergence may restart a CRASHED
// instance now: after the backoff for its count, and never after
// MaxRestartAttempts crashes.
func (a *ActualLRP) ShouldRestartCrash(now time.Time) bool {
	if a.GetState() != ActualLRPStateCrashed {
		return false
	}
	c := a.GetCrashCount()
	if c < ImmediateRestarts {
		return true
	}
	if c >= MaxRestartAttempts {
		return false
	}
	return !now.Before(time.Unix(0, a.GetSince()).Add(CrashBackoff(c)))
}

// CrashBackoff is the wait before convergence restarts an instance with
// crashCount ≥ ImmediateRestarts: 30 s × 2^min(c−3, 5), capped at 16 min.
func CrashBackoff(crashCount int32) time.Duration {
	exp := min(int(crashCount)-ImmediateRestarts, MaxBackoffCount)
	if exp < 0 {
		return 0
	}
	return min(CrashBackoffMinDuration<<exp, MaxBackoffDuration)
}

// ResolveActualLRPGroup picks the record a 2015 consumer sees for one index:
// the evacuating one when there is no instance or the instance is not yet
// running (UNCLAIMED or CLAIMED); otherwise the instance. evacuating reports
// which was picked.
func ResolveActualLRPGroup(g *ActualLRPGroup) (lrp *ActualLRP, evacuating bool) {
	inst, evac := g.GetInstance(), g.GetEvacuating()
	if evac == nil {
		return inst, false
	}
	if inst == nil || inst.GetState() == ActualLRPStateUnclaimed || inst.GetState() == ActualLRPStateClaimed {
		return evac, true
	}
	return inst, false
}

// SucceededBy reports whether other is a later version than t: either epoch
// is empty, the epochs differ, or other's index is larger (spec core §1.4).
func (t *ModificationTag) SucceededBy(other *ModificationTag) bool {
	if t.GetEpoch() == "" || other.GetEpoch() == "" {
		return true
	}
	return t.GetEpoch() != other.GetEpoch() || t.GetIndex() < other.GetIndex()
}

// Increment bumps the index; every write of a record does it once.
func (t *ModificationTag) Increment() {
	t.Index++
}
