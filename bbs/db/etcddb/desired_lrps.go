package etcddb

import (
	"context"
	"errors"
	"log/slog"
	"slices"

	"github.com/google/uuid"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	"diego/bbs/db"
	"diego/deploy/logging"
	"diego/models"
)

var _ db.DesiredLRPDB = (*ETCDDB)(nil)

// desiredRecords is one consistent read of desired LRP records: the
// scheduling infos in process guid order, and the run infos by guid.
type desiredRecords struct {
	schedules []*models.DesiredLRPSchedulingInfo
	runs      map[string]*models.DesiredLRPRunInfo
}

// readDesired reads the scheduling infos matching filter and, withRun, their
// run infos, all at one revision: through the domain index when the filter
// names a domain, by key when it names process guids, else by two ranges.
func (e *ETCDDB) readDesired(ctx context.Context, logger *slog.Logger, filter db.DesiredLRPFilter, withRun bool) (desiredRecords, error) {
	var scheduleKVs, runKVs []*mvccpb.KeyValue
	switch {
	case filter.Domain != "" || len(filter.ProcessGuids) > 0:
		guids := filter.ProcessGuids
		var rev int64
		if filter.Domain != "" {
			indexed, indexRev, err := indexedGuids(ctx, e.kv, e.keys.DesiredByDomainPrefix(filter.Domain))
			if err != nil {
				return desiredRecords{}, err
			}
			rev = indexRev
			if len(filter.ProcessGuids) > 0 {
				indexed = slices.DeleteFunc(indexed, func(g string) bool { return !slices.Contains(filter.ProcessGuids, g) })
			}
			guids = indexed
		}
		guids = slices.Compact(slices.Sorted(slices.Values(guids)))
		keys := make([]string, 0, 2*len(guids))
		for _, g := range guids {
			keys = append(keys, e.keys.SchedulingInfo(g))
		}
		if withRun {
			for _, g := range guids {
				keys = append(keys, e.keys.RunInfo(g))
			}
		}
		kvs, _, err := getKVs(ctx, e.kv, keys, rev)
		if err != nil {
			return desiredRecords{}, err
		}
		schedPrefix := e.keys.SchedulingInfoPrefix()
		for _, kv := range kvs {
			if hasPrefix(kv.Key, schedPrefix) {
				scheduleKVs = append(scheduleKVs, kv)
			} else {
				runKVs = append(runKVs, kv)
			}
		}
	default:
		prefixes := []string{e.keys.SchedulingInfoPrefix()}
		if withRun {
			prefixes = append(prefixes, e.keys.RunInfoPrefix())
		}
		ranges, err := getPrefixes(ctx, e.kv, prefixes...)
		if err != nil {
			return desiredRecords{}, err
		}
		scheduleKVs = ranges[0]
		if withRun {
			runKVs = ranges[1]
		}
	}

	var out desiredRecords
	for _, kv := range scheduleKVs {
		out.schedules = appendDecoded(logger, out.schedules, kv.Key, kv.Value)
	}
	// The domain check guards against a stray index entry.
	out.schedules = slices.DeleteFunc(out.schedules, func(s *models.DesiredLRPSchedulingInfo) bool {
		pg := s.GetDesiredLrpKey().GetProcessGuid()
		return filter.Domain != "" && s.GetDesiredLrpKey().GetDomain() != filter.Domain ||
			len(filter.AppGuids) > 0 && !slices.Contains(filter.AppGuids, db.AppGuid(pg))
	})
	if withRun {
		var runs []*models.DesiredLRPRunInfo
		for _, kv := range runKVs {
			runs = appendDecoded(logger, runs, kv.Key, kv.Value)
		}
		out.runs = make(map[string]*models.DesiredLRPRunInfo, len(runs))
		for _, r := range runs {
			out.runs[r.GetDesiredLrpKey().GetProcessGuid()] = r
		}
	}
	return out, nil
}

func hasPrefix(key []byte, prefix string) bool {
	return len(key) >= len(prefix) && string(key[:len(prefix)]) == prefix
}

// DesiredLRPs lists the assembled desired LRPs matching filter.
func (e *ETCDDB) DesiredLRPs(ctx context.Context, logger *slog.Logger, filter db.DesiredLRPFilter) ([]*models.DesiredLRP, error) {
	logger = logging.Session(logger, "desired-lrps", "domain", filter.Domain)
	recs, err := e.readDesired(ctx, logger, filter, true)
	if err != nil {
		return nil, err
	}
	out := make([]*models.DesiredLRP, 0, len(recs.schedules))
	for _, s := range recs.schedules {
		guid := s.GetDesiredLrpKey().GetProcessGuid()
		run, ok := recs.runs[guid]
		if !ok {
			logger.Error("skipping-desired-lrp-without-run-info", "process_guid", guid)
			continue
		}
		out = append(out, models.NewDesiredLRP(s, run))
	}
	return out, nil
}

// DesiredLRPByProcessGuid reads both records of one desired LRP at one
// revision and assembles them.
func (e *ETCDDB) DesiredLRPByProcessGuid(ctx context.Context, logger *slog.Logger, processGuid string) (*models.DesiredLRP, error) {
	sched, _, run, _, err := e.desiredPair(ctx, processGuid)
	if err != nil {
		return nil, err
	}
	if sched == nil {
		return nil, keyError(e.keys.SchedulingInfo(processGuid), models.ErrResourceNotFound)
	}
	if run == nil {
		logging.Session(logger, "desired-lrp-by-process-guid").Error("missing-run-info", "process_guid", processGuid)
		return nil, keyError(e.keys.RunInfo(processGuid), models.ErrResourceNotFound)
	}
	return models.NewDesiredLRP(sched, run), nil
}

// desiredPair reads a desired LRP's two records (nil when absent) with
// their revisions, in one transaction.
func (e *ETCDDB) desiredPair(ctx context.Context, processGuid string) (*models.DesiredLRPSchedulingInfo, int64, *models.DesiredLRPRunInfo, int64, error) {
	schedKey, runKey := e.keys.SchedulingInfo(processGuid), e.keys.RunInfo(processGuid)
	kvs, _, err := getKVs(ctx, e.kv, []string{schedKey, runKey}, 0)
	if err != nil {
		return nil, 0, nil, 0, err
	}
	var (
		sched            *models.DesiredLRPSchedulingInfo
		run              *models.DesiredLRPRunInfo
		schedRev, runRev int64
		decodeErr        error
	)
	for _, kv := range kvs {
		switch string(kv.Key) {
		case schedKey:
			sched = &models.DesiredLRPSchedulingInfo{}
			decodeErr = errors.Join(decodeErr, decode(schedKey, kv.Value, sched))
			schedRev = kv.ModRevision
		case runKey:
			run = &models.DesiredLRPRunInfo{}
			decodeErr = errors.Join(decodeErr, decode(runKey, kv.Value, run))
			runRev = kv.ModRevision
		}
	}
	if decodeErr != nil {
		return nil, 0, nil, 0, decodeErr
	}
	return sched, schedRev, run, runRev, nil
}

// DesiredLRPSchedulingInfos lists the scheduling infos matching filter.
func (e *ETCDDB) DesiredLRPSchedulingInfos(ctx context.Context, logger *slog.Logger, filter db.DesiredLRPFilter) ([]*models.DesiredLRPSchedulingInfo, error) {
	logger = logging.Session(logger, "desired-lrp-scheduling-infos", "domain", filter.Domain)
	recs, err := e.readDesired(ctx, logger, filter, false)
	if err != nil {
		return nil, err
	}
	return recs.schedules, nil
}

// DesiredLRPSchedulingInfoByProcessGuid returns one scheduling info.
func (e *ETCDDB) DesiredLRPSchedulingInfoByProcessGuid(ctx context.Context, logger *slog.Logger, processGuid string) (*models.DesiredLRPSchedulingInfo, error) {
	s, _, err := getRecord[models.DesiredLRPSchedulingInfo](ctx, e.kv, e.keys.SchedulingInfo(processGuid))
	return s, err
}

// DesiredLRPRoutingInfos lists the routing view of the desired LRPs
// matching filter, from their scheduling infos alone.
func (e *ETCDDB) DesiredLRPRoutingInfos(ctx context.Context, logger *slog.Logger, filter db.DesiredLRPFilter) ([]*models.DesiredLRP, error) {
	logger = logging.Session(logger, "desired-lrp-routing-infos", "domain", filter.Domain)
	recs, err := e.readDesired(ctx, logger, filter, false)
	if err != nil {
		return nil, err
	}
	out := make([]*models.DesiredLRP, len(recs.schedules))
	for i, s := range recs.schedules {
		out[i] = models.NewDesiredLRP(s, nil).RoutingInfo()
	}
	return out, nil
}

// DesireLRP creates both records and the domain index entry in one
// transaction.
func (e *ETCDDB) DesireLRP(ctx context.Context, logger *slog.Logger, d *models.DesiredLRP) error {
	guid := d.GetProcessGuid()
	logger = logging.Session(logger, "desire-lrp", "process_guid", guid)
	sched := d.DesiredLRPSchedulingInfo()
	sched.ModificationTag = &models.ModificationTag{Epoch: uuid.NewString(), Index: 0}
	run := d.DesiredLRPRunInfo(e.now())
	schedValue, err := encode(sched)
	if err != nil {
		return err
	}
	runValue, err := encode(run)
	if err != nil {
		return err
	}
	schedKey, runKey := e.keys.SchedulingInfo(guid), e.keys.RunInfo(guid)
	err = commitTxn(ctx, e.kv, schedKey, "create",
		[]clientv3.Cmp{unchanged(schedKey, 0), unchanged(runKey, 0)},
		[]clientv3.Op{
			clientv3.OpPut(runKey, string(runValue)),
			clientv3.OpPut(schedKey, string(schedValue)),
			clientv3.OpPut(e.keys.DesiredByDomain(d.GetDomain(), guid), ""),
		}, models.ErrResourceExists)
	if err != nil {
		return err
	}
	logger.Debug("desired", "instances", d.GetInstances())
	return nil
}

// UpdateDesiredLRP compare-and-swaps the scheduling info with update
// applied to the record read, re-reading on a lost race (casAttempts
// rounds, not the spec's 2: decision 40), so concurrent updates merge and a
// removal that wins answers ResourceNotFound.
func (e *ETCDDB) UpdateDesiredLRP(ctx context.Context, logger *slog.Logger, processGuid string, update *models.DesiredLRPUpdate) (*models.DesiredLRPSchedulingInfo, *models.DesiredLRPSchedulingInfo, error) {
	logger = logging.Session(logger, "update-desired-lrp", "process_guid", processGuid)
	key := e.keys.SchedulingInfo(processGuid)
	var before, after *models.DesiredLRPSchedulingInfo
	err := retryLostRace(ctx, logger, "update-desired-lrp", func(attempt int) error {
		cur, rev, err := getRecord[models.DesiredLRPSchedulingInfo](ctx, e.kv, key)
		if err != nil {
			return err
		}
		staged("update-desired-lrp", attempt)
		next := proto.Clone(cur).(*models.DesiredLRPSchedulingInfo)
		next.ApplyUpdate(update)
		if err := compareAndSwap(ctx, e.kv, key, rev, next, indexChange{}); err != nil {
			return err
		}
		before, after = cur, next
		logger.Debug("updated", "attempt", attempt, "instances", next.GetInstances())
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return before, after, nil
}

// RemoveDesiredLRP deletes both records and the index entry in one
// transaction guarded by the revisions read; an update that wins the race
// is re-read and removed too.
func (e *ETCDDB) RemoveDesiredLRP(ctx context.Context, logger *slog.Logger, processGuid string) (*models.DesiredLRP, error) {
	logger = logging.Session(logger, "remove-desired-lrp", "process_guid", processGuid)
	var removed *models.DesiredLRP
	err := retryLostRace(ctx, logger, "remove-desired-lrp", func(attempt int) error {
		var err error
		removed, err = e.removeDesiredOnce(ctx, logger, processGuid, attempt)
		return err
	})
	return removed, err
}

// removeDesiredOnce is one round of RemoveDesiredLRP.
func (e *ETCDDB) removeDesiredOnce(ctx context.Context, logger *slog.Logger, processGuid string, attempt int) (*models.DesiredLRP, error) {
	sched, schedRev, run, runRev, err := e.desiredPair(ctx, processGuid)
	if err != nil {
		return nil, err
	}
	staged("remove-desired-lrp", attempt)
	schedKey, runKey := e.keys.SchedulingInfo(processGuid), e.keys.RunInfo(processGuid)
	if sched == nil && run == nil {
		return nil, keyError(schedKey, models.ErrResourceNotFound)
	}
	ops := []clientv3.Op{clientv3.OpDelete(schedKey), clientv3.OpDelete(runKey)}
	domain := sched.GetDesiredLrpKey().GetDomain()
	if sched == nil {
		domain = run.GetDesiredLrpKey().GetDomain()
	}
	ops = append(ops, clientv3.OpDelete(e.keys.DesiredByDomain(domain, processGuid)))
	err = commitTxn(ctx, e.kv, schedKey, "delete",
		[]clientv3.Cmp{unchanged(schedKey, schedRev), unchanged(runKey, runRev)}, ops, models.ErrResourceConflict)
	if err != nil {
		return nil, err
	}
	removed := models.NewDesiredLRP(sched, run)
	if sched == nil {
		k := run.GetDesiredLrpKey()
		removed.ProcessGuid, removed.Domain, removed.LogGuid = k.GetProcessGuid(), k.GetDomain(), k.GetLogGuid()
	}
	logger.Debug("removed", "orphaned_run_info", sched == nil)
	return removed, nil
}
