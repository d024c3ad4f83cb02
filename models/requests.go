package models

// Validation of BBS API requests. The BBS parses every request and calls
// Validate before doing anything; a failure is an InvalidRequest error naming
// every bad field (spec core §3.1).

// Validator is what every request message offers.
type Validator interface {
	Validate() error
}

// Messages that carry no constraints.
func (*ActualLRPGroupsRequest) Validate() error          { return nil }
func (*ActualLRPsRequest) Validate() error               { return nil }
func (*ActualLRPsByProcessGuidsRequest) Validate() error { return nil }
func (*DesiredLRPsRequest) Validate() error              { return nil }
func (*TasksRequest) Validate() error                    { return nil }
func (*EventsByCellId) Validate() error                  { return nil }

// requireKey validates a required embedded key: absent is "Invalid field:
// <name>", present is the key's own validation.
func requireKey(p *problems, name string, key Validator, absent bool) {
	if absent {
		p.field(true, name)
		return
	}
	p.merge(key.Validate())
}

func (r *ActualLRPGroupsByProcessGuidRequest) Validate() error {
	var p problems
	p.field(r.GetProcessGuid() == "", "process_guid")
	return p.err()
}

func (r *ActualLRPGroupByProcessGuidAndIndexRequest) Validate() error {
	var p problems
	p.field(r.GetProcessGuid() == "", "process_guid")
	p.field(r.GetIndex() < 0, "index")
	return p.err()
}

func (r *ClaimActualLRPRequest) Validate() error {
	var p problems
	p.field(r.GetProcessGuid() == "", "process_guid")
	p.field(r.GetIndex() < 0, "index")
	requireKey(&p, "actual_lrp_instance_key", r.GetActualLrpInstanceKey(), r.GetActualLrpInstanceKey() == nil)
	return p.err()
}

// lifecycleKeys validates the key, instance key and (when wanted) net info
// that most cell-facing calls carry.
func lifecycleKeys(p *problems, key *ActualLRPKey, instanceKey *ActualLRPInstanceKey) {
	requireKey(p, "actual_lrp_key", key, key == nil)
	requireKey(p, "actual_lrp_instance_key", instanceKey, instanceKey == nil)
}

func (r *StartActualLRPRequest) Validate() error {
	var p problems
	lifecycleKeys(&p, r.GetActualLrpKey(), r.GetActualLrpInstanceKey())
	requireKey(&p, "actual_lrp_net_info", r.GetActualLrpNetInfo(), r.GetActualLrpNetInfo() == nil)
	return p.err()
}

func (r *CrashActualLRPRequest) Validate() error {
	var p problems
	lifecycleKeys(&p, r.GetActualLrpKey(), r.GetActualLrpInstanceKey())
	return p.err()
}

func (r *FailActualLRPRequest) Validate() error {
	var p problems
	requireKey(&p, "actual_lrp_key", r.GetActualLrpKey(), r.GetActualLrpKey() == nil)
	p.field(r.GetErrorMessage() == "", "error_message")
	return p.err()
}

func (r *RetireActualLRPRequest) Validate() error {
	var p problems
	requireKey(&p, "actual_lrp_key", r.GetActualLrpKey(), r.GetActualLrpKey() == nil)
	return p.err()
}

// Validate: the instance key is optional; when given it must be whole.
func (r *RemoveActualLRPRequest) Validate() error {
	var p problems
	p.field(r.GetProcessGuid() == "", "process_guid")
	p.field(r.GetIndex() < 0, "index")
	if r.GetActualLrpInstanceKey() != nil {
		p.merge(r.GetActualLrpInstanceKey().Validate())
	}
	return p.err()
}

func (r *RemoveEvacuatingActualLRPRequest) Validate() error {
	var p problems
	lifecycleKeys(&p, r.GetActualLrpKey(), r.GetActualLrpInstanceKey())
	return p.err()
}

func (r *EvacuateClaimedActualLRPRequest) Validate() error {
	var p problems
	lifecycleKeys(&p, r.GetActualLrpKey(), r.GetActualLrpInstanceKey())
	return p.err()
}

func (r *EvacuateRunningActualLRPRequest) Validate() error {
	var p problems
	lifecycleKeys(&p, r.GetActualLrpKey(), r.GetActualLrpInstanceKey())
	requireKey(&p, "actual_lrp_net_info", r.GetActualLrpNetInfo(), r.GetActualLrpNetInfo() == nil)
	return p.err()
}

func (r *EvacuateStoppedActualLRPRequest) Validate() error {
	var p problems
	lifecycleKeys(&p, r.GetActualLrpKey(), r.GetActualLrpInstanceKey())
	return p.err()
}

func (r *EvacuateCrashedActualLRPRequest) Validate() error {
	var p problems
	lifecycleKeys(&p, r.GetActualLrpKey(), r.GetActualLrpInstanceKey())
	return p.err()
}

func (r *DesiredLRPByProcessGuidRequest) Validate() error {
	var p problems
	p.field(r.GetProcessGuid() == "", "process_guid")
	return p.err()
}

func (r *DesireLRPRequest) Validate() error {
	var p problems
	requireKey(&p, "desired_lrp", r.GetDesiredLrp(), r.GetDesiredLrp() == nil)
	return p.err()
}

func (r *UpdateDesiredLRPRequest) Validate() error {
	var p problems
	p.field(r.GetProcessGuid() == "", "process_guid")
	requireKey(&p, "update", r.GetUpdate(), r.GetUpdate() == nil)
	return p.err()
}

func (r *RemoveDesiredLRPRequest) Validate() error {
	var p problems
	p.field(r.GetProcessGuid() == "", "process_guid")
	return p.err()
}

func (r *DesireTaskRequest) Validate() error {
	var p problems
	p.field(!validGUID(r.GetTaskGuid()), "task_guid")
	p.field(r.GetDomain() == "", "domain")
	requireKey(&p, "task_definition", r.GetTaskDefinition(), r.GetTaskDefinition() == nil)
	return p.err()
}

func (r *StartTaskRequest) Validate() error {
	var p problems
	p.field(!validGUID(r.GetTaskGuid()), "task_guid")
	p.field(r.GetCellId() == "", "cell_id")
	return p.err()
}

func (r *CompleteTaskRequest) Validate() error {
	var p problems
	p.field(!validGUID(r.GetTaskGuid()), "task_guid")
	p.field(r.GetCellId() == "", "cell_id")
	return p.err()
}

func (r *FailTaskRequest) Validate() error {
	var p problems
	p.field(!validGUID(r.GetTaskGuid()), "task_guid")
	p.field(r.GetFailureReason() == "", "failure_reason")
	return p.err()
}

// Validate names an empty rejection reason "failure_reason", as Diego does.
func (r *RejectTaskRequest) Validate() error {
	var p problems
	p.field(!validGUID(r.GetTaskGuid()), "task_guid")
	p.field(r.GetRejectionReason() == "", "failure_reason")
	return p.err()
}

func (r *TaskGuidRequest) Validate() error {
	var p problems
	p.field(r.GetTaskGuid() == "", "task_guid")
	return p.err()
}

func (r *TaskByGuidRequest) Validate() error {
	var p problems
	p.field(r.GetTaskGuid() == "", "task_guid")
	return p.err()
}

func (r *UpsertDomainRequest) Validate() error {
	var p problems
	p.field(r.GetDomain() == "", "domain")
	return p.err()
}

func (r *ConvergeTasksRequest) Validate() error {
	var p problems
	p.field(r.GetKickTaskDuration() <= 0, "kick_task_duration")
	p.field(r.GetExpirePendingTaskDuration() <= 0, "expire_pending_task_duration")
	p.field(r.GetExpireCompletedTaskDuration() <= 0, "expire_completed_task_duration")
	return p.err()
}
