package events

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"google.golang.org/protobuf/proto"

	"diego/bbs/db/etcddb"
	"diego/deploy/logging"
	"diego/models"
)

// ChangeSource is the store's change feed (etcddb.ETCDDB).
type ChangeSource interface {
	CurrentRevision(ctx context.Context) (int64, error)
	WatchChanges(ctx context.Context, logger *slog.Logger, fromRevision int64, wanted func() bool) <-chan etcddb.ChangeBatch
	RunInfoAt(ctx context.Context, processGuid string, rev int64) (*models.DesiredLRPRunInfo, error)
}

// How long one attempt to reach etcd at start may take, and the pause
// between attempts.
const (
	startTimeout       = 2 * time.Second
	startRetryInterval = time.Second
)

// Watcher is the ifrit runner that turns store changes into events on a
// hub (spec core §4.4). It is ready once it watches from the current
// revision, so every change made after it is ready becomes an event.
type Watcher struct {
	logger *slog.Logger
	source ChangeSource
	hub    *Hub
}

// WatcherDeps are the store's changes and the hub they feed.
type WatcherDeps struct {
	Logger *slog.Logger
	Source ChangeSource
	Hub    *Hub
}

// NewWatcher feeds deps.Hub from deps.Source.
func NewWatcher(deps WatcherDeps) *Watcher {
	return &Watcher{logger: logging.Session(deps.Logger, "event-watcher"), source: deps.Source, hub: deps.Hub}
}

func (w *Watcher) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer w.hub.Close()
	// A signal cancels whatever etcd call is in flight.
	stopped := make(chan struct{})
	go func() {
		select {
		case <-signals:
			close(stopped)
			cancel()
		case <-ctx.Done():
		}
	}()

	// Until etcd answers, the BBS is not ready (its API answers 503): say so
	// and keep trying rather than exit.
	var rev int64
	for {
		attempt, stop := context.WithTimeout(ctx, startTimeout)
		var err error
		rev, err = w.source.CurrentRevision(attempt)
		stop()
		if err == nil {
			break
		}
		select {
		case <-stopped:
			return nil
		default:
		}
		w.logger.Error("waiting-for-etcd", "error", err, "hint", "check that etcd is running and that etcd.endpoints names it")
		select {
		case <-stopped:
			return nil
		case <-time.After(startRetryInterval):
		}
	}
	batches := w.source.WatchChanges(ctx, w.logger, rev, func() bool { return w.hub.SubscriberCount() > 0 })
	close(ready)
	for {
		select {
		case <-stopped:
			return nil
		case batch, ok := <-batches:
			if !ok {
				select {
				case <-stopped:
					return nil
				default:
					return fmt.Errorf("event watcher: the change feed closed")
				}
			}
			w.emit(ctx, batch)
		}
	}
}

// emit turns one revision's changes into events.
func (w *Watcher) emit(ctx context.Context, batch etcddb.ChangeBatch) {
	runInfos := map[string][2]*models.DesiredLRPRunInfo{} // process guid → before, after in this batch
	for _, c := range batch.Changes {
		if c.Kind == etcddb.RunInfoRecord {
			before, _ := c.Before.(*models.DesiredLRPRunInfo)
			after, _ := c.After.(*models.DesiredLRPRunInfo)
			pg := before.GetDesiredLrpKey().GetProcessGuid() + after.GetDesiredLrpKey().GetProcessGuid()
			if before != nil && after != nil {
				pg = after.GetDesiredLrpKey().GetProcessGuid()
			}
			runInfos[pg] = [2]*models.DesiredLRPRunInfo{before, after}
		}
	}
	for _, c := range batch.Changes {
		switch c.Kind {
		case etcddb.TaskRecord:
			w.emitTask(c)
		case etcddb.SchedulingInfoRecord:
			w.emitDesired(ctx, batch.Revision, c, runInfos)
		case etcddb.ActualInstanceRecord, etcddb.ActualEvacuatingRecord:
			w.emitActual(c)
		}
	}
}

func (w *Watcher) emitTask(c etcddb.RecordChange) {
	before, _ := c.Before.(*models.Task)
	after, _ := c.After.(*models.Task)
	switch {
	case before == nil:
		w.hub.Emit(&models.TaskCreatedEvent{Task: after})
	case after == nil:
		w.hub.Emit(&models.TaskRemovedEvent{Task: before})
	default:
		w.hub.Emit(&models.TaskChangedEvent{Before: before, After: after})
	}
}

func (w *Watcher) emitDesired(ctx context.Context, rev int64, c etcddb.RecordChange, runInfos map[string][2]*models.DesiredLRPRunInfo) {
	before, _ := c.Before.(*models.DesiredLRPSchedulingInfo)
	after, _ := c.After.(*models.DesiredLRPSchedulingInfo)
	pg := after.GetDesiredLrpKey().GetProcessGuid()
	if after == nil {
		pg = before.GetDesiredLrpKey().GetProcessGuid()
	}
	ri, inBatch := runInfos[pg]
	runBefore, runAfter := ri[0], ri[1]
	if !inBatch || (runBefore == nil && before != nil) || (runAfter == nil && after != nil) {
		current, err := w.source.RunInfoAt(ctx, pg, rev)
		if err != nil {
			w.logger.Error("failed-to-read-run-info", "process_guid", pg, "revision", rev, "error", err)
		}
		if runBefore == nil {
			runBefore = current
		}
		if runAfter == nil {
			runAfter = current
		}
	}
	switch {
	case before == nil:
		w.hub.Emit(&models.DesiredLRPCreatedEvent{DesiredLrp: models.NewDesiredLRP(after, runAfter)})
	case after == nil:
		w.hub.Emit(&models.DesiredLRPRemovedEvent{DesiredLrp: models.NewDesiredLRP(before, runBefore)})
	default:
		w.hub.Emit(&models.DesiredLRPChangedEvent{
			Before: models.NewDesiredLRP(before, runBefore),
			After:  models.NewDesiredLRP(after, runAfter),
		})
	}
}

func (w *Watcher) emitActual(c etcddb.RecordChange) {
	evacuating := c.Kind == etcddb.ActualEvacuatingRecord
	before := withPresence(c.Before, evacuating)
	after := withPresence(c.After, evacuating)
	group := func(lrp *models.ActualLRP) *models.ActualLRPGroup {
		if evacuating {
			return &models.ActualLRPGroup{Evacuating: lrp}
		}
		return &models.ActualLRPGroup{Instance: lrp}
	}
	switch {
	case before == nil:
		w.hub.Emit(&models.ActualLRPCreatedEvent{ActualLrpGroup: group(after)})
		w.hub.Emit(&models.ActualLRPInstanceCreatedEvent{ActualLrp: after})
	case after == nil:
		w.hub.Emit(&models.ActualLRPRemovedEvent{ActualLrpGroup: group(before)})
		w.hub.Emit(&models.ActualLRPInstanceRemovedEvent{ActualLrp: before})
	default:
		if !evacuating && isCrash(before, after) {
			w.hub.Emit(&models.ActualLRPCrashedEvent{
				ActualLrpKey:         after.GetActualLrpKey(),
				ActualLrpInstanceKey: before.GetActualLrpInstanceKey(),
				CrashCount:           after.GetCrashCount(),
				CrashReason:          after.GetCrashReason(),
				Since:                after.GetSince(),
			})
		}
		w.hub.Emit(&models.ActualLRPChangedEvent{Before: group(before), After: group(after)})
		w.hub.Emit(&models.ActualLRPInstanceChangedEvent{
			ActualLrpKey:         orKey(after.GetActualLrpKey(), before.GetActualLrpKey()),
			ActualLrpInstanceKey: orInstanceKey(after.GetActualLrpInstanceKey(), before.GetActualLrpInstanceKey()),
			Before:               info(before),
			After:                info(after),
		}, before.GetActualLrpInstanceKey().GetCellId())
	}
}

// orKey and orInstanceKey name an instance change by the after record's keys,
// or the before record's when after's are empty: an instance that crashed back
// to UNCLAIMED has no instance key left, and consumers (route-emitter, TPS)
// still need to know which instance it was.
func orKey(after, before *models.ActualLRPKey) *models.ActualLRPKey {
	if after.GetProcessGuid() == "" && before != nil {
		return before
	}
	return after
}

func orInstanceKey(after, before *models.ActualLRPInstanceKey) *models.ActualLRPInstanceKey {
	if after.GetInstanceGuid() == "" && after.GetCellId() == "" && before != nil {
		return before
	}
	return after
}

// isCrash is decision 26: a CLAIMED or RUNNING instance that became
// UNCLAIMED or CRASHED with a crash reason and a new since.
func isCrash(before, after *models.ActualLRP) bool {
	wasUp := before.GetState() == models.ActualLRPStateClaimed || before.GetState() == models.ActualLRPStateRunning
	isDown := after.GetState() == models.ActualLRPStateUnclaimed || after.GetState() == models.ActualLRPStateCrashed
	return wasUp && isDown && after.GetCrashReason() != "" && after.GetSince() != before.GetSince()
}

func withPresence(m proto.Message, evacuating bool) *models.ActualLRP {
	lrp, ok := m.(*models.ActualLRP)
	if !ok || lrp == nil {
		return nil
	}
	if evacuating {
		lrp.Presence = models.ActualLRP_EVACUATING
	} else {
		lrp.Presence = models.ActualLRP_ORDINARY
	}
	return lrp
}

func info(lrp *models.ActualLRP) *models.ActualLRPInfo {
	return &models.ActualLRPInfo{
		ActualLrpNetInfo: lrp.GetActualLrpNetInfo(),
		CrashCount:       lrp.GetCrashCount(),
		CrashReason:      lrp.GetCrashReason(),
		State:            lrp.GetState(),
		PlacementError:   lrp.GetPlacementError(),
		Since:            lrp.GetSince(),
		ModificationTag:  lrp.GetModificationTag(),
		Presence:         lrp.GetPresence(),
		Routable:         lrp.Routable,
		AvailabilityZone: lrp.GetAvailabilityZone(),
	}
}
