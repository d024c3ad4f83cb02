package client

import (
	"context"
	"io"
	"time"

	"diego/bbs"
	"diego/models"

	"google.golang.org/protobuf/proto"
)

// One method per BBS call, always on the newest revision of its route.

// Ping reports whether the BBS is up and has finished starting.
func (c *Client) Ping(ctx context.Context) bool {
	httpResp, err := c.sendRetrying(ctx, bbs.PingRoute, nil)
	if err != nil {
		return false
	}
	defer httpResp.Body.Close()
	body, err := io.ReadAll(httpResp.Body)
	var resp models.PingResponse
	return err == nil && proto.Unmarshal(body, &resp) == nil && resp.GetAvailable()
}

// Domains lists the fresh domains.
func (c *Client) Domains(ctx context.Context) ([]string, error) {
	var resp models.DomainsResponse
	err := c.do(ctx, bbs.DomainsRoute, nil, &resp)
	return resp.GetDomains(), err
}

// UpsertDomain marks a domain fresh for ttl (0: forever).
func (c *Client) UpsertDomain(ctx context.Context, domain string, ttl time.Duration) error {
	req := &models.UpsertDomainRequest{Domain: domain, Ttl: uint32(ttl / time.Second)}
	return c.do(ctx, bbs.UpsertDomainRoute, req, &models.UpsertDomainResponse{})
}

// Cells lists the present cells.
func (c *Client) Cells(ctx context.Context) ([]*models.CellPresence, error) {
	var resp models.CellsResponse
	err := c.do(ctx, bbs.CellsRoute, nil, &resp)
	return resp.GetCells(), err
}

// ActualLRPFilter narrows ActualLRPs; empty fields match everything.
type ActualLRPFilter struct {
	Domain, CellID, ProcessGuid string
	Index                       *int32
}

// ActualLRPs lists instance and evacuating records, told apart by presence.
func (c *Client) ActualLRPs(ctx context.Context, f ActualLRPFilter) ([]*models.ActualLRP, error) {
	var resp models.ActualLRPsResponse
	req := &models.ActualLRPsRequest{Domain: f.Domain, CellId: f.CellID, ProcessGuid: f.ProcessGuid, Index: f.Index}
	err := c.do(ctx, bbs.ActualLRPsRoute, req, &resp)
	return resp.GetActualLrps(), err
}

// ActualLRPsByProcessGuids lists the records of several process guids.
func (c *Client) ActualLRPsByProcessGuids(ctx context.Context, processGuids []string) ([]*models.ActualLRP, error) {
	var resp models.ActualLRPsResponse
	req := &models.ActualLRPsByProcessGuidsRequest{ProcessGuids: processGuids}
	err := c.do(ctx, bbs.ActualLRPsByProcessGuidsRoute, req, &resp)
	return resp.GetActualLrps(), err
}

// ActualLRPGroups lists {instance, evacuating} per index (deprecated API).
func (c *Client) ActualLRPGroups(ctx context.Context, domain, cellID string) ([]*models.ActualLRPGroup, error) {
	var resp models.ActualLRPGroupsResponse
	err := c.do(ctx, bbs.ActualLRPGroupsRoute, &models.ActualLRPGroupsRequest{Domain: domain, CellId: cellID}, &resp)
	return resp.GetActualLrpGroups(), err
}

// ActualLRPGroupsByProcessGuid lists the groups of one process guid.
func (c *Client) ActualLRPGroupsByProcessGuid(ctx context.Context, processGuid string) ([]*models.ActualLRPGroup, error) {
	var resp models.ActualLRPGroupsResponse
	req := &models.ActualLRPGroupsByProcessGuidRequest{ProcessGuid: processGuid}
	err := c.do(ctx, bbs.ActualLRPGroupsByProcessGuidRoute, req, &resp)
	return resp.GetActualLrpGroups(), err
}

// ActualLRPGroupByProcessGuidAndIndex returns one index's group.
func (c *Client) ActualLRPGroupByProcessGuidAndIndex(ctx context.Context, processGuid string, index int32) (*models.ActualLRPGroup, error) {
	var resp models.ActualLRPGroupResponse
	req := &models.ActualLRPGroupByProcessGuidAndIndexRequest{ProcessGuid: processGuid, Index: index}
	err := c.do(ctx, bbs.ActualLRPGroupByProcessGuidAndIndexRoute, req, &resp)
	return resp.GetActualLrpGroup(), err
}

// ClaimActualLRP claims an instance for a cell.
func (c *Client) ClaimActualLRP(ctx context.Context, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey) error {
	req := &models.ClaimActualLRPRequest{ProcessGuid: key.GetProcessGuid(), Index: key.GetIndex(), ActualLrpInstanceKey: instanceKey}
	return c.do(ctx, bbs.ClaimActualLRPRoute, req, &models.ActualLRPLifecycleResponse{})
}

// StartActualLRP reports an instance running, with its net info and the
// optional fields of the request.
func (c *Client) StartActualLRP(ctx context.Context, req *models.StartActualLRPRequest) error {
	return c.do(ctx, bbs.StartActualLRPRoute, req, &models.ActualLRPLifecycleResponse{})
}

// CrashActualLRP reports an instance crashed.
func (c *Client) CrashActualLRP(ctx context.Context, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey, errorMessage string) error {
	req := &models.CrashActualLRPRequest{ActualLrpKey: key, ActualLrpInstanceKey: instanceKey, ErrorMessage: errorMessage}
	return c.do(ctx, bbs.CrashActualLRPRoute, req, &models.ActualLRPLifecycleResponse{})
}

// FailActualLRP records a placement failure on an UNCLAIMED instance.
func (c *Client) FailActualLRP(ctx context.Context, key *models.ActualLRPKey, errorMessage string) error {
	req := &models.FailActualLRPRequest{ActualLrpKey: key, ErrorMessage: errorMessage}
	return c.do(ctx, bbs.FailActualLRPRoute, req, &models.ActualLRPLifecycleResponse{})
}

// RemoveActualLRP deletes an instance record; a non-nil instance key must match.
func (c *Client) RemoveActualLRP(ctx context.Context, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey) error {
	req := &models.RemoveActualLRPRequest{ProcessGuid: key.GetProcessGuid(), Index: key.GetIndex(), ActualLrpInstanceKey: instanceKey}
	return c.do(ctx, bbs.RemoveActualLRPRoute, req, &models.ActualLRPLifecycleResponse{})
}

// RetireActualLRP stops an instance (through its rep) and removes it.
func (c *Client) RetireActualLRP(ctx context.Context, key *models.ActualLRPKey) error {
	return c.do(ctx, bbs.RetireActualLRPRoute, &models.RetireActualLRPRequest{ActualLrpKey: key}, &models.ActualLRPLifecycleResponse{})
}

// EvacuateClaimedActualLRP gives up a claimed instance while evacuating.
func (c *Client) EvacuateClaimedActualLRP(ctx context.Context, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey) (keepContainer bool, err error) {
	req := &models.EvacuateClaimedActualLRPRequest{ActualLrpKey: key, ActualLrpInstanceKey: instanceKey}
	return c.evacuate(ctx, bbs.EvacuateClaimedRoute, req)
}

// EvacuateCrashedActualLRP reports a crash while evacuating.
func (c *Client) EvacuateCrashedActualLRP(ctx context.Context, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey, errorMessage string) (bool, error) {
	req := &models.EvacuateCrashedActualLRPRequest{ActualLrpKey: key, ActualLrpInstanceKey: instanceKey, ErrorMessage: errorMessage}
	return c.evacuate(ctx, bbs.EvacuateCrashedRoute, req)
}

// EvacuateStoppedActualLRP reports a stopped container while evacuating.
func (c *Client) EvacuateStoppedActualLRP(ctx context.Context, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey) (bool, error) {
	req := &models.EvacuateStoppedActualLRPRequest{ActualLrpKey: key, ActualLrpInstanceKey: instanceKey}
	return c.evacuate(ctx, bbs.EvacuateStoppedRoute, req)
}

// EvacuateRunningActualLRP keeps a running instance routable while its
// replacement is placed elsewhere.
func (c *Client) EvacuateRunningActualLRP(ctx context.Context, req *models.EvacuateRunningActualLRPRequest) (bool, error) {
	return c.evacuate(ctx, bbs.EvacuateRunningRoute, req)
}

func (c *Client) evacuate(ctx context.Context, route string, req proto.Message) (bool, error) {
	var resp models.EvacuationResponse
	err := c.do(ctx, route, req, &resp)
	return resp.GetKeepContainer(), err
}

// RemoveEvacuatingActualLRP deletes the caller's evacuating record.
func (c *Client) RemoveEvacuatingActualLRP(ctx context.Context, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey) error {
	req := &models.RemoveEvacuatingActualLRPRequest{ActualLrpKey: key, ActualLrpInstanceKey: instanceKey}
	return c.do(ctx, bbs.RemoveEvacuatingRoute, req, &models.RemoveEvacuatingActualLRPResponse{})
}

// DesiredLRPFilter narrows desired LRP lists; empty fields match everything.
type DesiredLRPFilter struct {
	Domain       string
	ProcessGuids []string
	AppGuids     []string // matched against the first 36 characters of a process guid
}

func (f DesiredLRPFilter) request() *models.DesiredLRPsRequest {
	return &models.DesiredLRPsRequest{Domain: f.Domain, ProcessGuids: f.ProcessGuids, AppGuids: f.AppGuids}
}

// DesiredLRPs lists whole desired LRPs.
func (c *Client) DesiredLRPs(ctx context.Context, f DesiredLRPFilter) ([]*models.DesiredLRP, error) {
	var resp models.DesiredLRPsResponse
	err := c.do(ctx, bbs.DesiredLRPsRoute, f.request(), &resp)
	return resp.GetDesiredLrps(), err
}

// DesiredLRPByProcessGuid returns one desired LRP.
func (c *Client) DesiredLRPByProcessGuid(ctx context.Context, processGuid string) (*models.DesiredLRP, error) {
	var resp models.DesiredLRPResponse
	err := c.do(ctx, bbs.DesiredLRPByProcessGuidRoute, &models.DesiredLRPByProcessGuidRequest{ProcessGuid: processGuid}, &resp)
	return resp.GetDesiredLrp(), err
}

// DesiredLRPSchedulingInfos lists the scheduling parts of desired LRPs.
func (c *Client) DesiredLRPSchedulingInfos(ctx context.Context, f DesiredLRPFilter) ([]*models.DesiredLRPSchedulingInfo, error) {
	var resp models.DesiredLRPSchedulingInfosResponse
	err := c.do(ctx, bbs.DesiredLRPSchedulingInfosRoute, f.request(), &resp)
	return resp.GetDesiredLrpSchedulingInfos(), err
}

// DesiredLRPSchedulingInfoByProcessGuid returns one scheduling info.
func (c *Client) DesiredLRPSchedulingInfoByProcessGuid(ctx context.Context, processGuid string) (*models.DesiredLRPSchedulingInfo, error) {
	var resp models.DesiredLRPSchedulingInfoByProcessGuidResponse
	req := &models.DesiredLRPByProcessGuidRequest{ProcessGuid: processGuid}
	err := c.do(ctx, bbs.DesiredLRPSchedulingInfoByProcessGuidRoute, req, &resp)
	return resp.GetDesiredLrpSchedulingInfo(), err
}

// DesiredLRPRoutingInfos lists desired LRPs with only their routing fields.
func (c *Client) DesiredLRPRoutingInfos(ctx context.Context, f DesiredLRPFilter) ([]*models.DesiredLRP, error) {
	var resp models.DesiredLRPsResponse
	err := c.do(ctx, bbs.DesiredLRPRoutingInfosRoute, f.request(), &resp)
	return resp.GetDesiredLrps(), err
}

// DesireLRP creates a desired LRP and its instances.
func (c *Client) DesireLRP(ctx context.Context, d *models.DesiredLRP) error {
	return c.do(ctx, bbs.DesireDesiredLRPRoute, &models.DesireLRPRequest{DesiredLrp: d}, &models.DesiredLRPLifecycleResponse{})
}

// UpdateDesiredLRP applies an update (instances, routes, annotation, ...).
func (c *Client) UpdateDesiredLRP(ctx context.Context, processGuid string, update *models.DesiredLRPUpdate) error {
	req := &models.UpdateDesiredLRPRequest{ProcessGuid: processGuid, Update: update}
	return c.do(ctx, bbs.UpdateDesiredLRPRoute, req, &models.DesiredLRPLifecycleResponse{})
}

// RemoveDesiredLRP deletes a desired LRP and retires its instances.
func (c *Client) RemoveDesiredLRP(ctx context.Context, processGuid string) error {
	req := &models.RemoveDesiredLRPRequest{ProcessGuid: processGuid}
	return c.do(ctx, bbs.RemoveDesiredLRPRoute, req, &models.DesiredLRPLifecycleResponse{})
}

// TaskFilter narrows task lists; empty fields match everything.
type TaskFilter struct {
	Domain, CellID string
}

// Tasks lists tasks.
func (c *Client) Tasks(ctx context.Context, f TaskFilter) ([]*models.Task, error) {
	var resp models.TasksResponse
	err := c.do(ctx, bbs.TasksRoute, &models.TasksRequest{Domain: f.Domain, CellId: f.CellID}, &resp)
	return resp.GetTasks(), err
}

// TaskByGuid returns one task.
func (c *Client) TaskByGuid(ctx context.Context, taskGuid string) (*models.Task, error) {
	var resp models.TaskResponse
	err := c.do(ctx, bbs.TaskByGuidRoute, &models.TaskByGuidRequest{TaskGuid: taskGuid}, &resp)
	return resp.GetTask(), err
}

// DesireTask creates a PENDING task and asks for its placement.
func (c *Client) DesireTask(ctx context.Context, taskGuid, domain string, def *models.TaskDefinition) error {
	req := &models.DesireTaskRequest{TaskGuid: taskGuid, Domain: domain, TaskDefinition: def}
	return c.do(ctx, bbs.DesireTaskRoute, req, &models.TaskLifecycleResponse{})
}

// StartTask moves a task to RUNNING on a cell; shouldStart is false when it
// was already running there.
func (c *Client) StartTask(ctx context.Context, taskGuid, cellID string) (shouldStart bool, err error) {
	var resp models.StartTaskResponse
	err = c.do(ctx, bbs.StartTaskRoute, &models.StartTaskRequest{TaskGuid: taskGuid, CellId: cellID}, &resp)
	return resp.GetShouldStart(), err
}

// CancelTask completes a pending or running task as cancelled.
func (c *Client) CancelTask(ctx context.Context, taskGuid string) error {
	return c.do(ctx, bbs.CancelTaskRoute, &models.TaskGuidRequest{TaskGuid: taskGuid}, &models.TaskLifecycleResponse{})
}

// FailTask completes a task as failed (deprecated; RejectTask for placement).
func (c *Client) FailTask(ctx context.Context, taskGuid, failureReason string) error {
	req := &models.FailTaskRequest{TaskGuid: taskGuid, FailureReason: failureReason}
	return c.do(ctx, bbs.FailTaskRoute, req, &models.TaskLifecycleResponse{})
}

// RejectTask puts a task back to PENDING, or fails it after max retries.
func (c *Client) RejectTask(ctx context.Context, taskGuid, rejectionReason string) error {
	req := &models.RejectTaskRequest{TaskGuid: taskGuid, RejectionReason: rejectionReason}
	return c.do(ctx, bbs.RejectTaskRoute, req, &models.TaskLifecycleResponse{})
}

// CompleteTask reports a task's outcome from the cell running it.
func (c *Client) CompleteTask(ctx context.Context, taskGuid, cellID string, failed bool, failureReason, result string) error {
	req := &models.CompleteTaskRequest{TaskGuid: taskGuid, CellId: cellID, Failed: failed, FailureReason: failureReason, Result: result}
	return c.do(ctx, bbs.CompleteTaskRoute, req, &models.TaskLifecycleResponse{})
}

// ResolvingTask marks a completed task as being resolved by its consumer.
func (c *Client) ResolvingTask(ctx context.Context, taskGuid string) error {
	return c.do(ctx, bbs.ResolvingTaskRoute, &models.TaskGuidRequest{TaskGuid: taskGuid}, &models.TaskLifecycleResponse{})
}

// DeleteTask deletes a resolving task.
func (c *Client) DeleteTask(ctx context.Context, taskGuid string) error {
	return c.do(ctx, bbs.DeleteTaskRoute, &models.TaskGuidRequest{TaskGuid: taskGuid}, &models.TaskLifecycleResponse{})
}

// ConvergeLRPs runs one LRP convergence pass in the BBS.
func (c *Client) ConvergeLRPs(ctx context.Context) error {
	return c.do(ctx, bbs.ConvergeLRPsRoute, nil, &models.ConvergeLRPsResponse{})
}

// ConvergeTasks runs one task convergence pass with the converger's durations.
func (c *Client) ConvergeTasks(ctx context.Context, kick, expirePending, expireCompleted time.Duration) error {
	req := &models.ConvergeTasksRequest{
		KickTaskDuration:            int64(kick),
		ExpirePendingTaskDuration:   int64(expirePending),
		ExpireCompletedTaskDuration: int64(expireCompleted),
	}
	return c.do(ctx, bbs.ConvergeTasksRoute, req, &models.ConvergeTasksResponse{})
}
