package etcddb

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"diego/bbs/db"
	"diego/deploy/logging"
	"diego/models"
)

var _ db.ActualLRPDB = (*ETCDDB)(nil)

// maxCrashReasonLength bounds the crash reason stored on a record, as
// failure reasons are bounded (spec core §2.2).
const maxCrashReasonLength = 1024

// ---- reading ----

// actualIndexKeys are the index entries of an actual record in its current
// state: its cell, while it has one (never while UNCLAIMED or CRASHED).
func (e *ETCDDB) actualIndexKeys(lrp *models.ActualLRP, evacuating bool) []string {
	cell := lrp.GetActualLrpInstanceKey().GetCellId()
	if cell == "" {
		return nil
	}
	k := lrp.GetActualLrpKey()
	return []string{e.keys.ActualByCell(cell, k.GetProcessGuid(), k.GetIndex(), evacuating)}
}

// decodeActual decodes a stored actual record and sets its presence from
// the key it was read at.
func decodeActual(key string, value []byte) (*models.ActualLRP, error) {
	lrp := &models.ActualLRP{}
	if err := decode(key, value, lrp); err != nil {
		return nil, err
	}
	if strings.HasSuffix(key, "/evacuating") {
		lrp.Presence = models.ActualLRP_EVACUATING
	} else {
		lrp.Presence = models.ActualLRP_ORDINARY
	}
	return lrp, nil
}

// actualPair is what one index holds: the instance and evacuating records
// (nil when absent) with the revisions to compare (0 when absent).
type actualPair struct {
	instance, evacuating       *models.ActualLRP
	instanceRev, evacuatingRev int64
}

// readActualPair reads both records of one index in one transaction.
func (e *ETCDDB) readActualPair(ctx context.Context, processGuid string, index int32) (actualPair, error) {
	instKey, evacKey := e.keys.ActualInstance(processGuid, index), e.keys.ActualEvacuating(processGuid, index)
	kvs, _, err := getKVs(ctx, e.kv, []string{instKey, evacKey}, 0)
	if err != nil {
		return actualPair{}, err
	}
	var p actualPair
	for _, kv := range kvs {
		lrp, err := decodeActual(string(kv.Key), kv.Value)
		if err != nil {
			return actualPair{}, err
		}
		if lrp.GetPresence() == models.ActualLRP_EVACUATING {
			p.evacuating, p.evacuatingRev = lrp, kv.ModRevision
		} else {
			p.instance, p.instanceRev = lrp, kv.ModRevision
		}
	}
	return p, nil
}

// actual reads the instance record of one index; ResourceNotFound if there
// is none.
func (e *ETCDDB) actual(ctx context.Context, processGuid string, index int32) (*models.ActualLRP, int64, error) {
	key := e.keys.ActualInstance(processGuid, index)
	resp, err := e.kv.Get(ctx, key)
	if err != nil {
		return nil, 0, etcdError("get", key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, 0, keyError(key, models.ErrResourceNotFound)
	}
	lrp, err := decodeActual(key, resp.Kvs[0].Value)
	if err != nil {
		return nil, 0, err
	}
	return lrp, resp.Kvs[0].ModRevision, nil
}

// ActualLRPs lists instance and evacuating records matching filter: through
// the cell index when it names a cell, by one range per process guid when
// it names one (or two keys when it names the index too), else by one range
// over every actual record.
func (e *ETCDDB) ActualLRPs(ctx context.Context, logger *slog.Logger, filter db.ActualLRPFilter) ([]*models.ActualLRP, error) {
	logger = logging.Session(logger, "actual-lrps", "domain", filter.Domain, "cell_id", filter.CellID, "process_guid", filter.ProcessGuid)
	var kvs []*mvccpb.KeyValue
	switch {
	case filter.CellID != "":
		prefix := e.keys.ActualByCellPrefix(filter.CellID)
		if c, ok := e.kv.(*recordCache); ok {
			// The rep's fetch: the cell's index and its records from one
			// snapshot of the cache.
			if kvs, ok = c.indexed(ctx, prefix, func(k string) (string, bool) { return e.actualKeyFromCellIndex(prefix, k) }); ok {
				break
			}
		}
		resp, err := e.kv.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
		if err != nil {
			return nil, etcdError("range", prefix, err)
		}
		var keys []string
		for _, kv := range resp.Kvs {
			if k, ok := e.actualKeyFromCellIndex(prefix, string(kv.Key)); ok {
				keys = append(keys, k)
			}
		}
		// Reading the records at the index's revision gives one consistent
		// snapshot; the filter below guards against a stray entry anyway.
		kvs, _, err = getKVs(ctx, e.kv, keys, resp.Header.Revision)
		if err != nil {
			return nil, err
		}
	case filter.ProcessGuid != "" && filter.Index != nil:
		var err error
		kvs, _, err = getKVs(ctx, e.kv, []string{
			e.keys.ActualInstance(filter.ProcessGuid, *filter.Index),
			e.keys.ActualEvacuating(filter.ProcessGuid, *filter.Index),
		}, 0)
		if err != nil {
			return nil, err
		}
	default:
		prefix := e.keys.ActualPrefix()
		if filter.ProcessGuid != "" {
			prefix = e.keys.ActualProcessPrefix(filter.ProcessGuid)
		}
		resp, err := e.kv.Get(ctx, prefix, clientv3.WithPrefix())
		if err != nil {
			return nil, etcdError("range", prefix, err)
		}
		kvs = resp.Kvs
	}

	out := make([]*models.ActualLRP, 0, len(kvs))
	for _, kv := range kvs {
		lrp, err := decodeActual(string(kv.Key), kv.Value)
		if err != nil {
			logger.Error("skipping-undecodable-record", "key", string(kv.Key), "error", err)
			continue
		}
		if matchesActualFilter(lrp, filter) {
			out = append(out, lrp)
		}
	}
	slices.SortFunc(out, func(a, b *models.ActualLRP) int {
		ka, kb := a.GetActualLrpKey(), b.GetActualLrpKey()
		return cmp.Or(
			cmp.Compare(ka.GetProcessGuid(), kb.GetProcessGuid()),
			cmp.Compare(ka.GetIndex(), kb.GetIndex()),
			cmp.Compare(a.GetPresence(), b.GetPresence()),
		)
	})
	return out, nil
}

// actualKeyFromCellIndex turns an actual-by-cell index key back into the
// record key it indexes.
func (e *ETCDDB) actualKeyFromCellIndex(prefix, indexKey string) (string, bool) {
	parts := strings.Split(strings.TrimPrefix(indexKey, prefix), "/")
	if len(parts) != 3 {
		return "", false
	}
	guid, err := url.PathUnescape(parts[0])
	if err != nil {
		return "", false
	}
	index, err := strconv.ParseInt(parts[1], 10, 32)
	if err != nil {
		return "", false
	}
	switch parts[2] {
	case "instance":
		return e.keys.ActualInstance(guid, int32(index)), true
	case "evacuating":
		return e.keys.ActualEvacuating(guid, int32(index)), true
	}
	return "", false
}

func matchesActualFilter(lrp *models.ActualLRP, f db.ActualLRPFilter) bool {
	k := lrp.GetActualLrpKey()
	switch {
	case f.Domain != "" && k.GetDomain() != f.Domain,
		f.CellID != "" && lrp.GetActualLrpInstanceKey().GetCellId() != f.CellID,
		f.ProcessGuid != "" && k.GetProcessGuid() != f.ProcessGuid,
		f.Index != nil && k.GetIndex() != *f.Index:
		return false
	}
	return true
}

// ---- writing ----

func cloneActual(lrp *models.ActualLRP) *models.ActualLRP {
	return proto.Clone(lrp).(*models.ActualLRP)
}

// newActual is a fresh record of key: a new epoch, index 0, since now.
func (e *ETCDDB) newActual(key *models.ActualLRPKey, state string) *models.ActualLRP {
	return &models.ActualLRP{
		ActualLrpKey:         cloneKey(key),
		ActualLrpInstanceKey: &models.ActualLRPInstanceKey{},
		ActualLrpNetInfo:     &models.ActualLRPNetInfo{},
		State:                state,
		Since:                e.now(),
		ModificationTag:      &models.ModificationTag{Epoch: uuid.NewString(), Index: 0},
	}
}

// bumpTag counts one more write of lrp.
func bumpTag(lrp *models.ActualLRP) {
	if lrp.ModificationTag == nil {
		lrp.ModificationTag = &models.ModificationTag{Epoch: uuid.NewString()}
		return
	}
	lrp.ModificationTag.Increment()
}

// setRunning makes lrp RUNNING with what the rep reported.
func setRunning(lrp *models.ActualLRP, instanceKey *models.ActualLRPInstanceKey, netInfo *models.ActualLRPNetInfo, internalRoutes []*models.ActualLRPInternalRoute, metricTags map[string]string, routable *bool, availabilityZone string) {
	lrp.State = models.ActualLRPStateRunning
	lrp.ActualLrpInstanceKey = cloneInstanceKey(instanceKey)
	lrp.ActualLrpNetInfo = cloneNetInfo(netInfo)
	lrp.ActualLrpInternalRoutes = cloneRoutes(internalRoutes)
	lrp.MetricTags = maps.Clone(metricTags)
	lrp.Routable = nil
	if routable != nil {
		r := *routable
		lrp.Routable = &r
	}
	lrp.AvailabilityZone = availabilityZone
	lrp.PlacementError = ""
}

// sameRunning reports whether lrp is already RUNNING exactly as reported.
func sameRunning(lrp *models.ActualLRP, instanceKey *models.ActualLRPInstanceKey, netInfo *models.ActualLRPNetInfo, internalRoutes []*models.ActualLRPInternalRoute, metricTags map[string]string, routable *bool, availabilityZone string) bool {
	want := cloneActual(lrp)
	setRunning(want, instanceKey, netInfo, internalRoutes, metricTags, routable, availabilityZone)
	return lrp.GetState() == models.ActualLRPStateRunning && proto.Equal(lrp, want)
}

// clearPlacement drops what ties lrp to a container: the instance key, the
// net info and what came with them.
func clearPlacement(lrp *models.ActualLRP) {
	lrp.ActualLrpInstanceKey = &models.ActualLRPInstanceKey{}
	clearNet(lrp)
}

func clearNet(lrp *models.ActualLRP) {
	lrp.ActualLrpNetInfo = &models.ActualLRPNetInfo{}
	lrp.ActualLrpInternalRoutes = nil
	lrp.Routable = nil
}

func cloneKey(k *models.ActualLRPKey) *models.ActualLRPKey {
	return proto.Clone(k).(*models.ActualLRPKey)
}

func cloneInstanceKey(k *models.ActualLRPInstanceKey) *models.ActualLRPInstanceKey {
	if k == nil {
		return &models.ActualLRPInstanceKey{}
	}
	return proto.Clone(k).(*models.ActualLRPInstanceKey)
}

func cloneNetInfo(n *models.ActualLRPNetInfo) *models.ActualLRPNetInfo {
	if n == nil {
		return &models.ActualLRPNetInfo{}
	}
	return proto.Clone(n).(*models.ActualLRPNetInfo)
}

func cloneRoutes(routes []*models.ActualLRPInternalRoute) []*models.ActualLRPInternalRoute {
	if len(routes) == 0 {
		return nil
	}
	out := make([]*models.ActualLRPInternalRoute, len(routes))
	for i, r := range routes {
		out[i] = proto.Clone(r).(*models.ActualLRPInternalRoute)
	}
	return out
}

func sameInstanceKey(a, b *models.ActualLRPInstanceKey) bool {
	return a.GetInstanceGuid() == b.GetInstanceGuid() && a.GetCellId() == b.GetCellId()
}

func sameActualKey(a, b *models.ActualLRPKey) bool {
	return a.GetProcessGuid() == b.GetProcessGuid() && a.GetIndex() == b.GetIndex() && a.GetDomain() == b.GetDomain()
}

func truncateCrashReason(s string) string {
	if len(s) > maxCrashReasonLength {
		return s[:maxCrashReasonLength]
	}
	return s
}

// storable refuses to write a record that is not valid for its state
// (spec core §1.3); the error is InvalidRequest naming the problems.
func storable(lrp *models.ActualLRP) error {
	return lrp.Validate()
}

// actualWrite is the write of one actual record inside a transaction: the
// put (optionally under a lease) or delete, its guard, and its index
// entries.
type actualWrite struct {
	key        string
	rev        int64 // revision read; 0 when the key was absent
	before     *models.ActualLRP
	after      *models.ActualLRP // nil: delete
	evacuating bool
	lease      clientv3.LeaseID
}

// ops are the guard and operations of w.
func (e *ETCDDB) actualOps(w actualWrite) (clientv3.Cmp, []clientv3.Op, error) {
	var beforeIdx, afterIdx []string
	if w.before != nil {
		beforeIdx = e.actualIndexKeys(w.before, w.evacuating)
	}
	var ops []clientv3.Op
	if w.after == nil {
		ops = append(ops, clientv3.OpDelete(w.key))
	} else {
		if err := storable(w.after); err != nil {
			return clientv3.Cmp{}, nil, err
		}
		value, err := encode(w.after)
		if err != nil {
			return clientv3.Cmp{}, nil, err
		}
		afterIdx = e.actualIndexKeys(w.after, w.evacuating)
		if w.lease != 0 {
			// Leased index entries must move to the new lease with the
			// record, so they are all put again.
			ops = append(ops, clientv3.OpPut(w.key, string(value), clientv3.WithLease(w.lease)))
			for _, k := range afterIdx {
				ops = append(ops, clientv3.OpPut(k, "", clientv3.WithLease(w.lease)))
			}
			beforeIdx = slices.DeleteFunc(beforeIdx, func(k string) bool { return slices.Contains(afterIdx, k) })
			afterIdx = nil
		} else {
			ops = append(ops, clientv3.OpPut(w.key, string(value)))
		}
	}
	ops = append(ops, diffIndex(beforeIdx, afterIdx).ops()...)
	return unchanged(w.key, w.rev), ops, nil
}

// writeActuals commits the writes in one transaction; failed (naming the
// first key) if any record changed since it was read or a guard fails.
func (e *ETCDDB) writeActuals(ctx context.Context, failed *models.Error, guards []clientv3.Cmp, writes ...actualWrite) error {
	cmps := slices.Clone(guards)
	var ops []clientv3.Op
	for _, w := range writes {
		c, o, err := e.actualOps(w)
		if err != nil {
			return err
		}
		cmps = append(cmps, c)
		ops = append(ops, o...)
	}
	return commitTxn(ctx, e.kv, writes[0].key, "write", cmps, ops, failed)
}

// swapInstance compare-and-swaps the instance record of before (read at
// rev) with after; failed if it changed.
func (e *ETCDDB) swapInstance(ctx context.Context, before, after *models.ActualLRP, rev int64, failed *models.Error) error {
	k := before.GetActualLrpKey()
	return e.writeActuals(ctx, failed, nil, actualWrite{
		key: e.keys.ActualInstance(k.GetProcessGuid(), k.GetIndex()), rev: rev, before: before, after: after,
	})
}

// deleteInstance compare-and-deletes the instance record lrp (read at rev).
func (e *ETCDDB) deleteInstance(ctx context.Context, lrp *models.ActualLRP, rev int64, failed *models.Error) error {
	k := lrp.GetActualLrpKey()
	return e.writeActuals(ctx, failed, nil, actualWrite{
		key: e.keys.ActualInstance(k.GetProcessGuid(), k.GetIndex()), rev: rev, before: lrp,
	})
}

// ---- lifecycle ----

// CreateUnclaimedActualLRP creates the UNCLAIMED instance record of key.
func (e *ETCDDB) CreateUnclaimedActualLRP(ctx context.Context, logger *slog.Logger, key *models.ActualLRPKey) (*models.ActualLRP, error) {
	logger = logging.Session(logger, "create-unclaimed-actual-lrp", "process_guid", key.GetProcessGuid(), "index", key.GetIndex())
	lrp := e.newActual(key, models.ActualLRPStateUnclaimed)
	err := e.writeActuals(ctx, models.ErrResourceExists, nil, actualWrite{
		key: e.keys.ActualInstance(key.GetProcessGuid(), key.GetIndex()), after: lrp,
	})
	if err != nil {
		return nil, err
	}
	logger.Debug("created")
	return lrp, nil
}

// CreateUnclaimedActualLRPs creates the UNCLAIMED records of keys, as many
// per transaction as etcd's operation limit allows (a desired LRP's
// instances in one or two round trips instead of one each). A transaction
// whose guard fails (some index has a record) is retried key by key.
func (e *ETCDDB) CreateUnclaimedActualLRPs(ctx context.Context, logger *slog.Logger, keys []*models.ActualLRPKey) ([]*models.ActualLRP, error) {
	logger = logging.Session(logger, "create-unclaimed-actual-lrps", "count", len(keys))
	created := make([]*models.ActualLRP, 0, len(keys))
	var batch []actualWrite
	ops := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := e.writeActuals(ctx, models.ErrResourceExists, nil, batch...)
		var lost *lostRace
		switch {
		case err == nil:
			for _, w := range batch {
				created = append(created, w.after)
			}
		case errors.As(err, &lost):
			for _, w := range batch {
				if lrp, err := e.CreateUnclaimedActualLRP(ctx, logger, w.after.GetActualLrpKey()); err == nil {
					created = append(created, lrp)
				} else if !errors.Is(err, models.ErrResourceExists) {
					return err
				}
			}
		default:
			return err
		}
		batch, ops = batch[:0], 0
		return nil
	}
	for _, key := range keys {
		w := actualWrite{key: e.keys.ActualInstance(key.GetProcessGuid(), key.GetIndex()), after: e.newActual(key, models.ActualLRPStateUnclaimed)}
		n := 2 + len(e.actualIndexKeys(w.after, false)) // the guard, the put, the index puts
		if ops+n > maxTxnOps {
			if err := flush(); err != nil {
				return created, err
			}
		}
		batch = append(batch, w)
		ops += n
	}
	if err := flush(); err != nil {
		return created, err
	}
	logger.Debug("created", "created", len(created))
	return created, nil
}

// ClaimActualLRP moves the instance to CLAIMED by instanceKey.
func (e *ETCDDB) ClaimActualLRP(ctx context.Context, logger *slog.Logger, processGuid string, index int32, instanceKey *models.ActualLRPInstanceKey) (*models.ActualLRP, *models.ActualLRP, error) {
	logger = logging.Session(logger, "claim-actual-lrp", "process_guid", processGuid, "index", index,
		"instance_guid", instanceKey.GetInstanceGuid(), "cell_id", instanceKey.GetCellId())
	var before, after *models.ActualLRP
	err := retryFromCache(ctx, logger, "claim-actual-lrp", func(ctx context.Context, attempt int) error {
		cur, rev, err := e.actual(ctx, processGuid, index)
		if err != nil {
			return err
		}
		staged("claim-actual-lrp", attempt)
		if cur.GetState() == models.ActualLRPStateClaimed && sameInstanceKey(cur.GetActualLrpInstanceKey(), instanceKey) {
			before, after = cur, cur
			return nil
		}
		if !cur.AllowsTransitionTo(cur.GetActualLrpKey(), instanceKey, models.ActualLRPStateClaimed) {
			logger.Info("cannot-claim", "state", cur.GetState())
			return models.ErrActualLRPCannotBeClaimed
		}
		next := cloneActual(cur)
		next.State = models.ActualLRPStateClaimed
		next.ActualLrpInstanceKey = cloneInstanceKey(instanceKey)
		clearNet(next)
		next.PlacementError = ""
		next.Since = e.now()
		bumpTag(next)
		if err := e.swapInstance(ctx, cur, next, rev, models.ErrActualLRPCannotBeClaimed); err != nil {
			return err
		}
		before, after = cur, next
		logger.Debug("claimed")
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return before, after, nil
}

// StartActualLRP moves the instance to RUNNING, creating it if missing. A
// create that loses to a concurrent create re-reads and starts the record
// that won, if it may.
func (e *ETCDDB) StartActualLRP(ctx context.Context, logger *slog.Logger, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey, netInfo *models.ActualLRPNetInfo, internalRoutes []*models.ActualLRPInternalRoute, metricTags map[string]string, routable *bool, availabilityZone string) (*models.ActualLRP, *models.ActualLRP, error) {
	logger = logging.Session(logger, "start-actual-lrp", "process_guid", key.GetProcessGuid(), "index", key.GetIndex(),
		"instance_guid", instanceKey.GetInstanceGuid(), "cell_id", instanceKey.GetCellId())
	instKey := e.keys.ActualInstance(key.GetProcessGuid(), key.GetIndex())
	var before, after *models.ActualLRP
	err := retryFromCache(ctx, logger, "start-actual-lrp", func(ctx context.Context, attempt int) error {
		cur, rev, err := e.actual(ctx, key.GetProcessGuid(), key.GetIndex())
		if errors.Is(err, models.ErrResourceNotFound) {
			staged("start-actual-lrp", attempt)
			next := e.newActual(key, models.ActualLRPStateRunning)
			setRunning(next, instanceKey, netInfo, internalRoutes, metricTags, routable, availabilityZone)
			if err := e.writeActuals(ctx, models.ErrActualLRPCannotBeStarted, nil, actualWrite{key: instKey, after: next}); err != nil {
				return err
			}
			before, after = nil, next
			logger.Debug("created-running")
			return nil
		}
		if err != nil {
			return err
		}
		staged("start-actual-lrp", attempt)
		if sameActualKey(cur.GetActualLrpKey(), key) && sameRunning(cur, instanceKey, netInfo, internalRoutes, metricTags, routable, availabilityZone) {
			before, after = cur, cur
			return nil
		}
		if !cur.AllowsTransitionTo(key, instanceKey, models.ActualLRPStateRunning) {
			logger.Info("cannot-start", "state", cur.GetState())
			return models.ErrActualLRPCannotBeStarted
		}
		next := cloneActual(cur)
		setRunning(next, instanceKey, netInfo, internalRoutes, metricTags, routable, availabilityZone)
		next.Since = e.now()
		bumpTag(next)
		if err := e.swapInstance(ctx, cur, next, rev, models.ErrActualLRPCannotBeStarted); err != nil {
			return err
		}
		before, after = cur, next
		logger.Debug("started")
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return before, after, nil
}

// CrashActualLRP records a crash and applies the restart policy.
func (e *ETCDDB) CrashActualLRP(ctx context.Context, logger *slog.Logger, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey, crashReason string) (*models.ActualLRP, *models.ActualLRP, bool, error) {
	logger = logging.Session(logger, "crash-actual-lrp", "process_guid", key.GetProcessGuid(), "index", key.GetIndex(),
		"instance_guid", instanceKey.GetInstanceGuid(), "cell_id", instanceKey.GetCellId())
	var (
		before, after *models.ActualLRP
		restart       bool
	)
	err := retryLostRace(ctx, logger, "crash-actual-lrp", func(attempt int) error {
		var err error
		before, after, restart, err = e.crashOnce(ctx, logger, key, instanceKey, crashReason, attempt)
		return err
	})
	if err != nil {
		return nil, nil, false, err
	}
	return before, after, restart, nil
}

// crashOnce is one round of CrashActualLRP.
func (e *ETCDDB) crashOnce(ctx context.Context, logger *slog.Logger, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey, crashReason string, attempt int) (*models.ActualLRP, *models.ActualLRP, bool, error) {
	instKey, schedKey := e.keys.ActualInstance(key.GetProcessGuid(), key.GetIndex()), e.keys.SchedulingInfo(key.GetProcessGuid())
	// The instance and the desired LRP's existence are read together; the
	// write compares both, so a removal racing the crash is noticed.
	kvs, _, err := getKVs(ctx, e.kv, []string{instKey, schedKey}, 0)
	if err != nil {
		return nil, nil, false, err
	}
	var (
		before        *models.ActualLRP
		rev, schedRev int64
	)
	for _, kv := range kvs {
		if string(kv.Key) == schedKey {
			schedRev = kv.ModRevision
			continue
		}
		if before, err = decodeActual(instKey, kv.Value); err != nil {
			return nil, nil, false, err
		}
		rev = kv.ModRevision
	}
	if before == nil {
		return nil, nil, false, keyError(instKey, models.ErrResourceNotFound)
	}
	staged("crash-actual-lrp", attempt)
	if !before.AllowsTransitionTo(key, instanceKey, models.ActualLRPStateCrashed) {
		logger.Info("cannot-crash", "state", before.GetState())
		return nil, nil, false, models.ErrActualLRPCannotBeCrashed
	}

	now := e.clock.Now()
	after := cloneActual(before)
	after.CrashCount = before.NewCrashCount(now)
	after.CrashReason = truncateCrashReason(crashReason)
	clearPlacement(after)
	after.PlacementError = ""
	after.Since = now.UnixNano()
	bumpTag(after)
	restart := models.ShouldRestartImmediately(after.GetCrashCount())
	if restart {
		after.State = models.ActualLRPStateUnclaimed
	} else {
		after.State = models.ActualLRPStateCrashed
	}

	write := actualWrite{key: instKey, rev: rev, before: before, after: after}
	if restart && schedRev == 0 {
		// Nothing wants this index any more: delete it instead of
		// restarting it (spec core §2.2).
		write.after = nil
	}
	err = e.writeActuals(ctx, models.ErrActualLRPCannotBeCrashed, []clientv3.Cmp{unchanged(schedKey, schedRev)}, write)
	if err != nil {
		return nil, nil, false, err
	}
	if write.after == nil {
		logger.Info("deleted-crashed-undesired", "crash_count", after.GetCrashCount())
		return before, nil, false, nil
	}
	logger.Debug("crashed", "crash_count", after.GetCrashCount(), "state", after.GetState())
	return before, after, restart, nil
}

// FailActualLRP records a placement error on an UNCLAIMED instance.
func (e *ETCDDB) FailActualLRP(ctx context.Context, logger *slog.Logger, key *models.ActualLRPKey, placementError string) (*models.ActualLRP, *models.ActualLRP, error) {
	logger = logging.Session(logger, "fail-actual-lrp", "process_guid", key.GetProcessGuid(), "index", key.GetIndex())
	var before, after *models.ActualLRP
	err := retryFromCache(ctx, logger, "fail-actual-lrp", func(ctx context.Context, attempt int) error {
		cur, rev, err := e.actual(ctx, key.GetProcessGuid(), key.GetIndex())
		if err != nil {
			return err
		}
		staged("fail-actual-lrp", attempt)
		if cur.GetState() != models.ActualLRPStateUnclaimed || !sameActualKey(cur.GetActualLrpKey(), key) {
			logger.Info("cannot-fail", "state", cur.GetState())
			return models.ErrActualLRPCannotBeFailed
		}
		next := cloneActual(cur)
		next.PlacementError = placementError
		next.Since = e.now()
		bumpTag(next)
		if err := e.swapInstance(ctx, cur, next, rev, models.ErrActualLRPCannotBeFailed); err != nil {
			return err
		}
		before, after = cur, next
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	logger.Debug("failed", "placement_error", placementError)
	return before, after, nil
}

// RemoveActualLRP deletes the instance record, if instanceKey (when given)
// holds it.
func (e *ETCDDB) RemoveActualLRP(ctx context.Context, logger *slog.Logger, processGuid string, index int32, instanceKey *models.ActualLRPInstanceKey) error {
	logger = logging.Session(logger, "remove-actual-lrp", "process_guid", processGuid, "index", index)
	return retryFromCache(ctx, logger, "remove-actual-lrp", func(ctx context.Context, attempt int) error {
		lrp, rev, err := e.actual(ctx, processGuid, index)
		if err != nil {
			return err
		}
		staged("remove-actual-lrp", attempt)
		if instanceKey != nil && !sameInstanceKey(lrp.GetActualLrpInstanceKey(), instanceKey) {
			logger.Info("instance-key-mismatch", "instance_guid", instanceKey.GetInstanceGuid(), "cell_id", instanceKey.GetCellId())
			return keyError(e.keys.ActualInstance(processGuid, index), models.ErrResourceNotFound)
		}
		if err := e.deleteInstance(ctx, lrp, rev, models.ErrResourceConflict); err != nil {
			return err
		}
		logger.Debug("removed", "state", lrp.GetState())
		return nil
	})
}

// UnclaimActualLRP moves the instance back to UNCLAIMED.
func (e *ETCDDB) UnclaimActualLRP(ctx context.Context, logger *slog.Logger, key *models.ActualLRPKey) (*models.ActualLRP, *models.ActualLRP, error) {
	logger = logging.Session(logger, "unclaim-actual-lrp", "process_guid", key.GetProcessGuid(), "index", key.GetIndex())
	return e.unclaimLoop(ctx, logger, "unclaim-actual-lrp", key, nil)
}

// unclaimLoop unclaims the instance of key, re-reading on a lost race;
// allowed (when set) must accept the fresh record first.
func (e *ETCDDB) unclaimLoop(ctx context.Context, logger *slog.Logger, op string, key *models.ActualLRPKey, allowed func(*models.ActualLRP) bool) (*models.ActualLRP, *models.ActualLRP, error) {
	var before, after *models.ActualLRP
	err := retryFromCache(ctx, logger, op, func(ctx context.Context, attempt int) error {
		cur, rev, err := e.actual(ctx, key.GetProcessGuid(), key.GetIndex())
		if err != nil {
			return err
		}
		staged(op, attempt)
		if allowed != nil && !allowed(cur) {
			logger.Info("cannot-unclaim", "state", cur.GetState())
			return models.ErrActualLRPCannotBeUnclaimed
		}
		next, err := e.unclaimed(cur, key)
		if err != nil {
			logger.Info("cannot-unclaim", "state", cur.GetState())
			return err
		}
		if err := e.swapInstance(ctx, cur, next, rev, models.ErrActualLRPCannotBeUnclaimed); err != nil {
			return err
		}
		before, after = cur, next
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	logger.Debug("unclaimed", "crash_count", after.GetCrashCount())
	return before, after, nil
}

// unclaimed is before moved back to UNCLAIMED, or
// ActualLRPCannotBeUnclaimed when that is illegal (including when it is
// UNCLAIMED already: there is nothing to give back).
func (e *ETCDDB) unclaimed(before *models.ActualLRP, key *models.ActualLRPKey) (*models.ActualLRP, error) {
	if before.GetState() == models.ActualLRPStateUnclaimed ||
		!before.AllowsTransitionTo(key, &models.ActualLRPInstanceKey{}, models.ActualLRPStateUnclaimed) {
		return nil, models.ErrActualLRPCannotBeUnclaimed
	}
	after := cloneActual(before)
	after.State = models.ActualLRPStateUnclaimed
	clearPlacement(after)
	after.PlacementError = ""
	after.Since = e.now()
	bumpTag(after)
	return after, nil
}

// RetireActualLRP deletes an UNCLAIMED or CRASHED instance and returns any
// other untouched. A delete that loses (say, to a claim) re-reads and
// judges the record that won.
func (e *ETCDDB) RetireActualLRP(ctx context.Context, logger *slog.Logger, key *models.ActualLRPKey) (*models.ActualLRP, bool, error) {
	logger = logging.Session(logger, "retire-actual-lrp", "process_guid", key.GetProcessGuid(), "index", key.GetIndex())
	var (
		lrp     *models.ActualLRP
		removed bool
	)
	err := retryFromCache(ctx, logger, "retire-actual-lrp", func(ctx context.Context, attempt int) error {
		cur, rev, err := e.actual(ctx, key.GetProcessGuid(), key.GetIndex())
		if err != nil {
			return err
		}
		staged("retire-actual-lrp", attempt)
		switch cur.GetState() {
		case models.ActualLRPStateUnclaimed, models.ActualLRPStateCrashed:
			if err := e.deleteInstance(ctx, cur, rev, models.ErrResourceConflict); err != nil {
				return err
			}
			logger.Debug("removed", "state", cur.GetState())
			lrp, removed = cur, true
			return nil
		}
		lrp, removed = cur, false
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return lrp, removed, nil
}
