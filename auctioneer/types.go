package auctioneer

import (
	"fmt"
	"strings"

	"diego/models"
	"diego/rep"
)

// LRPStartRequest asks for some indices of one desired LRP to be placed.
// The resource and constraint fields are embedded untagged, so their JSON
// keys are Go names ("MemoryMB", "RootFs"), as in Diego.
type LRPStartRequest struct {
	ProcessGuid string `json:"process_guid"`
	Domain      string `json:"domain"`
	Indices     []int  `json:"indices"`
	rep.Resource
	rep.PlacementConstraint
}

// NewLRPStartRequestFromModel asks for the given indices of d.
func NewLRPStartRequestFromModel(d *models.DesiredLRP, indices ...int) LRPStartRequest {
	var drivers []string
	for _, m := range d.GetVolumeMounts() {
		drivers = append(drivers, m.GetDriver())
	}
	return LRPStartRequest{
		ProcessGuid:         d.GetProcessGuid(),
		Domain:              d.GetDomain(),
		Indices:             indices,
		Resource:            rep.NewResource(d.GetMemoryMb(), d.GetDiskMb(), d.GetMaxPids()),
		PlacementConstraint: rep.NewPlacementConstraint(d.GetRootFs(), d.GetPlacementTags(), drivers),
	}
}

// NewLRPStartRequestFromSchedulingInfo asks for the given indices of the LRP
// that s schedules (what convergence holds).
func NewLRPStartRequestFromSchedulingInfo(s *models.DesiredLRPSchedulingInfo, indices ...int) LRPStartRequest {
	res := s.GetDesiredLrpResource()
	return LRPStartRequest{
		ProcessGuid:         s.GetDesiredLrpKey().GetProcessGuid(),
		Domain:              s.GetDesiredLrpKey().GetDomain(),
		Indices:             indices,
		Resource:            rep.NewResource(res.GetMemoryMb(), res.GetDiskMb(), res.GetMaxPids()),
		PlacementConstraint: rep.NewPlacementConstraint(res.GetRootFs(), s.GetPlacementTags(), s.GetVolumePlacement().GetDriverNames()),
	}
}

// Validate: process guid, domain, at least one index, non-negative resources
// and a rootfs.
func (r *LRPStartRequest) Validate() error {
	var problems []string
	if r.ProcessGuid == "" {
		problems = append(problems, "process_guid")
	}
	if r.Domain == "" {
		problems = append(problems, "domain")
	}
	if len(r.Indices) == 0 {
		problems = append(problems, "indices")
	}
	for _, i := range r.Indices {
		if i < 0 {
			problems = append(problems, "indices")
			break
		}
	}
	return invalid(append(problems, resourceProblems(r.Resource, r.PlacementConstraint)...))
}

// TaskStartRequest asks for one task to be placed.
type TaskStartRequest struct {
	rep.Task
}

// NewTaskStartRequestFromModel describes a task for placement.
func NewTaskStartRequestFromModel(taskGuid, domain string, def *models.TaskDefinition) TaskStartRequest {
	return TaskStartRequest{Task: rep.NewTask(taskGuid, domain, def)}
}

// Validate: task guid, non-negative resources and a rootfs.
func (r *TaskStartRequest) Validate() error {
	var problems []string
	if r.TaskGuid == "" {
		problems = append(problems, "task_guid")
	}
	return invalid(append(problems, resourceProblems(r.Resource, r.PlacementConstraint)...))
}

func resourceProblems(res rep.Resource, pc rep.PlacementConstraint) []string {
	var problems []string
	if !res.Valid() {
		problems = append(problems, "resource")
	}
	if !pc.Valid() {
		problems = append(problems, "rootfs")
	}
	return problems
}

func invalid(problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("invalid fields: %s", strings.Join(problems, ", "))
}
