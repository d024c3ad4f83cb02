package sync

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"diego/executor"
	"diego/models"
)

// PreloadedRootFSScheme is the rootfs scheme the rep maps to a local path.
const PreloadedRootFSScheme = "preloaded"

// ErrUnknownStack is a preloaded:<stack> rootfs this cell has no path for.
var ErrUnknownStack = errors.New("unknown preloaded rootfs stack")

// RootFSPath maps preloaded:<stack> to the stack's path in stacks (the
// rep's preloaded_root_fs); other rootfs values pass through (spec cell
// §4.5, §7.2).
func RootFSPath(rootFS string, stacks map[string]string) (string, error) {
	stack, ok := strings.CutPrefix(rootFS, PreloadedRootFSScheme+":")
	if !ok {
		return rootFS, nil
	}
	path, ok := stacks[stack]
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrUnknownStack, stack)
	}
	return path, nil
}

// NewLRPRunRequest builds the RunRequest for one instance of desired
// (spec cell §4.5): the container guid is the instance guid.
func NewLRPRunRequest(desired *models.DesiredLRP, key *models.ActualLRPKey, instanceKey *models.ActualLRPInstanceKey, stacks map[string]string) (executor.RunRequest, error) {
	rootFS, err := RootFSPath(desired.GetRootFs(), stacks)
	if err != nil {
		return executor.RunRequest{}, err
	}
	index := int(key.GetIndex())
	instanceGuid := instanceKey.GetInstanceGuid()
	indexText := strconv.Itoa(index)

	env := []executor.EnvironmentVariable{
		{Name: "INSTANCE_GUID", Value: instanceGuid},
		{Name: "INSTANCE_INDEX", Value: indexText},
		{Name: "CF_INSTANCE_GUID", Value: instanceGuid},
		{Name: "CF_INSTANCE_INDEX", Value: indexText},
	}
	env = append(env, environment(desired.GetEnvironmentVariables())...)

	var ports []executor.PortMapping
	for _, p := range desired.GetPorts() {
		ports = append(ports, executor.PortMapping{ContainerPort: uint16(p)})
	}

	startTimeoutMs := desired.GetStartTimeoutMs()
	if startTimeoutMs == 0 {
		// Clients of the 2015 API still send only the deprecated seconds.
		startTimeoutMs = int64(desired.GetDeprecatedStartTimeoutS()) * 1000
	}

	return executor.RunRequest{
		Guid: instanceGuid,
		RunInfo: executor.RunInfo{
			RootFSPath:         rootFS,
			CPUWeight:          cpuWeight(desired.GetCpuWeight()),
			Ports:              ports,
			LogConfig:          executor.LogConfig{Guid: desired.GetLogGuid(), Index: index, SourceName: desired.GetLogSource()},
			MetricsConfig:      executor.MetricsConfig{Guid: desired.GetMetricsGuid(), Index: index},
			StartTimeoutMs:     uint(max(startTimeoutMs, 0)),
			Privileged:         desired.GetPrivileged(),
			CachedDependencies: cachedDependencies(desired.GetCachedDependencies()),
			Setup:              desired.GetSetup(),
			Action:             desired.GetAction(),
			Monitor:            desired.GetMonitor(),
			CheckDefinition:    desired.GetCheckDefinition(),
			Env:                env,
			EgressRules:        desired.GetEgressRules(),
			Sidecars:           sidecars(desired.GetSidecars()),
		},
	}, nil
}

// NewTaskRunRequest builds the RunRequest for task (spec cell §4.5): the
// LRP mapping with index 0 and no ports or monitor, and the result-file tag.
func NewTaskRunRequest(task *models.Task, stacks map[string]string) (executor.RunRequest, error) {
	def := task.GetTaskDefinition()
	rootFS, err := RootFSPath(def.GetRootFs(), stacks)
	if err != nil {
		return executor.RunRequest{}, err
	}
	return executor.RunRequest{
		Guid: task.GetTaskGuid(),
		RunInfo: executor.RunInfo{
			RootFSPath:         rootFS,
			CPUWeight:          cpuWeight(def.GetCpuWeight()),
			LogConfig:          executor.LogConfig{Guid: def.GetLogGuid(), SourceName: def.GetLogSource()},
			MetricsConfig:      executor.MetricsConfig{Guid: def.GetMetricsGuid()},
			Privileged:         def.GetPrivileged(),
			CachedDependencies: cachedDependencies(def.GetCachedDependencies()),
			Action:             def.GetAction(),
			Env:                environment(def.GetEnvironmentVariables()),
			EgressRules:        def.GetEgressRules(),
		},
		Tags: executor.Tags{ResultFileTag: def.GetResultFile()},
	}, nil
}

// NetInfo is where a container answers, for StartActualLRP and
// EvacuateRunningActualLRP: the host address and port mappings, and the
// container's own address.
func NetInfo(c executor.Container) *models.ActualLRPNetInfo {
	ports := make([]*models.PortMapping, 0, len(c.Ports))
	for _, p := range c.Ports {
		ports = append(ports, &models.PortMapping{
			ContainerPort:         uint32(p.ContainerPort),
			HostPort:              uint32(p.HostPort),
			ContainerTlsProxyPort: uint32(p.ContainerTLSProxyPort),
			HostTlsProxyPort:      uint32(p.HostTLSProxyPort),
		})
	}
	return &models.ActualLRPNetInfo{
		Address:             c.ExternalIP,
		Ports:               ports,
		InstanceAddress:     c.InternalIP,
		InstanceIpv6Address: c.InternalIPv6,
		// Routes go to the host address, as modern Diego does unless a
		// container asks for its instance address (which ours cannot).
		PreferredAddress: models.ActualLRPNetInfo_HOST,
	}
}

// cpuWeight is at least 1: the executor's range is 1–100.
func cpuWeight(w uint32) uint {
	return uint(max(w, 1))
}

func environment(vars []*models.EnvironmentVariable) []executor.EnvironmentVariable {
	var out []executor.EnvironmentVariable
	for _, v := range vars {
		out = append(out, executor.EnvironmentVariable{Name: v.GetName(), Value: v.GetValue()})
	}
	return out
}

func sidecars(in []*models.Sidecar) []executor.Sidecar {
	var out []executor.Sidecar
	for _, s := range in {
		out = append(out, executor.Sidecar{Action: s.GetAction(), DiskMB: int(s.GetDiskMb()), MemoryMB: int(s.GetMemoryMb())})
	}
	return out
}

func cachedDependencies(deps []*models.CachedDependency) []executor.CachedDependency {
	var out []executor.CachedDependency
	for _, d := range deps {
		out = append(out, executor.CachedDependency{
			Name:              d.GetName(),
			From:              d.GetFrom(),
			To:                d.GetTo(),
			CacheKey:          d.GetCacheKey(),
			LogSource:         d.GetLogSource(),
			ChecksumAlgorithm: d.GetChecksumAlgorithm(),
			ChecksumValue:     d.GetChecksumValue(),
		})
	}
	return out
}
