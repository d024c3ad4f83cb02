package etcddb

import (
	"context"
	"errors"
	"log/slog"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"diego/deploy/logging"
	"diego/models"
)

// Evacuation (spec core §2.3). While a cell drains, an index may have an
// evacuating record beside its instance record: RUNNING with the draining
// cell's instance key, under an etcd lease so that it disappears with the
// cell. Its actual-by-cell index entry lives under the same lease.

// holds reports whether instanceKey is a real key and lrp carries it.
func holds(lrp *models.ActualLRP, instanceKey *models.ActualLRPInstanceKey) bool {
	return instanceKey.GetInstanceGuid() != "" && instanceKey.GetCellId() != "" &&
		sameInstanceKey(lrp.GetActualLrpInstanceKey(), instanceKey)
}

// removeOwnEvacuatingWrite is the removal of the caller's evacuating record in p, or
// nothing (ok false) when p has none of the caller's.
func (e *ETCDDB) removeOwnEvacuatingWrite(p actualPair, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey) (actualWrite, bool) {
	if p.evacuating == nil || !holds(p.evacuating, instanceKey) {
		return actualWrite{}, false
	}
	return actualWrite{
		key: e.keys.ActualEvacuating(key.GetProcessGuid(), key.GetIndex()), rev: p.evacuatingRev,
		before: p.evacuating, evacuating: true,
	}, true
}

// removeOwnEvacuating deletes the caller's evacuating record of key, if
// there is one, guarded by the revision read (re-read on a lost race).
func (e *ETCDDB) removeOwnEvacuating(ctx context.Context, logger *slog.Logger, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey) (bool, error) {
	removed := false
	err := retryLostRace(ctx, logger, "remove-own-evacuating", func(attempt int) error {
		p, err := e.readActualPair(ctx, key.GetProcessGuid(), key.GetIndex())
		if err != nil {
			return err
		}
		staged("remove-own-evacuating", attempt)
		w, ok := e.removeOwnEvacuatingWrite(p, key, instanceKey)
		if !ok {
			removed = false
			return nil
		}
		if err := e.writeActuals(ctx, models.ErrActualLRPCannotBeRemoved, nil, w); err != nil {
			return err
		}
		removed = true
		return nil
	})
	return removed, err
}

// evacuatingRecord is the evacuating record the caller reports: existing
// rewritten (one more write of it), or a new one.
func (e *ETCDDB) evacuatingRecord(existing *models.ActualLRP, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey, netInfo *models.ActualLRPNetInfo, internalRoutes []*models.ActualLRPInternalRoute, metricTags map[string]string, routable *bool, availabilityZone string) *models.ActualLRP {
	var lrp *models.ActualLRP
	if existing != nil {
		lrp = cloneActual(existing)
		lrp.ActualLrpKey = cloneKey(key)
		bumpTag(lrp)
		lrp.Since = e.now()
	} else {
		lrp = e.newActual(key, models.ActualLRPStateRunning)
	}
	setRunning(lrp, instanceKey, netInfo, internalRoutes, metricTags, routable, availabilityZone)
	lrp.CrashCount, lrp.CrashReason = 0, ""
	lrp.Presence = models.ActualLRP_EVACUATING
	return lrp
}

// sameEvacuating reports whether the evacuating record is already exactly
// what the caller reports, so that nothing needs writing.
func sameEvacuating(evac *models.ActualLRP, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey, netInfo *models.ActualLRPNetInfo, internalRoutes []*models.ActualLRPInternalRoute, metricTags map[string]string, routable *bool, availabilityZone string) bool {
	return evac != nil && sameActualKey(evac.GetActualLrpKey(), key) &&
		sameRunning(evac, instanceKey, netInfo, internalRoutes, metricTags, routable, availabilityZone)
}

// EvacuateClaimedActualLRP gives back an instance its draining cell had
// claimed but not started.
func (e *ETCDDB) EvacuateClaimedActualLRP(ctx context.Context, logger *slog.Logger, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey) (bool, *models.ActualLRP, error) {
	logger = logging.Session(logger, "evacuate-claimed-actual-lrp", "process_guid", key.GetProcessGuid(), "index", key.GetIndex(),
		"instance_guid", instanceKey.GetInstanceGuid(), "cell_id", instanceKey.GetCellId())
	if _, err := e.removeOwnEvacuating(ctx, logger, key, instanceKey); err != nil {
		logger.Info("failed-to-remove-evacuating", "error", err)
	}
	var unclaimed *models.ActualLRP
	err := retryLostRace(ctx, logger, "evacuate-claimed-actual-lrp", func(attempt int) error {
		unclaimed = nil
		cur, rev, err := e.actual(ctx, key.GetProcessGuid(), key.GetIndex())
		if errors.Is(err, models.ErrResourceNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		staged("evacuate-claimed-actual-lrp", attempt)
		if !holds(cur, instanceKey) {
			logger.Debug("instance-not-held", "state", cur.GetState())
			return nil
		}
		next, err := e.unclaimed(cur, cur.GetActualLrpKey())
		if err != nil {
			return err
		}
		if err := e.swapInstance(ctx, cur, next, rev, models.ErrActualLRPCannotBeUnclaimed); err != nil {
			return err
		}
		logger.Debug("unclaimed")
		unclaimed = next
		return nil
	})
	if err != nil {
		return false, nil, err
	}
	return false, unclaimed, nil
}

// EvacuateRunningActualLRP applies the EvacuateRunning decision table.
func (e *ETCDDB) EvacuateRunningActualLRP(ctx context.Context, logger *slog.Logger, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey, netInfo *models.ActualLRPNetInfo, ttl time.Duration, internalRoutes []*models.ActualLRPInternalRoute, metricTags map[string]string, routable *bool, availabilityZone string) (bool, bool, error) {
	logger = logging.Session(logger, "evacuate-running-actual-lrp", "process_guid", key.GetProcessGuid(), "index", key.GetIndex(),
		"instance_guid", instanceKey.GetInstanceGuid(), "cell_id", instanceKey.GetCellId())
	if ttl <= 0 {
		ttl = models.DefaultEvacuatingRecordTTL
	}
	var keep, needsAuction bool
	err := retryLostRace(ctx, logger, "evacuate-running-actual-lrp", func(attempt int) error {
		var err error
		keep, needsAuction, err = e.evacuateRunningOnce(ctx, logger, key, instanceKey, netInfo, ttl, internalRoutes, metricTags, routable, availabilityZone, attempt)
		return err
	})
	return keep, needsAuction, err
}

// evacuateRunningOnce is one round of EvacuateRunningActualLRP: one read
// of both records, one decision, one transaction.
func (e *ETCDDB) evacuateRunningOnce(ctx context.Context, logger *slog.Logger, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey, netInfo *models.ActualLRPNetInfo, ttl time.Duration, internalRoutes []*models.ActualLRPInternalRoute, metricTags map[string]string, routable *bool, availabilityZone string, attempt int) (bool, bool, error) {
	p, err := e.readActualPair(ctx, key.GetProcessGuid(), key.GetIndex())
	if err != nil {
		return true, false, err
	}
	staged("evacuate-running-actual-lrp", attempt)
	inst, evac := p.instance, p.evacuating
	evacKey := e.keys.ActualEvacuating(key.GetProcessGuid(), key.GetIndex())
	identical := sameEvacuating(evac, key, instanceKey, netInfo, internalRoutes, metricTags, routable, availabilityZone)
	newEvacuating := func() actualWrite {
		return actualWrite{
			key: evacKey, rev: p.evacuatingRev, before: evac, evacuating: true,
			after: e.evacuatingRecord(evac, key, instanceKey, netInfo, internalRoutes, metricTags, routable, availabilityZone),
		}
	}
	removeOwn := func(reason string) (bool, bool, error) {
		w, ok := e.removeOwnEvacuatingWrite(p, key, instanceKey)
		if ok {
			if err := e.writeActuals(ctx, models.ErrActualLRPCannotBeRemoved, nil, w); err != nil {
				return false, false, err
			}
		}
		logger.Debug("not-keeping-container", "reason", reason, "removed_evacuating", ok)
		return false, false, nil
	}

	switch {
	case inst == nil:
		return removeOwn("instance-missing")

	case inst.GetState() == models.ActualLRPStateUnclaimed && inst.GetPlacementError() == "",
		inst.GetState() == models.ActualLRPStateClaimed && !holds(inst, instanceKey):
		// The replacement is not running yet: keep routing to this one,
		// unless another cell's evacuating record already does.
		if evac != nil && !holds(evac, instanceKey) {
			logger.Debug("not-keeping-container", "reason", "evacuating-elsewhere")
			return false, false, nil
		}
		if identical {
			return true, false, nil
		}
		if err := e.writeLeased(ctx, ttl, models.ErrResourceConflict, nil, newEvacuating()); err != nil {
			return true, false, err
		}
		logger.Debug("evacuating", "instance_state", inst.GetState())
		return true, false, nil

	case (inst.GetState() == models.ActualLRPStateClaimed || inst.GetState() == models.ActualLRPStateRunning) && holds(inst, instanceKey):
		// This cell holds the instance: move it to the evacuating record
		// and give the instance back for a new placement, in one step.
		unclaimed, err := e.unclaimed(inst, inst.GetActualLrpKey())
		if err != nil {
			return true, false, err
		}
		instWrite := actualWrite{
			key: e.keys.ActualInstance(key.GetProcessGuid(), key.GetIndex()), rev: p.instanceRev,
			before: inst, after: unclaimed,
		}
		if identical {
			err = e.writeActuals(ctx, models.ErrResourceConflict, []clientv3.Cmp{unchanged(evacKey, p.evacuatingRev)}, instWrite)
		} else {
			err = e.writeLeased(ctx, ttl, models.ErrResourceConflict, []actualWrite{instWrite}, newEvacuating())
		}
		if err != nil {
			return true, false, err
		}
		logger.Debug("evacuating-and-unclaimed", "instance_state", inst.GetState())
		return true, true, nil

	default:
		// UNCLAIMED with a placement error, RUNNING elsewhere, or CRASHED.
		return removeOwn("instance-" + inst.GetState())
	}
}

// writeLeased commits leased (under a new lease of ttl) together with
// others in one transaction. A lease nothing ended up using is revoked.
func (e *ETCDDB) writeLeased(ctx context.Context, ttl time.Duration, failed *models.Error, others []actualWrite, leased actualWrite) error {
	lease, err := grantLease(ctx, e.client, leased.key, ttl)
	if err != nil {
		return err
	}
	leased.lease = lease
	err = e.writeActuals(ctx, failed, nil, append([]actualWrite{leased}, others...)...)
	if err != nil {
		// Best effort: an unused lease expires on its own anyway.
		_, _ = e.client.Revoke(ctx, lease)
	}
	return err
}

// EvacuateStoppedActualLRP removes the caller's evacuating record and the
// instance it holds.
func (e *ETCDDB) EvacuateStoppedActualLRP(ctx context.Context, logger *slog.Logger, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey) (bool, error) {
	logger = logging.Session(logger, "evacuate-stopped-actual-lrp", "process_guid", key.GetProcessGuid(), "index", key.GetIndex(),
		"instance_guid", instanceKey.GetInstanceGuid(), "cell_id", instanceKey.GetCellId())
	if _, err := e.removeOwnEvacuating(ctx, logger, key, instanceKey); err != nil {
		return false, err
	}
	err := retryLostRace(ctx, logger, "evacuate-stopped-actual-lrp", func(attempt int) error {
		inst, rev, err := e.actual(ctx, key.GetProcessGuid(), key.GetIndex())
		if errors.Is(err, models.ErrResourceNotFound) {
			return models.ErrActualLRPCannotBeRemoved
		}
		if err != nil {
			return err
		}
		staged("evacuate-stopped-actual-lrp", attempt)
		if !holds(inst, instanceKey) {
			logger.Debug("instance-not-held", "state", inst.GetState())
			return models.ErrActualLRPCannotBeRemoved
		}
		return e.deleteInstance(ctx, inst, rev, models.ErrActualLRPCannotBeRemoved)
	})
	if err != nil {
		return false, err
	}
	logger.Debug("removed")
	return false, nil
}

// EvacuateCrashedActualLRP removes the caller's evacuating record and
// crashes the instance, saying whether it should be placed again now.
func (e *ETCDDB) EvacuateCrashedActualLRP(ctx context.Context, logger *slog.Logger, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey, reason string) (bool, error) {
	logger = logging.Session(logger, "evacuate-crashed-actual-lrp", "process_guid", key.GetProcessGuid(), "index", key.GetIndex(),
		"instance_guid", instanceKey.GetInstanceGuid(), "cell_id", instanceKey.GetCellId())
	if _, err := e.removeOwnEvacuating(ctx, logger, key, instanceKey); err != nil {
		return false, err
	}
	_, _, restart, err := e.CrashActualLRP(ctx, logger, key, instanceKey, reason)
	if errors.Is(err, models.ErrResourceNotFound) {
		return false, nil
	}
	return restart, err
}

// RemoveEvacuatingActualLRP deletes the evacuating record instanceKey
// holds.
func (e *ETCDDB) RemoveEvacuatingActualLRP(ctx context.Context, logger *slog.Logger, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey) error {
	logger = logging.Session(logger, "remove-evacuating-actual-lrp", "process_guid", key.GetProcessGuid(), "index", key.GetIndex(),
		"instance_guid", instanceKey.GetInstanceGuid(), "cell_id", instanceKey.GetCellId())
	return retryLostRace(ctx, logger, "remove-evacuating-actual-lrp", func(attempt int) error {
		p, err := e.readActualPair(ctx, key.GetProcessGuid(), key.GetIndex())
		if err != nil {
			return err
		}
		staged("remove-evacuating-actual-lrp", attempt)
		if p.evacuating == nil {
			return nil
		}
		if !sameActualKey(p.evacuating.GetActualLrpKey(), key) || !holds(p.evacuating, instanceKey) {
			logger.Info("evacuating-not-held", "instance_guid", p.evacuating.GetActualLrpInstanceKey().GetInstanceGuid())
			return models.ErrActualLRPCannotBeRemoved
		}
		w, _ := e.removeOwnEvacuatingWrite(p, key, instanceKey)
		if err := e.writeActuals(ctx, models.ErrActualLRPCannotBeRemoved, nil, w); err != nil {
			return err
		}
		logger.Debug("removed")
		return nil
	})
}
