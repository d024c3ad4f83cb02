package sync

import (
	"context"
	"io"
	"time"

	bbsclient "diego/bbs/client"
	"diego/executor"
	executorclient "diego/executor/client"
	"diego/models"
)

//go:generate go tool counterfeiter -generate

// ExecutorClient is what the generator asks of the executor
// (*executor/client.Client).
//
//counterfeiter:generate . ExecutorClient
type ExecutorClient interface {
	ListContainers(filter executor.Tags) ([]executor.Container, error)
	GetContainer(guid string) (executor.Container, error)
	RunContainer(req executor.RunRequest) error
	StopContainer(guid string) error
	DeleteContainer(guid string) error
	GetFiles(guid, source string) (io.ReadCloser, error)
}

// EventStream is one subscription to the executor's events
// (*executor/client.EventSource).
//
//counterfeiter:generate . EventStream
type EventStream interface {
	Next() (executor.Event, error)
	Close() error
}

// EventSubscriber opens event streams. The executor client's
// SubscribeToEvents returns its concrete *EventSource, so it is adapted by
// ExecutorEvents.
//
//counterfeiter:generate . EventSubscriber
type EventSubscriber interface {
	SubscribeToEvents() (EventStream, error)
}

// ExecutorEvents adapts the executor client to EventSubscriber.
func ExecutorEvents(c *executorclient.Client) EventSubscriber {
	return executorEvents{c}
}

type executorEvents struct{ c *executorclient.Client }

func (e executorEvents) SubscribeToEvents() (EventStream, error) {
	source, err := e.c.SubscribeToEvents()
	if err != nil {
		// Never a typed nil inside a non-nil interface.
		return nil, err
	}
	return source, nil
}

// BBSClient is what the generator asks of the BBS (*bbs/client.Client).
//
//counterfeiter:generate . BBSClient
type BBSClient interface {
	ActualLRPs(ctx context.Context, f bbsclient.ActualLRPFilter) ([]*models.ActualLRP, error)
	DesiredLRPs(ctx context.Context, f bbsclient.DesiredLRPFilter) ([]*models.DesiredLRP, error)
	ClaimActualLRP(ctx context.Context, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey) error
	StartActualLRP(ctx context.Context, req *models.StartActualLRPRequest) error
	CrashActualLRP(ctx context.Context, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey, errorMessage string) error
	RemoveActualLRP(ctx context.Context, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey) error
	EvacuateClaimedActualLRP(ctx context.Context, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey) (bool, error)
	EvacuateRunningActualLRP(ctx context.Context, req *models.EvacuateRunningActualLRPRequest) (bool, error)
	EvacuateStoppedActualLRP(ctx context.Context, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey) (bool, error)
	EvacuateCrashedActualLRP(ctx context.Context, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey, errorMessage string) (bool, error)
	RemoveEvacuatingActualLRP(ctx context.Context, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey) error

	Tasks(ctx context.Context, f bbsclient.TaskFilter) ([]*models.Task, error)
	TaskByGuid(ctx context.Context, taskGuid string) (*models.Task, error)
	StartTask(ctx context.Context, taskGuid, cellID string) (bool, error)
	CompleteTask(ctx context.Context, taskGuid, cellID string, failed bool, failureReason, result string) error
	RejectTask(ctx context.Context, taskGuid, rejectionReason string) error
}

// Metrics sends the bulk sync's duration (metron/emitter.Emitter).
//
//counterfeiter:generate . Metrics
type Metrics interface {
	SendDuration(name string, d time.Duration)
}

// AppLog writes a line to an app's log (metron/emitter.Emitter).
//
//counterfeiter:generate . AppLog
type AppLog interface {
	SendAppLog(appID, message, sourceType, sourceInstance string)
}

type noMetrics struct{}

func (noMetrics) SendDuration(string, time.Duration) {}

type noAppLog struct{}

func (noAppLog) SendAppLog(string, string, string, string) {}

// Evacuation is the rep's evacuation flag (*rep/evacuator.Flag): it paces
// the bulk sync and switches the LRP processor to its evacuation table.
type Evacuation interface {
	Evacuating() bool
	Started() <-chan struct{}
}

// notEvacuating is the flag of a sync that never evacuates (tests).
type notEvacuating struct{}

func (notEvacuating) Evacuating() bool { return false }

// Started never closes: a nil channel blocks for ever.
func (notEvacuating) Started() <-chan struct{} { return nil }
