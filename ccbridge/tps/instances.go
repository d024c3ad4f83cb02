package tps

import (
	"time"

	"diego/receptor"
)

// The CC's names for an instance's state (spec bridge §4.1).
const (
	StateStarting = "STARTING"
	StateRunning  = "RUNNING"
	StateCrashed  = "CRASHED"
	StateDown     = "DOWN"
	StateUnknown  = "UNKNOWN"
)

// appPort is the container port whose host port the stats route reports.
const appPort = 8080

// LRPInstance is one index of an app as the CC reads it.
type LRPInstance struct {
	ProcessGuid  string         `json:"process_guid"`
	InstanceGuid string         `json:"instance_guid"`
	Index        uint           `json:"index"`
	State        string         `json:"state"`
	Details      string         `json:"details,omitempty"`
	Host         string         `json:"host,omitempty"`
	Port         uint32         `json:"port,omitempty"`
	NetInfo      NetInfo        `json:"net_info"`
	Uptime       int64          `json:"uptime"`
	Since        int64          `json:"since"`
	Stats        *InstanceStats `json:"stats,omitempty"`
}

// NetInfo is where the instance is reachable. The receptor's 2015 form
// has no instance address, so instance_address and preferred_address are
// never set.
type NetInfo struct {
	Address          string        `json:"address"`
	Ports            []PortMapping `json:"ports"`
	InstanceAddress  string        `json:"instance_address,omitempty"`
	PreferredAddress string        `json:"preferred_address,omitempty"`
}

// PortMapping is one container port and its host port.
type PortMapping struct {
	ContainerPort uint32 `json:"container_port"`
	HostPort      uint32 `json:"host_port"`
}

// InstanceStats are an instance's usage; CPU is a fraction, not a percentage.
type InstanceStats struct {
	Time time.Time `json:"time"`
	CPU  float64   `json:"cpu"`
	Mem  uint64    `json:"mem"`
	Disk uint64    `json:"disk"`
}

// ContainerMetric is one instance's latest usage from doppler.
type ContainerMetric struct {
	CPUPercentage float64
	MemoryBytes   uint64
	DiskBytes     uint64
}

// State is the CC's name for an actual LRP's state.
func State(a receptor.ActualLRPResponse) string {
	switch a.State {
	case receptor.ActualLRPStateUnclaimed:
		if a.PlacementError != "" {
			return StateDown
		}
		return StateStarting
	case receptor.ActualLRPStateClaimed:
		return StateStarting
	case receptor.ActualLRPStateRunning:
		return StateRunning
	case receptor.ActualLRPStateCrashed:
		return StateCrashed
	}
	return StateUnknown
}

// Instance is the instances route's view of one (resolved) index.
func Instance(a receptor.ActualLRPResponse, now time.Time) LRPInstance {
	ports := make([]PortMapping, 0, len(a.Ports))
	for _, p := range a.Ports {
		ports = append(ports, PortMapping{ContainerPort: p.ContainerPort, HostPort: p.HostPort})
	}
	inst := LRPInstance{
		ProcessGuid:  a.ProcessGuid,
		InstanceGuid: a.InstanceGuid,
		Index:        uint(max(a.Index, 0)),
		State:        State(a),
		Details:      a.PlacementError,
		NetInfo:      NetInfo{Address: a.Address, Ports: ports},
		Since:        a.Since / int64(time.Second),
	}
	if inst.State != StateCrashed && a.Since > 0 {
		inst.Uptime = (now.UnixNano() - a.Since) / int64(time.Second)
	}
	return inst
}

// StatsInstance is the stats route's view of one index: the instance with
// its host, its app port's host port and its usage. metric is nil when
// doppler has none for the index.
func StatsInstance(a receptor.ActualLRPResponse, metric *ContainerMetric, now time.Time) LRPInstance {
	inst := Instance(a, now)
	inst.Host = a.Address
	for _, p := range a.Ports {
		if p.ContainerPort == appPort {
			inst.Port = p.HostPort
			break
		}
	}
	stats := &InstanceStats{Time: now.UTC()}
	if metric != nil && inst.State != StateCrashed {
		stats.CPU = metric.CPUPercentage / 100
		stats.Mem = metric.MemoryBytes
		stats.Disk = metric.DiskBytes
	}
	inst.Stats = stats
	return inst
}
