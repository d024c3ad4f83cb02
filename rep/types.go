package rep

import (
	"net/url"
	"slices"
	"strings"

	"diego/models"
)

// Most of these structs have no JSON tags on purpose: Diego's CellState and
// Work JSON use Go field names ("MemoryMB", "RootFs"), and Diego's CLI and
// auctioneer read exactly that (spec cell §4.2). Model types are never
// embedded here: their MarshalJSON would be promoted and replace the whole
// struct's JSON.

// Resource is what one LRP instance or task needs.
type Resource struct {
	MemoryMB int32
	DiskMB   int32
	MaxPids  int32
}

// NewResource builds a Resource.
func NewResource(memoryMB, diskMB, maxPids int32) Resource {
	return Resource{MemoryMB: memoryMB, DiskMB: diskMB, MaxPids: maxPids}
}

// Valid reports whether no amount is negative.
func (r Resource) Valid() bool { return r.MemoryMB >= 0 && r.DiskMB >= 0 && r.MaxPids >= 0 }

// PlacementConstraint is what a cell must offer to take the work.
type PlacementConstraint struct {
	PlacementTags []string
	VolumeDrivers []string
	RootFs        string
}

// NewPlacementConstraint builds a PlacementConstraint.
func NewPlacementConstraint(rootFs string, placementTags, volumeDrivers []string) PlacementConstraint {
	return PlacementConstraint{RootFs: rootFs, PlacementTags: placementTags, VolumeDrivers: volumeDrivers}
}

// Valid requires a rootfs.
func (p PlacementConstraint) Valid() bool { return p.RootFs != "" }

// Resources are a cell's total or available capacity.
type Resources struct {
	MemoryMB   int32
	DiskMB     int32
	Containers int
}

// LRP is one LRP instance on a cell, or one asked of it.
type LRP struct {
	InstanceGUID string `json:"instance_guid"`
	ProcessGuid  string `json:"process_guid"`
	Index        int32  `json:"index"`
	Domain       string `json:"domain"`
	PlacementConstraint
	Resource
	State string `json:"state"`
}

// Task is one task on a cell, or one asked of it.
type Task struct {
	TaskGuid string
	Domain   string
	PlacementConstraint
	Resource
	State  models.Task_State `json:"state"`
	Failed bool              `json:"failed"`
}

// NewTask describes a task for placement.
func NewTask(taskGuid, domain string, def *models.TaskDefinition) Task {
	return Task{
		TaskGuid:            taskGuid,
		Domain:              domain,
		PlacementConstraint: NewPlacementConstraint(def.GetRootFs(), def.GetPlacementTags(), volumeDrivers(def.GetVolumeMounts())),
		Resource:            NewResource(def.GetMemoryMb(), def.GetDiskMb(), def.GetMaxPids()),
	}
}

func volumeDrivers(mounts []*models.VolumeMount) []string {
	var drivers []string
	for _, m := range mounts {
		drivers = append(drivers, m.GetDriver())
	}
	return drivers
}

// Work is what the auctioneer asks a cell to run; the rep answers with the
// part of it that failed.
type Work struct {
	LRPs   []LRP
	Tasks  []Task
	CellID string `json:"cell_id,omitempty"`
}

// CellState is a cell's answer to GET /state (spec cell §4.2).
type CellState struct {
	RepURL                  string `json:"rep_url"`
	CellID                  string `json:"cell_id"`
	CellIndex               int    `json:"cell_index"`
	RootFSProviders         RootFSProviders
	AvailableResources      Resources
	TotalResources          Resources
	LRPs                    []LRP
	Tasks                   []Task
	StartingContainerCount  int
	Zone                    string
	Evacuating              bool
	VolumeDrivers           []string
	PlacementTags           []string
	OptionalPlacementTags   []string
	ProxyMemoryAllocationMB int
}

// RootFS provider kinds: a fixed set of stacks, or anything.
const (
	RootFSProviderFixedSet  = "fixed_set"
	RootFSProviderArbitrary = "arbitrary"
)

// RootFSProvider is one URL scheme a cell accepts: {"type":"arbitrary"} or
// {"type":"fixed_set","set":{"cflinuxfs4":{}}}.
type RootFSProvider struct {
	Type string              `json:"type"`
	Set  map[string]struct{} `json:"set,omitempty"`
}

// RootFSProviders maps a URL scheme (preloaded, docker, …) to its provider.
type RootFSProviders map[string]RootFSProvider

// NewFixedSetProvider accepts exactly the given stacks.
func NewFixedSetProvider(stacks ...string) RootFSProvider {
	set := make(map[string]struct{}, len(stacks))
	for _, s := range stacks {
		set[s] = struct{}{}
	}
	return RootFSProvider{Type: RootFSProviderFixedSet, Set: set}
}

// NewArbitraryProvider accepts any rootfs of its scheme.
func NewArbitraryProvider() RootFSProvider { return RootFSProvider{Type: RootFSProviderArbitrary} }

// MatchRootFS reports whether a cell with these providers can run rootfs:
// the URL's scheme names a provider, and a fixed set also holds the URL's
// opaque part (preloaded:cflinuxfs4 → cflinuxfs4).
func (p RootFSProviders) MatchRootFS(rootfs string) bool {
	u, err := url.Parse(rootfs)
	if err != nil || u.Scheme == "" {
		return false
	}
	provider, ok := p[u.Scheme]
	if !ok {
		return false
	}
	switch provider.Type {
	case RootFSProviderArbitrary:
		return true
	case RootFSProviderFixedSet:
		stack := u.Opaque
		if stack == "" {
			stack = strings.TrimPrefix(u.Host+u.Path, "/")
		}
		_, ok := provider.Set[stack]
		return ok
	}
	return false
}

// MatchPlacementTags: the cell's required tags ⊆ the wanted tags ⊆ the
// cell's required ∪ optional tags (spec core §5.3).
func (c CellState) MatchPlacementTags(wanted []string) bool {
	for _, t := range c.PlacementTags {
		if !slices.Contains(wanted, t) {
			return false
		}
	}
	for _, t := range wanted {
		if !slices.Contains(c.PlacementTags, t) && !slices.Contains(c.OptionalPlacementTags, t) {
			return false
		}
	}
	return true
}

// MatchVolumeDrivers reports whether the cell has every wanted driver.
func (c CellState) MatchVolumeDrivers(wanted []string) bool {
	for _, d := range wanted {
		if !slices.Contains(c.VolumeDrivers, d) {
			return false
		}
	}
	return true
}
