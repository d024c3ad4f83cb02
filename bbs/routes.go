// Package bbs holds the BBS API's route table, shared by the BBS server
// (bbs/handlers) and its client (bbs/client). Every route of spec core §3.2 is
// here, the deprecated ones and the older revisions (.r0, .r2) included, and
// the late-2015 paths diego also serves (§3.2, decision 21).
package bbs

import (
	"net/http"

	"diego/deploy/routes"
)

// Route names. A suffix _r0/_r2 names an older revision of the same call.
const (
	PingRoute = "Ping"

	DomainsRoute      = "Domains"
	UpsertDomainRoute = "UpsertDomain"

	CellsRoute = "Cells"

	ActualLRPsRoute                          = "ActualLRPs"
	ActualLRPsByProcessGuidsRoute            = "ActualLRPsByProcessGuids"
	ActualLRPGroupsRoute                     = "ActualLRPGroups"
	ActualLRPGroupsByProcessGuidRoute        = "ActualLRPGroupsByProcessGuid"
	ActualLRPGroupByProcessGuidAndIndexRoute = "ActualLRPGroupByProcessGuidAndIndex"

	ClaimActualLRPRoute     = "ClaimActualLRP"
	StartActualLRPRoute     = "StartActualLRP"
	StartActualLRPRoute_r0  = "StartActualLRP_r0"
	CrashActualLRPRoute     = "CrashActualLRP"
	FailActualLRPRoute      = "FailActualLRP"
	RemoveActualLRPRoute    = "RemoveActualLRP"
	RetireActualLRPRoute    = "RetireActualLRP"
	RemoveEvacuatingRoute   = "RemoveEvacuatingActualLRP"
	EvacuateClaimedRoute    = "EvacuateClaimedActualLRP"
	EvacuateCrashedRoute    = "EvacuateCrashedActualLRP"
	EvacuateStoppedRoute    = "EvacuateStoppedActualLRP"
	EvacuateRunningRoute    = "EvacuateRunningActualLRP"
	EvacuateRunningRoute_r0 = "EvacuateRunningActualLRP_r0"

	DesiredLRPSchedulingInfosRoute             = "DesiredLRPSchedulingInfos"
	DesiredLRPSchedulingInfoByProcessGuidRoute = "DesiredLRPSchedulingInfoByProcessGuid"
	DesiredLRPRoutingInfosRoute                = "DesiredLRPRoutingInfos"
	DesiredLRPsRoute                           = "DesiredLRPs"
	DesiredLRPsRoute_r2                        = "DesiredLRPs_r2"
	DesiredLRPByProcessGuidRoute               = "DesiredLRPByProcessGuid"
	DesiredLRPByProcessGuidRoute_r2            = "DesiredLRPByProcessGuid_r2"
	DesireDesiredLRPRoute                      = "DesireDesiredLRP"
	UpdateDesiredLRPRoute                      = "UpdateDesiredLRP"
	RemoveDesiredLRPRoute                      = "RemoveDesiredLRP"

	TasksRoute          = "Tasks"
	TasksRoute_r2       = "Tasks_r2"
	TaskByGuidRoute     = "TaskByGuid"
	TaskByGuidRoute_r2  = "TaskByGuid_r2"
	TaskByGuidRoute_GET = "TaskByGuid_GET"
	DesireTaskRoute     = "DesireTask"
	StartTaskRoute      = "StartTask"
	CancelTaskRoute     = "CancelTask"
	FailTaskRoute       = "FailTask"
	RejectTaskRoute     = "RejectTask"
	CompleteTaskRoute   = "CompleteTask"
	ResolvingTaskRoute  = "ResolvingTask"
	DeleteTaskRoute     = "DeleteTask"

	EventStreamRoute               = "EventStream"
	EventStreamRoute_r0            = "EventStream_r0"
	TaskEventStreamRoute           = "TaskEventStream"
	TaskEventStreamRoute_r0        = "TaskEventStream_r0"
	LRPInstanceEventStreamRoute    = "LRPInstanceEventStream"
	LRPInstanceEventStreamRoute_r0 = "LRPInstanceEventStream_r0"

	ConvergeLRPsRoute  = "ConvergeLRPs"
	ConvergeTasksRoute = "ConvergeTasks"
)

func post(name, path string) routes.Route {
	return routes.Route{Name: name, Method: http.MethodPost, Path: path}
}

// Routes is the BBS's one route table.
var Routes = routes.Table{
	post(PingRoute, "/v1/ping"),

	post(DomainsRoute, "/v1/domains/list"),
	post(UpsertDomainRoute, "/v1/domains/upsert"),

	post(CellsRoute, "/v1/cells/list.r1"),

	post(ActualLRPsRoute, "/v1/actual_lrps/list"),
	post(ActualLRPsByProcessGuidsRoute, "/v1/actual_lrps/list_by_process_guids"),
	post(ActualLRPGroupsRoute, "/v1/actual_lrp_groups/list"),
	post(ActualLRPGroupsByProcessGuidRoute, "/v1/actual_lrp_groups/list_by_process_guid"),
	post(ActualLRPGroupByProcessGuidAndIndexRoute, "/v1/actual_lrp_groups/get_by_process_guid_and_index"),

	post(ClaimActualLRPRoute, "/v1/actual_lrps/claim"),
	post(StartActualLRPRoute, "/v1/actual_lrps/start.r1"),
	post(StartActualLRPRoute_r0, "/v1/actual_lrps/start"),
	post(CrashActualLRPRoute, "/v1/actual_lrps/crash"),
	post(FailActualLRPRoute, "/v1/actual_lrps/fail"),
	post(RemoveActualLRPRoute, "/v1/actual_lrps/remove"),
	post(RetireActualLRPRoute, "/v1/actual_lrps/retire"),
	post(RemoveEvacuatingRoute, "/v1/actual_lrps/remove_evacuating"),
	post(EvacuateClaimedRoute, "/v1/actual_lrps/evacuate_claimed"),
	post(EvacuateCrashedRoute, "/v1/actual_lrps/evacuate_crashed"),
	post(EvacuateStoppedRoute, "/v1/actual_lrps/evacuate_stopped"),
	post(EvacuateRunningRoute, "/v1/actual_lrps/evacuate_running.r1"),
	post(EvacuateRunningRoute_r0, "/v1/actual_lrps/evacuate_running"),

	post(DesiredLRPSchedulingInfosRoute, "/v1/desired_lrp_scheduling_infos/list"),
	post(DesiredLRPSchedulingInfoByProcessGuidRoute, "/v1/desired_lrp_scheduling_infos/get_by_process_guid"),
	post(DesiredLRPRoutingInfosRoute, "/v1/desired_lrp_routing_infos/list"),
	post(DesiredLRPsRoute, "/v1/desired_lrps/list.r3"),
	post(DesiredLRPsRoute_r2, "/v1/desired_lrps/list.r2"),
	post(DesiredLRPByProcessGuidRoute, "/v1/desired_lrps/get_by_process_guid.r3"),
	post(DesiredLRPByProcessGuidRoute_r2, "/v1/desired_lrps/get_by_process_guid.r2"),
	post(DesireDesiredLRPRoute, "/v1/desired_lrp/desire.r2"),
	post(UpdateDesiredLRPRoute, "/v1/desired_lrp/update"),
	post(RemoveDesiredLRPRoute, "/v1/desired_lrp/remove"),

	post(TasksRoute, "/v1/tasks/list.r3"),
	post(TasksRoute_r2, "/v1/tasks/list.r2"),
	post(TaskByGuidRoute, "/v1/tasks/get_by_task_guid.r3"),
	post(TaskByGuidRoute_r2, "/v1/tasks/get_by_task_guid.r2"),
	{Name: TaskByGuidRoute_GET, Method: http.MethodGet, Path: "/v1/tasks/get_by_task_guid"},
	post(DesireTaskRoute, "/v1/tasks/desire.r2"),
	post(StartTaskRoute, "/v1/tasks/start"),
	post(CancelTaskRoute, "/v1/tasks/cancel"),
	post(FailTaskRoute, "/v1/tasks/fail"),
	post(RejectTaskRoute, "/v1/tasks/reject"),
	post(CompleteTaskRoute, "/v1/tasks/complete"),
	post(ResolvingTaskRoute, "/v1/tasks/resolving"),
	post(DeleteTaskRoute, "/v1/tasks/delete"),

	{Name: EventStreamRoute, Method: http.MethodGet, Path: "/v1/events.r1"},
	{Name: EventStreamRoute_r0, Method: http.MethodGet, Path: "/v1/events"},
	post(TaskEventStreamRoute, "/v1/events/tasks.r1"),
	post(TaskEventStreamRoute_r0, "/v1/events/tasks"),
	post(LRPInstanceEventStreamRoute, "/v1/events/lrp_instances.r1"),
	post(LRPInstanceEventStreamRoute_r0, "/v1/events/lrp_instances"),

	post(ConvergeLRPsRoute, "/v1/lrps/converge"),
	post(ConvergeTasksRoute, "/v1/tasks/converge"),
}
