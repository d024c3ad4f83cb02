package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"diego/deploy/logging"
	"diego/executor"
	"diego/models"
)

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
	desired, err := p.desired.Get(ctx, key.GetProcessGuid())
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
