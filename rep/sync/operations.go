package sync

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"diego/deploy/logging"
	"diego/executor"
	"diego/models"
	"diego/rep/evacuation"
)

// The task failure reasons the rep writes (spec cell §4.5, §4.7).
const (
	TaskReasonFailedToRunContainer   = "failed to run container"
	TaskReasonFailedToFetchResult    = "failed to fetch result"
	TaskReasonInvalidStateTransition = "invalid state transition"
	TaskReasonMissingContainer       = "task container does not exist"
)

// MaxResultFileSize bounds a task's result file (50 KiB).
const MaxResultFileSize = 51200

// ErrResultFileTooLarge is a result file over MaxResultFileSize.
var ErrResultFileTooLarge = fmt.Errorf("result file is too large (over %d bytes)", MaxResultFileSize)

// Error types compared with errors.Is: a *models.Error matches on its type.
var (
	errCannotBeClaimed   = models.NewError(models.Error_ActualLRPCannotBeClaimed, "")
	errCannotBeStarted   = models.NewError(models.Error_ActualLRPCannotBeStarted, "")
	errInvalidTransition = models.NewError(models.Error_InvalidStateTransition, "")
	errResourceNotFound  = models.NewError(models.Error_ResourceNotFound, "")
)

// processor applies the LRP and task tables to one container.
type processor struct {
	cellID            string
	zone              string
	evacuationTimeout time.Duration
	stacks            map[string]string
	executor          ExecutorClient
	bbs               BBSClient
	flag              *evacuation.Flag
	appLog            AppLog

	mu sync.Mutex
	// replacementLogged holds the containers whose "requesting replacement"
	// line was written, so it is written once per container.
	replacementLogged map[string]bool
}

// containerOperation re-reads one container and processes it.
type containerOperation struct {
	guid   string
	p      *processor
	logger *slog.Logger
}

func (o *containerOperation) Key() string { return o.guid }

func (o *containerOperation) Execute(ctx context.Context) {
	logger := logging.Session(o.logger, "container-operation", "container_guid", o.guid)
	c, err := o.p.executor.GetContainer(o.guid)
	if errors.Is(err, executor.ErrContainerNotFound) {
		logger.Debug("container-gone")
		return
	}
	if err != nil {
		logger.Error("failed-to-get-container", "error", err)
		return
	}
	switch lifecycle := c.Tags[LifecycleTag]; lifecycle {
	case LRPLifecycle:
		o.p.processLRP(ctx, logger, c)
	case TaskLifecycle:
		o.p.processTask(ctx, logger, c)
	default:
		logger.Debug("ignoring-container-without-lifecycle", "lifecycle", lifecycle)
	}
}

// lrpKeys reads an LRP container's keys from its tags.
func lrpKeys(c executor.Container, cellID string) (*models.ActualLRPKey, *models.ActualLRPInstanceKey, error) {
	processGuid := c.Tags[ProcessGuidTag]
	if processGuid == "" {
		return nil, nil, fmt.Errorf("container %s has no %s tag", c.Guid, ProcessGuidTag)
	}
	index, err := strconv.ParseInt(c.Tags[ProcessIndexTag], 10, 32)
	if err != nil {
		return nil, nil, fmt.Errorf("container %s: bad %s tag: %w", c.Guid, ProcessIndexTag, err)
	}
	instanceGuid := c.Tags[InstanceGuidTag]
	if instanceGuid == "" {
		instanceGuid = c.Guid
	}
	key := &models.ActualLRPKey{ProcessGuid: processGuid, Index: int32(index), Domain: c.Tags[DomainTag]}
	return key, &models.ActualLRPInstanceKey{InstanceGuid: instanceGuid, CellId: cellID}, nil
}

func (p *processor) processLRP(ctx context.Context, logger *slog.Logger, c executor.Container) {
	key, instanceKey, err := lrpKeys(c, p.cellID)
	if err != nil {
		logger.Error("invalid-lrp-container", "error", err)
		return
	}
	logger = logger.With("process_guid", key.GetProcessGuid(), "index", key.GetIndex(), "state", string(c.State))
	if p.flag.Evacuating() {
		p.evacuateLRP(ctx, logging.Session(logger, "evacuating-lrp-processor"), c, key, instanceKey)
		return
	}
	logger = logging.Session(logger, "lrp-processor")
	switch {
	case c.State == executor.StateReserved:
		if p.claim(ctx, logger, c, key, instanceKey) {
			p.runLRP(ctx, logger, c, key, instanceKey)
		}
	case c.State == executor.StateInitializing || c.State == executor.StateCreated:
		p.claim(ctx, logger, c, key, instanceKey)
	case c.State == executor.StateRunning:
		p.startLRP(ctx, logger, c, key, instanceKey)
	case c.State == executor.StateCompleted:
		p.completeLRP(ctx, logger, c, key, instanceKey)
	}
}

// claim claims the instance; a claim the BBS refuses for good deletes the
// container. It says whether the claim holds.
func (p *processor) claim(ctx context.Context, logger *slog.Logger, c executor.Container, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey) bool {
	err := p.bbs.ClaimActualLRP(ctx, key, instanceKey)
	switch {
	case err == nil:
		return true
	case errors.Is(err, errCannotBeClaimed):
		logger.Info("cannot-claim-deleting-container", "error", err)
		p.deleteContainer(logger, c.Guid)
	default:
		logger.Error("failed-to-claim", "error", err)
	}
	return false
}

// runLRP runs a claimed reservation. If it cannot, the container goes and
// the instance record is removed, so convergence places the index anew.
func (p *processor) runLRP(ctx context.Context, logger *slog.Logger, c executor.Container, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey) {
	desired, err := p.bbs.DesiredLRPByProcessGuid(ctx, key.GetProcessGuid())
	if err != nil {
		logger.Error("failed-to-fetch-desired-lrp", "error", err)
		return
	}
	req, err := NewLRPRunRequest(desired, key, instanceKey, p.stacks)
	if err == nil {
		req.Guid = c.Guid
		err = p.executor.RunContainer(req)
	}
	if err == nil {
		logger.Info("running-container")
		return
	}
	logger.Error("failed-to-run-container", "error", err)
	p.deleteContainer(logger, c.Guid)
	if err := p.bbs.RemoveActualLRP(ctx, key, instanceKey); err != nil {
		logger.Error("failed-to-remove-actual-lrp", "error", err)
	}
}

func (p *processor) startLRP(ctx context.Context, logger *slog.Logger, c executor.Container, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey) {
	routable := c.Routable
	err := p.bbs.StartActualLRP(ctx, &models.StartActualLRPRequest{
		ActualLrpKey:         key,
		ActualLrpInstanceKey: instanceKey,
		ActualLrpNetInfo:     NetInfo(c),
		MetricTags:           c.MetricsConfig.Tags,
		Routable:             &routable,
		AvailabilityZone:     p.zone,
	})
	switch {
	case err == nil:
	case errors.Is(err, errCannotBeStarted):
		logger.Info("cannot-start-stopping-container", "error", err)
		if err := p.executor.StopContainer(c.Guid); err != nil && !errors.Is(err, executor.ErrContainerNotFound) {
			logger.Error("failed-to-stop-container", "error", err)
		}
	default:
		logger.Error("failed-to-start-actual-lrp", "error", err)
	}
}

func (p *processor) completeLRP(ctx context.Context, logger *slog.Logger, c executor.Container, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey) {
	if c.RunResult.Stopped {
		if err := p.bbs.RemoveActualLRP(ctx, key, instanceKey); err != nil {
			logger.Error("failed-to-remove-actual-lrp", "error", err)
		}
	} else {
		if err := p.bbs.CrashActualLRP(ctx, key, instanceKey, c.RunResult.FailureReason); err != nil {
			logger.Error("failed-to-crash-actual-lrp", "error", err)
		}
	}
	p.deleteContainer(logger, c.Guid)
}

// evacuateLRP is the LRP table in evacuation mode (spec cell §4.9).
func (p *processor) evacuateLRP(ctx context.Context, logger *slog.Logger, c executor.Container, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey) {
	switch {
	case c.State.Starting():
		if _, err := p.bbs.EvacuateClaimedActualLRP(ctx, key, instanceKey); err != nil {
			logger.Error("failed-to-evacuate-claimed", "error", err)
		}
		p.deleteContainer(logger, c.Guid)
	case c.State == executor.StateRunning:
		p.logReplacement(c, instanceKey.GetInstanceGuid())
		routable := c.Routable
		keep, err := p.bbs.EvacuateRunningActualLRP(ctx, &models.EvacuateRunningActualLRPRequest{
			ActualLrpKey:         key,
			ActualLrpInstanceKey: instanceKey,
			ActualLrpNetInfo:     NetInfo(c),
			Ttl:                  uint64(p.evacuationTimeout / time.Second),
			MetricTags:           c.MetricsConfig.Tags,
			Routable:             &routable,
			AvailabilityZone:     p.zone,
		})
		if err != nil {
			// Keep serving: the next pass asks again, and the evacuation
			// timeout ends the container anyway.
			logger.Error("failed-to-evacuate-running", "error", err)
			return
		}
		if !keep {
			logger.Info("evacuated-deleting-container")
			p.deleteContainer(logger, c.Guid)
		}
	case c.State == executor.StateCompleted:
		if c.RunResult.Stopped {
			if _, err := p.bbs.EvacuateStoppedActualLRP(ctx, key, instanceKey); err != nil {
				logger.Error("failed-to-evacuate-stopped", "error", err)
			}
		} else {
			if _, err := p.bbs.EvacuateCrashedActualLRP(ctx, key, instanceKey, c.RunResult.FailureReason); err != nil {
				logger.Error("failed-to-evacuate-crashed", "error", err)
			}
		}
		p.deleteContainer(logger, c.Guid)
	}
}

// logReplacement writes "Cell <id> requesting replacement for instance
// <ig>" to the app's log, once per container.
func (p *processor) logReplacement(c executor.Container, instanceGuid string) {
	p.mu.Lock()
	logged := p.replacementLogged[c.Guid]
	p.replacementLogged[c.Guid] = true
	p.mu.Unlock()
	if logged {
		return
	}
	p.appLog.SendAppLog(c.LogConfig.Guid,
		fmt.Sprintf("Cell %s requesting replacement for instance %s", p.cellID, instanceGuid),
		c.LogConfig.SourceName, strconv.Itoa(c.LogConfig.Index))
}

func (p *processor) processTask(ctx context.Context, logger *slog.Logger, c executor.Container) {
	logger = logging.Session(logger, "task-processor", "task_guid", c.Guid, "state", string(c.State))
	if c.State == executor.StateCompleted {
		p.completeTask(ctx, logger, c)
		return
	}
	changed, err := p.bbs.StartTask(ctx, c.Guid, p.cellID)
	switch {
	case errors.Is(err, errInvalidTransition) || errors.Is(err, errResourceNotFound):
		logger.Info("cannot-start-task-deleting-container", "error", err)
		p.deleteContainer(logger, c.Guid)
		return
	case err != nil:
		logger.Error("failed-to-start-task", "error", err)
		return
	case !changed && c.State != executor.StateReserved:
		return // started and run by this rep already
	case !changed:
		// The task is Running on this cell but its container was never
		// run: an earlier StartTask succeeded and its answer was lost (the
		// BBS restarted). Run it now rather than leave it to expire.
		logger.Info("task-started-earlier-running-reserved-container")
	}
	task, err := p.bbs.TaskByGuid(ctx, c.Guid)
	if err != nil {
		logger.Error("failed-to-fetch-task", "error", err)
		return
	}
	req, err := NewTaskRunRequest(task, p.stacks)
	if err == nil {
		req.Guid = c.Guid
		err = p.executor.RunContainer(req)
	}
	if err == nil {
		logger.Info("running-container")
		return
	}
	logger.Error("failed-to-run-container", "error", err)
	p.deleteContainer(logger, c.Guid)
	p.completeTaskWith(ctx, logger, c.Guid, true, TaskReasonFailedToRunContainer, "")
}

// completeTask reports a completed task container, then deletes it.
func (p *processor) completeTask(ctx context.Context, logger *slog.Logger, c executor.Container) {
	rr := c.RunResult
	if rr.Failed && rr.Retryable {
		if err := p.bbs.RejectTask(ctx, c.Guid, rr.FailureReason); err != nil && !definitive(err) {
			// The BBS did not take it (restarting, unreachable): keep the
			// container, and the next pass rejects again.
			logger.Error("failed-to-reject-task-keeping-container", "error", err)
			return
		}
		p.deleteContainer(logger, c.Guid)
		return
	}
	failed, reason, result := rr.Failed, rr.FailureReason, ""
	if file := c.Tags[ResultFileTag]; file != "" && !failed {
		var err error
		result, err = p.readResult(c.Guid, file)
		if err != nil {
			logger.Error("failed-to-fetch-result", "result_file", file, "error", err)
			failed, reason, result = true, TaskReasonFailedToFetchResult, ""
		}
	}
	err := p.bbs.CompleteTask(ctx, c.Guid, p.cellID, failed, reason, result)
	switch {
	case errors.Is(err, errInvalidTransition):
		logger.Info("invalid-transition-failing-task", "error", err)
		p.completeTaskWith(ctx, logger, c.Guid, true, TaskReasonInvalidStateTransition, "")
	case err != nil && !definitive(err):
		// Deleting now would lose the result: the task would later fail
		// as "task container does not exist" (decision 23).
		logger.Error("failed-to-complete-task-keeping-container", "error", err)
		return
	case err != nil:
		logger.Error("failed-to-complete-task", "error", err)
	}
	p.deleteContainer(logger, c.Guid)
}

// definitive says whether a BBS answer settles a task's fate (the task is
// gone, or not in a state to take this), as opposed to a failure to reach
// or be served by the BBS, which a later pass retries.
func definitive(err error) bool {
	return errors.Is(err, errInvalidTransition) || errors.Is(err, errResourceNotFound)
}

func (p *processor) completeTaskWith(ctx context.Context, logger *slog.Logger, guid string, failed bool, reason, result string) {
	if err := p.bbs.CompleteTask(ctx, guid, p.cellID, failed, reason, result); err != nil {
		logger.Error("failed-to-complete-task", "reason", reason, "error", err)
	}
}

// readResult reads the first entry of the tar the executor streams for
// path, up to MaxResultFileSize bytes.
func (p *processor) readResult(guid, path string) (string, error) {
	stream, err := p.executor.GetFiles(guid, path)
	if err != nil {
		return "", err
	}
	defer stream.Close()
	tr := tar.NewReader(stream)
	hdr, err := tr.Next()
	if err != nil {
		return "", fmt.Errorf("reading result tar: %w", err)
	}
	if hdr.Size > MaxResultFileSize {
		return "", ErrResultFileTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(tr, MaxResultFileSize+1))
	if err != nil {
		return "", fmt.Errorf("reading result file: %w", err)
	}
	if len(body) > MaxResultFileSize {
		return "", ErrResultFileTooLarge
	}
	return string(body), nil
}

// deleteContainer deletes a container; one already gone counts as deleted.
func (p *processor) deleteContainer(logger *slog.Logger, guid string) {
	p.mu.Lock()
	delete(p.replacementLogged, guid)
	p.mu.Unlock()
	if err := p.executor.DeleteContainer(guid); err != nil && !errors.Is(err, executor.ErrContainerNotFound) {
		logger.Error("failed-to-delete-container", "error", err)
	}
}

// residualOperation acts on a BBS record whose container is gone, after
// checking again that the container really is absent (spec cell §4.7).
type residualOperation struct {
	key    string
	name   string
	p      *processor
	logger *slog.Logger
	act    func(ctx context.Context, logger *slog.Logger)
}

func (o *residualOperation) Key() string { return o.key }

func (o *residualOperation) Execute(ctx context.Context) {
	logger := logging.Session(o.logger, o.name, "container_guid", o.key)
	_, err := o.p.executor.GetContainer(o.key)
	if err == nil {
		logger.Info("container-exists-skipping")
		return
	}
	if !errors.Is(err, executor.ErrContainerNotFound) {
		logger.Error("failed-to-check-container", "error", err)
		return
	}
	o.act(ctx, logger)
}

func (p *processor) residualInstanceLRP(logger *slog.Logger, lrp *models.ActualLRP) Operation {
	key, instanceKey := lrp.GetActualLrpKey(), lrp.GetActualLrpInstanceKey()
	return &residualOperation{key: instanceKey.GetInstanceGuid(), name: "residual-instance-lrp-operation", p: p, logger: logger,
		act: func(ctx context.Context, logger *slog.Logger) {
			if err := p.bbs.RemoveActualLRP(ctx, key, instanceKey); err != nil {
				logger.Error("failed-to-remove-actual-lrp", "error", err)
			}
		}}
}

func (p *processor) residualEvacuatingLRP(logger *slog.Logger, lrp *models.ActualLRP) Operation {
	key, instanceKey := lrp.GetActualLrpKey(), lrp.GetActualLrpInstanceKey()
	return &residualOperation{key: instanceKey.GetInstanceGuid(), name: "residual-evacuating-lrp-operation", p: p, logger: logger,
		act: func(ctx context.Context, logger *slog.Logger) {
			if err := p.bbs.RemoveEvacuatingActualLRP(ctx, key, instanceKey); err != nil {
				logger.Error("failed-to-remove-evacuating-actual-lrp", "error", err)
			}
		}}
}

func (p *processor) residualJointLRP(logger *slog.Logger, instance, evacuating *models.ActualLRP) Operation {
	key, instanceKey := instance.GetActualLrpKey(), instance.GetActualLrpInstanceKey()
	evacKey, evacInstanceKey := evacuating.GetActualLrpKey(), evacuating.GetActualLrpInstanceKey()
	return &residualOperation{key: instanceKey.GetInstanceGuid(), name: "residual-joint-lrp-operation", p: p, logger: logger,
		act: func(ctx context.Context, logger *slog.Logger) {
			if err := p.bbs.RemoveActualLRP(ctx, key, instanceKey); err != nil {
				logger.Error("failed-to-remove-actual-lrp", "error", err)
			}
			if err := p.bbs.RemoveEvacuatingActualLRP(ctx, evacKey, evacInstanceKey); err != nil {
				logger.Error("failed-to-remove-evacuating-actual-lrp", "error", err)
			}
		}}
}

func (p *processor) residualTask(logger *slog.Logger, task *models.Task) Operation {
	guid := task.GetTaskGuid()
	return &residualOperation{key: guid, name: "residual-task-operation", p: p, logger: logger,
		act: func(ctx context.Context, logger *slog.Logger) {
			p.completeTaskWith(ctx, logger, guid, true, TaskReasonMissingContainer, "")
		}}
}
