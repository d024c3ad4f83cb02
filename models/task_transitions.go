package models

// TaskOperation is a lifecycle call that changes a task's state (spec core §2.1).
type TaskOperation int

const (
	TaskStart TaskOperation = iota
	TaskComplete
	TaskCancel
	TaskFail
	TaskReject
	TaskResolving
	TaskDelete
	// TaskDemote is convergence putting a RESOLVING task back to COMPLETED.
	TaskDemote
)

// taskRule says where an operation may start and which state it names in
// its error. DeleteTask's error names Resolving, as Diego's does.
type taskRule struct {
	name    string
	from    []Task_State
	to      Task_State
	errType Error_Type
}

var taskRules = map[TaskOperation]taskRule{
	TaskStart:     {"start", []Task_State{Task_Pending}, Task_Running, Error_InvalidStateTransition},
	TaskComplete:  {"complete", []Task_State{Task_Running}, Task_Completed, Error_InvalidStateTransition},
	TaskCancel:    {"cancel", []Task_State{Task_Pending, Task_Running}, Task_Completed, Error_InvalidStateTransition},
	TaskFail:      {"fail", []Task_State{Task_Pending, Task_Running}, Task_Completed, Error_InvalidStateTransition},
	TaskReject:    {"reject", []Task_State{Task_Pending, Task_Running}, Task_Pending, Error_InvalidRequest},
	TaskResolving: {"resolving", []Task_State{Task_Completed}, Task_Resolving, Error_InvalidStateTransition},
	TaskDelete:    {"delete", []Task_State{Task_Resolving}, Task_Resolving, Error_InvalidStateTransition},
	TaskDemote:    {"demote", []Task_State{Task_Resolving}, Task_Completed, Error_InvalidStateTransition},
}

func (op TaskOperation) String() string { return taskRules[op].name }

// ValidateTaskOperation reports whether op may be applied to a task in state
// from, with the spec's error when it may not.
func ValidateTaskOperation(op TaskOperation, from Task_State) error {
	rule, ok := taskRules[op]
	if !ok {
		return NewError(Error_InvalidRequest, "unknown task operation")
	}
	for _, s := range rule.from {
		if s == from {
			return nil
		}
	}
	if rule.errType == Error_InvalidRequest {
		return NewError(Error_InvalidRequest, "Cannot "+rule.name+" a task in state "+from.String())
	}
	return NewTaskTransitionError(from, rule.to)
}

// TaskCompletion fills in a completion (Complete, Cancel, Fail, or a
// convergence failure): state COMPLETED, no cell, the outcome, and the
// completion times. now is Unix nanoseconds.
func (t *Task) TaskCompletion(now int64, failed bool, failureReason, result string) {
	t.State = Task_Completed
	t.CellId = ""
	t.Failed = failed
	t.FailureReason = truncateReason(failureReason)
	t.Result = result
	t.UpdatedAt = now
	t.FirstCompletedAt = now
}

// Reject puts the task back to PENDING with one more rejection, or reports
// that it has used up its retries (the count before this call ≥ max), in which
// case the caller fails it with the reason instead.
func (t *Task) Reject(now int64, reason string, maxRetries int32) (exhausted bool) {
	if t.RejectionCount >= maxRetries {
		return true
	}
	t.State = Task_Pending
	t.CellId = ""
	t.RejectionCount++
	t.RejectionReason = truncateReason(reason)
	t.UpdatedAt = now
	return false
}

// Failure reasons written by the core (spec core §2.1, §5.6).
const (
	TaskCancelledReason        = "task was cancelled"
	TaskNotStartedInTimeReason = "not started within time limit"
	TaskCellDisappearedReason  = "cell disappeared before completion"
)
