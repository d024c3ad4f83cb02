// Operations on the sliding queue: a container operation re-reads one
// container and hands it to the LRP processor (lrp_processor.go) or the task
// processor (task_processor.go); residual operations (residual.go) act on
// BBS records whose container is gone.

package sync

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"diego/deploy/logging"
	"diego/executor"
	"diego/models"
)

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
	desired           *desiredLoader
	flag              Evacuation
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

// deleteContainer deletes a container; one already gone counts as deleted.
func (p *processor) deleteContainer(logger *slog.Logger, guid string) {
	p.mu.Lock()
	delete(p.replacementLogged, guid)
	p.mu.Unlock()
	if err := p.executor.DeleteContainer(guid); err != nil && !errors.Is(err, executor.ErrContainerNotFound) {
		logger.Error("failed-to-delete-container", "error", err)
	}
}
