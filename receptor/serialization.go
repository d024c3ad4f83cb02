package receptor

import (
	"encoding/json"

	"google.golang.org/protobuf/proto"

	"diego/models"
)

// Conversions between the 2015 resources and the BBS models.

// actionFrom2015 copies an action tree from a 2015 client into the model's
// form: a timeout action's 2015 "timeout" (nanoseconds) becomes timeout_ms
// (decision 37). Everything else in the 2015 action JSON has the model's
// keys and units already.
func actionFrom2015(a *models.Action) *models.Action {
	if a == nil {
		return nil
	}
	a = proto.Clone(a).(*models.Action)
	a.SetTimeoutMsFromDeprecatedTimeoutNs()
	return a
}

// actionTo2015 copies a model's action tree into the 2015 form: every
// timeout action carries "timeout" in nanoseconds beside timeout_ms.
func actionTo2015(a *models.Action) *models.Action {
	if a == nil {
		return nil
	}
	a = proto.Clone(a).(*models.Action)
	a.SetDeprecatedTimeoutNs()
	return a
}

// TaskStateName is the receptor's upper-case name of a task state.
func TaskStateName(s models.Task_State) string {
	switch s {
	case models.Task_Pending:
		return TaskStatePending
	case models.Task_Running:
		return TaskStateRunning
	case models.Task_Completed:
		return TaskStateCompleted
	case models.Task_Resolving:
		return TaskStateResolving
	}
	return TaskStateInvalid
}

// TaskFromRequest builds the task a create request asks for.
func TaskFromRequest(req TaskCreateRequest) *models.Task {
	return &models.Task{
		TaskGuid: req.TaskGuid,
		Domain:   req.Domain,
		TaskDefinition: &models.TaskDefinition{
			RootFs:                req.RootFS,
			EnvironmentVariables:  req.EnvironmentVariables,
			Action:                actionFrom2015(req.Action),
			DiskMb:                req.DiskMB,
			MemoryMb:              req.MemoryMB,
			CpuWeight:             req.CPUWeight,
			Privileged:            req.Privileged,
			LogSource:             req.LogSource,
			LogGuid:               req.LogGuid,
			MetricsGuid:           req.MetricsGuid,
			ResultFile:            req.ResultFile,
			CompletionCallbackUrl: req.CompletionCallbackURL,
			Annotation:            req.Annotation,
			EgressRules:           req.EgressRules,
		},
	}
}

// TaskToResponse is the receptor's view of a task.
func TaskToResponse(t *models.Task) TaskResponse {
	d := t.GetTaskDefinition()
	return TaskResponse{
		Action:                actionTo2015(d.GetAction()),
		Annotation:            d.GetAnnotation(),
		CompletionCallbackURL: d.GetCompletionCallbackUrl(),
		CPUWeight:             d.GetCpuWeight(),
		DiskMB:                d.GetDiskMb(),
		Domain:                t.GetDomain(),
		LogGuid:               d.GetLogGuid(),
		LogSource:             d.GetLogSource(),
		MetricsGuid:           d.GetMetricsGuid(),
		MemoryMB:              d.GetMemoryMb(),
		ResultFile:            d.GetResultFile(),
		TaskGuid:              t.GetTaskGuid(),
		RootFS:                d.GetRootFs(),
		Privileged:            d.GetPrivileged(),
		EnvironmentVariables:  d.GetEnvironmentVariables(),
		EgressRules:           d.GetEgressRules(),
		CellID:                t.GetCellId(),
		CreatedAt:             t.GetCreatedAt(),
		Failed:                t.GetFailed(),
		FailureReason:         t.GetFailureReason(),
		Result:                t.GetResult(),
		State:                 TaskStateName(t.GetState()),
	}
}

func routesToModel(r RoutingInfo) *models.ProtoRoutes {
	if r == nil {
		return nil
	}
	out := &models.ProtoRoutes{Routes: make(map[string][]byte, len(r))}
	for k, v := range r {
		if v == nil {
			v = json.RawMessage("null")
		}
		out.Routes[k] = []byte(v)
	}
	return out
}

func routesFromModel(r *models.ProtoRoutes) RoutingInfo {
	if len(r.GetRoutes()) == 0 {
		return nil
	}
	out := make(RoutingInfo, len(r.GetRoutes()))
	for k, v := range r.GetRoutes() {
		out[k] = json.RawMessage(v)
	}
	return out
}

// DesiredLRPFromRequest builds the desired LRP a create request asks for;
// start_timeout (seconds) fills both start_timeout_ms and the deprecated
// seconds field.
func DesiredLRPFromRequest(req DesiredLRPCreateRequest) *models.DesiredLRP {
	var ports []uint32
	for _, p := range req.Ports {
		ports = append(ports, uint32(p))
	}
	return &models.DesiredLRP{
		ProcessGuid:             req.ProcessGuid,
		Domain:                  req.Domain,
		RootFs:                  req.RootFS,
		Instances:               req.Instances,
		EnvironmentVariables:    req.EnvironmentVariables,
		Setup:                   actionFrom2015(req.Setup),
		Action:                  actionFrom2015(req.Action),
		Monitor:                 actionFrom2015(req.Monitor),
		DeprecatedStartTimeoutS: req.StartTimeout,
		StartTimeoutMs:          int64(req.StartTimeout) * 1000,
		DiskMb:                  req.DiskMB,
		MemoryMb:                req.MemoryMB,
		CpuWeight:               req.CPUWeight,
		Privileged:              req.Privileged,
		Ports:                   ports,
		Routes:                  routesToModel(req.Routes),
		LogGuid:                 req.LogGuid,
		LogSource:               req.LogSource,
		MetricsGuid:             req.MetricsGuid,
		Annotation:              req.Annotation,
		EgressRules:             req.EgressRules,
	}
}

// DesiredLRPToResponse is the receptor's view of a desired LRP.
func DesiredLRPToResponse(d *models.DesiredLRP) DesiredLRPResponse {
	timeout := d.GetDeprecatedStartTimeoutS()
	if ms := d.GetStartTimeoutMs(); ms > 0 {
		timeout = uint32(ms / 1000)
	}
	ports := []uint16{}
	for _, p := range d.GetPorts() {
		ports = append(ports, uint16(p))
	}
	return DesiredLRPResponse{
		DesiredLRPCreateRequest: DesiredLRPCreateRequest{
			ProcessGuid:          d.GetProcessGuid(),
			Domain:               d.GetDomain(),
			RootFS:               d.GetRootFs(),
			Instances:            d.GetInstances(),
			EnvironmentVariables: d.GetEnvironmentVariables(),
			Setup:                actionTo2015(d.GetSetup()),
			Action:               actionTo2015(d.GetAction()),
			Monitor:              actionTo2015(d.GetMonitor()),
			StartTimeout:         timeout,
			DiskMB:               d.GetDiskMb(),
			MemoryMB:             d.GetMemoryMb(),
			CPUWeight:            d.GetCpuWeight(),
			Privileged:           d.GetPrivileged(),
			Ports:                ports,
			Routes:               routesFromModel(d.GetRoutes()),
			LogGuid:              d.GetLogGuid(),
			LogSource:            d.GetLogSource(),
			MetricsGuid:          d.GetMetricsGuid(),
			Annotation:           d.GetAnnotation(),
			EgressRules:          d.GetEgressRules(),
		},
		ModificationTag: modificationTag(d.GetModificationTag()),
	}
}

// DesiredLRPUpdateFromRequest is the BBS update an update request asks for.
func DesiredLRPUpdateFromRequest(req DesiredLRPUpdateRequest) *models.DesiredLRPUpdate {
	return &models.DesiredLRPUpdate{
		Instances:  req.Instances,
		Routes:     routesToModel(req.Routes),
		Annotation: req.Annotation,
	}
}

func modificationTag(t *models.ModificationTag) ModificationTag {
	return ModificationTag{Epoch: t.GetEpoch(), Index: t.GetIndex()}
}

// ActualLRPToResponse is the receptor's view of one actual LRP record;
// evacuating says whether it is the evacuating record of its index.
func ActualLRPToResponse(lrp *models.ActualLRP, evacuating bool) ActualLRPResponse {
	ports := []PortMapping{}
	for _, p := range lrp.GetActualLrpNetInfo().GetPorts() {
		ports = append(ports, PortMapping{ContainerPort: p.GetContainerPort(), HostPort: p.GetHostPort()})
	}
	return ActualLRPResponse{
		ProcessGuid:     lrp.GetActualLrpKey().GetProcessGuid(),
		InstanceGuid:    lrp.GetActualLrpInstanceKey().GetInstanceGuid(),
		CellID:          lrp.GetActualLrpInstanceKey().GetCellId(),
		Domain:          lrp.GetActualLrpKey().GetDomain(),
		Index:           lrp.GetActualLrpKey().GetIndex(),
		Address:         lrp.GetActualLrpNetInfo().GetAddress(),
		Ports:           ports,
		State:           lrp.GetState(),
		CrashCount:      lrp.GetCrashCount(),
		CrashReason:     lrp.GetCrashReason(),
		PlacementError:  lrp.GetPlacementError(),
		Since:           lrp.GetSince(),
		Evacuating:      evacuating,
		ModificationTag: modificationTag(lrp.GetModificationTag()),
	}
}

// ActualLRPGroupToResponse resolves an index's records as spec core §2.3
// says; ok is false for a group with no record.
func ActualLRPGroupToResponse(g *models.ActualLRPGroup) (resp ActualLRPResponse, ok bool) {
	lrp, evacuating := models.ResolveActualLRPGroup(g)
	if lrp == nil {
		return ActualLRPResponse{}, false
	}
	return ActualLRPToResponse(lrp, evacuating), true
}

// CellToResponse is the receptor's view of a cell presence: the provider
// list becomes the 2015 rootfs_providers map.
func CellToResponse(c *models.CellPresence) CellResponse {
	providers := map[string][]string{}
	for _, p := range c.GetRootfsProviders() {
		props := p.GetProperties()
		if props == nil {
			props = []string{}
		}
		providers[p.GetName()] = props
	}
	return CellResponse{
		CellID: c.GetCellId(),
		Zone:   c.GetZone(),
		Capacity: CellCapacity{
			MemoryMB:   c.GetCapacity().GetMemoryMb(),
			DiskMB:     c.GetCapacity().GetDiskMb(),
			Containers: c.GetCapacity().GetContainers(),
		},
		RootFSProviders: providers,
	}
}
