// Package db declares the storage operations the BBS handlers and the
// convergence rules need, one narrow interface per record type. The etcd v3
// implementation lives in db/etcddb; handlers and tests depend only on these
// interfaces.
//
// Every error a method returns is a *models.Error or wraps one (errors.As
// finds it, models.ConvertError returns it), following spec core §4.2:
//
//   - a missing record                → ResourceNotFound
//   - a create over an existing key   → ResourceExists
//   - an unreadable stored value      → FailedToOpenEnvelope or Deserialize
//   - an illegal lifecycle transition → the operation's own error (§2)
//   - a failure talking to the store  → UnknownError carrying the cause
//
// A write that loses its compare-and-swap to a concurrent write re-reads and
// judges the operation against the record that won (decision 40): applied
// if still legal, else the operation's own error. Only a write that loses
// every one of its bounded rounds answers ResourceConflict (or, for the
// actual LRP lifecycle, its own Cannot-be error). docs/bbs.md lists every
// write path and its races.
package db

import (
	"context"
	"log/slog"
	"time"

	"diego/models"
)

// TaskFilter narrows Tasks. Empty fields match everything; set fields must
// all match.
type TaskFilter struct {
	Domain string
	CellID string
}

// TaskDB stores tasks and applies the task state machine (spec core §2.1).
// Writes read the record, apply the transition, and compare-and-swap on the
// revision they read, re-reading on a lost race. Lifecycle calls return the record before and after the
// change so callers can emit events and run callbacks.
type TaskDB interface {
	// Tasks lists the tasks that match filter. Records that cannot be
	// decoded are skipped (and logged), not fatal.
	Tasks(ctx context.Context, logger *slog.Logger, filter TaskFilter) ([]*models.Task, error)
	// TaskByGuid returns one task, or ResourceNotFound.
	TaskByGuid(ctx context.Context, logger *slog.Logger, taskGuid string) (*models.Task, error)

	// DesireTask creates a PENDING task; ResourceExists if the guid is taken.
	DesireTask(ctx context.Context, logger *slog.Logger, def *models.TaskDefinition, taskGuid, domain string) (*models.Task, error)
	// StartTask moves a PENDING task to RUNNING on cellID. A task already
	// RUNNING on the same cell succeeds with shouldStart=false and no write.
	StartTask(ctx context.Context, logger *slog.Logger, taskGuid, cellID string) (before, after *models.Task, shouldStart bool, err error)
	// CancelTask completes a PENDING or RUNNING task as failed with
	// models.TaskCancelledReason. cellID is the cell it was on ("" if none),
	// so the caller can tell that cell's rep to stop it.
	CancelTask(ctx context.Context, logger *slog.Logger, taskGuid string) (before, after *models.Task, cellID string, err error)
	// FailTask completes a PENDING or RUNNING task as failed with the reason.
	FailTask(ctx context.Context, logger *slog.Logger, taskGuid, failureReason string) (before, after *models.Task, err error)
	// RejectTask puts a PENDING or RUNNING task back to PENDING with one more
	// rejection; once the count before the call reaches maxRetries the task
	// is failed with the rejection reason instead.
	RejectTask(ctx context.Context, logger *slog.Logger, taskGuid, rejectionReason string, maxRetries int32) (before, after *models.Task, err error)
	// CompleteTask completes a task RUNNING on cellID; RunningOnDifferentCell
	// if it runs elsewhere.
	CompleteTask(ctx context.Context, logger *slog.Logger, taskGuid, cellID string, failed bool, failureReason, result string) (before, after *models.Task, err error)
	// ResolvingTask moves a COMPLETED task to RESOLVING.
	ResolvingTask(ctx context.Context, logger *slog.Logger, taskGuid string) (before, after *models.Task, err error)
	// DeleteTask deletes a RESOLVING task, guarded by the revision read as
	// RESOLVING, and returns it as it was.
	DeleteTask(ctx context.Context, logger *slog.Logger, taskGuid string) (task *models.Task, err error)

	// ConvergenceTasks lists every task for a convergence pass (spec core
	// §5.6). Records that cannot be decoded are deleted (guarded by the
	// revision read) and counted in pruned.
	ConvergenceTasks(ctx context.Context, logger *slog.Logger) (tasks []*models.Task, pruned int, err error)
	// ConvergeFailTask completes a PENDING or RUNNING task as failed with
	// the reason, but only while it is still the task read (same state,
	// created_at and cell); otherwise ResourceConflict.
	ConvergeFailTask(ctx context.Context, logger *slog.Logger, read *models.Task, failureReason string) (after *models.Task, err error)
	// DemoteTask moves a RESOLVING task, still as read, back to COMPLETED
	// (updated_at = now); otherwise ResourceConflict.
	DemoteTask(ctx context.Context, logger *slog.Logger, read *models.Task) (after *models.Task, err error)
	// DeleteExpiredTask deletes a COMPLETED or RESOLVING task still from
	// the completion read (same created_at and first_completed_at), with a
	// compare-and-delete; otherwise ResourceConflict.
	DeleteExpiredTask(ctx context.Context, logger *slog.Logger, read *models.Task) error
}

// DesiredLRPFilter narrows the desired LRP reads. Empty fields match
// everything; set fields must all match (ProcessGuids: any of them).
type DesiredLRPFilter struct {
	Domain       string
	ProcessGuids []string
	// AppGuids keeps the LRPs whose app guid, the first 36 characters of
	// the process guid (spec bridge §, docs/decisions.md), is listed.
	AppGuids []string
}

// AppGuid is the app guid a CC process guid starts with ("<app>-<version>").
func AppGuid(processGuid string) string {
	const appGuidLength = 36
	if len(processGuid) < appGuidLength {
		return processGuid
	}
	return processGuid[:appGuidLength]
}

// DesiredLRPDB stores desired LRPs as two records, the immutable run info
// and the mutable scheduling info (spec core §1.2, §2.4). The scheduling
// info is what makes an LRP exist. The DB never creates or retires actual
// LRPs and never calls the auctioneer: the caller does that with what these
// methods return.
type DesiredLRPDB interface {
	// DesiredLRPs lists the desired LRPs matching filter, each assembled
	// from its scheduling info and run info. A scheduling info without run
	// info, or a record that cannot be decoded, is skipped and logged.
	DesiredLRPs(ctx context.Context, logger *slog.Logger, filter DesiredLRPFilter) ([]*models.DesiredLRP, error)
	// DesiredLRPByProcessGuid returns one assembled desired LRP, or
	// ResourceNotFound.
	DesiredLRPByProcessGuid(ctx context.Context, logger *slog.Logger, processGuid string) (*models.DesiredLRP, error)
	// DesiredLRPSchedulingInfos lists the scheduling infos matching filter.
	DesiredLRPSchedulingInfos(ctx context.Context, logger *slog.Logger, filter DesiredLRPFilter) ([]*models.DesiredLRPSchedulingInfo, error)
	// DesiredLRPSchedulingInfoByProcessGuid returns one scheduling info, or
	// ResourceNotFound.
	DesiredLRPSchedulingInfoByProcessGuid(ctx context.Context, logger *slog.Logger, processGuid string) (*models.DesiredLRPSchedulingInfo, error)
	// DesiredLRPRoutingInfos lists what the route-emitter needs of the
	// desired LRPs matching filter: process_guid, domain, log_guid,
	// instances, routes and modification_tag (read from the scheduling
	// infos alone).
	DesiredLRPRoutingInfos(ctx context.Context, logger *slog.Logger, filter DesiredLRPFilter) ([]*models.DesiredLRP, error)

	// DesireLRP creates the run info (created_at = now) and the scheduling
	// info (new epoch, index 0) in one transaction; ResourceExists if either
	// is already there. d is not modified.
	DesireLRP(ctx context.Context, logger *slog.Logger, d *models.DesiredLRP) error
	// UpdateDesiredLRP applies update to the scheduling info with a
	// compare-and-swap, re-reading and re-applying when the swap loses a
	// race (a removal that won → ResourceNotFound). It returns the scheduling
	// info before and after, so the caller can scale up or down.
	UpdateDesiredLRP(ctx context.Context, logger *slog.Logger, processGuid string, update *models.DesiredLRPUpdate) (before, after *models.DesiredLRPSchedulingInfo, err error)
	// RemoveDesiredLRP deletes both records in one transaction and returns
	// the LRP as it was; ResourceNotFound when neither exists. The caller
	// retires the actual LRPs.
	RemoveDesiredLRP(ctx context.Context, logger *slog.Logger, processGuid string) (removed *models.DesiredLRP, err error)

	// ConvergenceSchedulingInfos reads every scheduling info and run info
	// at one revision for an LRP convergence pass (spec core §5.7). A run
	// info with no scheduling info whose created_at is older than
	// orphanedRunInfoAge is deleted (compare-and-delete). Records that
	// cannot be decoded are counted and skipped.
	ConvergenceSchedulingInfos(ctx context.Context, logger *slog.Logger, orphanedRunInfoAge time.Duration) ([]*models.DesiredLRPSchedulingInfo, DesiredLRPGatherStats, error)
}

// DesiredLRPGatherStats counts what ConvergenceSchedulingInfos met besides
// the scheduling infos it returns (the ConvergenceLRPPreProcessing*
// counters).
type DesiredLRPGatherStats struct {
	MalformedSchedulingInfos int
	MalformedRunInfos        int
	OrphanedRunInfos         int
}

// ActualLRPFilter narrows ActualLRPs. Empty fields (nil Index) match
// everything; set fields must all match.
type ActualLRPFilter struct {
	Domain      string
	CellID      string
	ProcessGuid string
	Index       *int32
}

// ActualLRPDB stores actual LRPs and applies their state machine (spec core
// §2.2) and the evacuation decisions (§2.3). Each index has up to two
// records: the instance (presence ORDINARY) and the evacuating one
// (presence EVACUATING, RUNNING, under an etcd lease). Every write reads the
// record, checks the transition, and compares the revision it read; a lost
// race is re-read and re-checked. Lifecycle calls answer their own error
// (ActualLRPCannotBeClaimed, …) for an illegal transition, and for a race
// lost in every round. The DB never calls the auctioneer or a rep:
// results say when the caller must request an auction.
type ActualLRPDB interface {
	// ActualLRPs lists instance and evacuating records matching filter,
	// with Presence set on each, ordered by process guid, index, presence.
	ActualLRPs(ctx context.Context, logger *slog.Logger, filter ActualLRPFilter) ([]*models.ActualLRP, error)

	// CreateUnclaimedActualLRP creates the UNCLAIMED instance record of key
	// (new epoch, since = now); ResourceExists if the index has one.
	CreateUnclaimedActualLRP(ctx context.Context, logger *slog.Logger, key *models.ActualLRPKey) (*models.ActualLRP, error)
	// CreateUnclaimedActualLRPs is CreateUnclaimedActualLRP for many keys
	// in as few transactions as etcd allows. It returns the records it
	// created; a key whose index has a record is skipped. An error means
	// the keys after the last record returned were not all tried.
	CreateUnclaimedActualLRPs(ctx context.Context, logger *slog.Logger, keys []*models.ActualLRPKey) ([]*models.ActualLRP, error)
	// ClaimActualLRP moves the instance to CLAIMED by instanceKey. Already
	// CLAIMED by the same key → success without a write (before == after).
	// Missing → ResourceNotFound; illegal or lost race →
	// ActualLRPCannotBeClaimed.
	ClaimActualLRP(ctx context.Context, logger *slog.Logger, processGuid string, index int32, instanceKey *models.ActualLRPInstanceKey) (before, after *models.ActualLRP, err error)
	// StartActualLRP moves the instance to RUNNING with the given net info
	// and attributes. A missing record is created RUNNING (before == nil);
	// an identical RUNNING record succeeds without a write (before ==
	// after). Illegal or lost race → ActualLRPCannotBeStarted.
	StartActualLRP(ctx context.Context, logger *slog.Logger, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey, netInfo *models.ActualLRPNetInfo, internalRoutes []*models.ActualLRPInternalRoute, metricTags map[string]string, routable *bool, availabilityZone string) (before, after *models.ActualLRP, err error)
	// CrashActualLRP records a crash (spec core §5.8): the new count,
	// the reason (at most 1024 bytes), keys and net info cleared, since =
	// now. When the new count restarts immediately the record becomes
	// UNCLAIMED and shouldRestart is true (the caller auctions it), unless
	// the desired LRP is gone: then the record is deleted (after == nil,
	// shouldRestart false). Otherwise it becomes CRASHED. Missing →
	// ResourceNotFound; illegal or lost race → ActualLRPCannotBeCrashed.
	CrashActualLRP(ctx context.Context, logger *slog.Logger, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey, crashReason string) (before, after *models.ActualLRP, shouldRestart bool, err error)
	// FailActualLRP records a placement error on an UNCLAIMED instance.
	// Missing → ResourceNotFound; otherwise ActualLRPCannotBeFailed.
	FailActualLRP(ctx context.Context, logger *slog.Logger, key *models.ActualLRPKey, placementError string) (before, after *models.ActualLRP, err error)
	// RemoveActualLRP deletes the instance record, guarded by the revision
	// read; a non-nil instanceKey must match the record's. Missing or
	// mismatched → ResourceNotFound (decision 19); lost race →
	// ResourceConflict. Retire's "cell gone" case calls this with the
	// instance key RetireActualLRP returned, so only that placement goes.
	RemoveActualLRP(ctx context.Context, logger *slog.Logger, processGuid string, index int32, instanceKey *models.ActualLRPInstanceKey) error
	// UnclaimActualLRP moves a CLAIMED, RUNNING or CRASHED instance back to
	// UNCLAIMED (keys and net info cleared, since = now). Missing →
	// ResourceNotFound; already UNCLAIMED, illegal or lost race →
	// ActualLRPCannotBeUnclaimed.
	UnclaimActualLRP(ctx context.Context, logger *slog.Logger, key *models.ActualLRPKey) (before, after *models.ActualLRP, err error)
	// RetireActualLRP is the storage half of Retire (spec core §2.2): an
	// UNCLAIMED or CRASHED instance is deleted (guarded by the revision
	// read) and removed is true; a CLAIMED or RUNNING one is returned
	// untouched (removed false) so the caller can ask its cell's rep to stop
	// it, or call RemoveActualLRP with its instance key when the cell is
	// gone. Missing → ResourceNotFound; lost race → ResourceConflict.
	RetireActualLRP(ctx context.Context, logger *slog.Logger, key *models.ActualLRPKey) (lrp *models.ActualLRP, removed bool, err error)

	// EvacuateClaimedActualLRP removes the caller's evacuating record
	// (errors ignored) and, when the instance is held by instanceKey,
	// unclaims it: unclaimed is then the new record and the caller requests
	// an auction. keepContainer is always false.
	EvacuateClaimedActualLRP(ctx context.Context, logger *slog.Logger, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey) (keepContainer bool, unclaimed *models.ActualLRP, err error)
	// EvacuateRunningActualLRP applies the EvacuateRunning decision table
	// of spec core §2.3. The evacuating record is written under a new lease
	// of ttl (rounded up to whole seconds; 0 means
	// models.DefaultEvacuatingRecordTTL). When the instance is held by
	// instanceKey, the evacuating record is written and the instance
	// unclaimed in one transaction, and needsAuction is true.
	EvacuateRunningActualLRP(ctx context.Context, logger *slog.Logger, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey, netInfo *models.ActualLRPNetInfo, ttl time.Duration, internalRoutes []*models.ActualLRPInternalRoute, metricTags map[string]string, routable *bool, availabilityZone string) (keepContainer bool, needsAuction bool, err error)
	// EvacuateStoppedActualLRP removes the caller's evacuating record, then
	// the instance if instanceKey holds it; otherwise
	// ActualLRPCannotBeRemoved. keepContainer is always false.
	EvacuateStoppedActualLRP(ctx context.Context, logger *slog.Logger, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey) (keepContainer bool, err error)
	// EvacuateCrashedActualLRP removes the caller's evacuating record, then
	// crashes the instance as CrashActualLRP does (a missing instance is
	// fine). shouldRestart says the crash left the index UNCLAIMED to be
	// placed again now; the container is never kept.
	EvacuateCrashedActualLRP(ctx context.Context, logger *slog.Logger, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey, reason string) (shouldRestart bool, err error)
	// RemoveEvacuatingActualLRP deletes the evacuating record if its key and
	// instance key match (absent → success); otherwise, or on a lost race,
	// ActualLRPCannotBeRemoved.
	RemoveEvacuatingActualLRP(ctx context.Context, logger *slog.Logger, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey) error

	// ConvergenceActualLRPs reads every instance and every evacuating
	// record in one range for an LRP convergence pass (spec core §5.7).
	// Records that cannot be decoded are deleted (guarded by the revision
	// read) and counted in pruned.
	ConvergenceActualLRPs(ctx context.Context, logger *slog.Logger) (instances, evacuating []*models.ActualLRP, pruned int, err error)
	// UnclaimCrashedActualLRP moves a CRASHED instance back to UNCLAIMED
	// (convergence restart-crash). Missing → ResourceNotFound; not CRASHED
	// or lost race → ActualLRPCannotBeUnclaimed.
	UnclaimCrashedActualLRP(ctx context.Context, logger *slog.Logger, key *models.ActualLRPKey) (before, after *models.ActualLRP, err error)
}

// DomainDB stores fresh domains (spec core §1.5).
type DomainDB interface {
	// FreshDomains lists the domains that have not expired.
	FreshDomains(ctx context.Context, logger *slog.Logger) ([]string, error)
	// UpsertDomain marks domain fresh for ttl (a fresh lease each call);
	// ttl 0 means it never expires.
	UpsertDomain(ctx context.Context, logger *slog.Logger, domain string, ttl time.Duration) error
}

// CellDB reads the cell presences the reps keep alive through bbs/lock.
type CellDB interface {
	// Cells lists the present cells; presences that cannot be decoded are
	// skipped and logged.
	Cells(ctx context.Context, logger *slog.Logger) ([]*models.CellPresence, error)
	// CellByID returns one cell's presence, or ResourceNotFound.
	CellByID(ctx context.Context, logger *slog.Logger, cellID string) (*models.CellPresence, error)
}
