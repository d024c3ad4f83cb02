package sync

import (
	"context"
	"errors"
	"log/slog"

	"diego/deploy/logging"
	"diego/executor"
	"diego/models"
)

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
