// Package auctioncellrep is the cell's side of the auction (spec cell §4.2,
// §4.3): State reports the cell's capacity and containers as a
// rep.CellState, and Perform reserves containers in the executor for the
// work the auctioneer sends. Only reservation happens here; the BBS hears
// about it later, from the container_reserved events (§7.4 item 3).
package auctioncellrep

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"

	"github.com/google/uuid"

	"diego/deploy/logging"
	"diego/executor"
	"diego/models"
	"diego/rep"
	repsync "diego/rep/sync"
)

//go:generate go tool counterfeiter -generate

// ExecutorClient is what the auction needs of the executor
// (*executor/client.Client satisfies it).
//
//counterfeiter:generate . ExecutorClient
type ExecutorClient interface {
	Ping() error
	RemainingResources() (executor.ExecutorResources, error)
	TotalResources() (executor.ExecutorResources, error)
	ListContainers(filter executor.Tags) ([]executor.Container, error)
	AllocateContainers(requests []executor.AllocationRequest) ([]executor.AllocationFailure, error)
}

// Evacuation says whether the cell is evacuating (*rep/evacuator.Flag).
type Evacuation interface {
	Evacuating() bool
}

// ErrCellIDMismatch is Perform's error for work addressed to another cell.
var ErrCellIDMismatch = errors.New("work is for another cell")

// Config is the cell's description, from the rep's config.
type Config struct {
	CellID string
	// RepURL is the rep_url of /state (http://<ip>:1800).
	RepURL string
	Zone   string
	// StackPathMap maps a preloaded stack to its rootfs path.
	StackPathMap          map[string]string
	RootFSProviders       rep.RootFSProviders
	PlacementTags         []string
	OptionalPlacementTags []string
}

// Deps are the collaborators of an AuctionCellRep.
type Deps struct {
	Executor   ExecutorClient
	Evacuation Evacuation
	// NewGuid makes instance guids; nil means random UUIDs.
	NewGuid func() (string, error)
}

// AuctionCellRep answers the auctioneer for one cell.
type AuctionCellRep struct {
	cfg        Config
	executor   ExecutorClient
	evacuation Evacuation
	newGuid    func() (string, error)
	// rootfsByPath turns a container's rootfs path back into
	// preloaded:<stack>.
	rootfsByPath map[string]string
}

// New returns the AuctionCellRep of the cell cfg describes.
func New(cfg Config, deps Deps) *AuctionCellRep {
	newGuid := deps.NewGuid
	if newGuid == nil {
		newGuid = func() (string, error) {
			id, err := uuid.NewRandom()
			return id.String(), err
		}
	}
	byPath := make(map[string]string, len(cfg.StackPathMap))
	for stack, path := range cfg.StackPathMap {
		byPath[path] = repsync.PreloadedRootFSScheme + ":" + stack
	}
	return &AuctionCellRep{
		cfg:          cfg,
		executor:     deps.Executor,
		evacuation:   deps.Evacuation,
		newGuid:      newGuid,
		rootfsByPath: byPath,
	}
}

// State is the cell's state for the auctioneer, and whether the cell is
// healthy (its executor answers a ping). An error means the state could
// not be computed.
func (a *AuctionCellRep) State(logger *slog.Logger) (rep.CellState, bool, error) {
	logger = logging.Session(logger, "auction-state")

	remaining, err := a.executor.RemainingResources()
	if err != nil {
		logger.Error("failed-to-get-remaining-resources", "error", err)
		return rep.CellState{}, false, fmt.Errorf("remaining resources: %w", err)
	}
	total, err := a.executor.TotalResources()
	if err != nil {
		logger.Error("failed-to-get-total-resources", "error", err)
		return rep.CellState{}, false, fmt.Errorf("total resources: %w", err)
	}
	containers, err := a.executor.ListContainers(nil)
	if err != nil {
		logger.Error("failed-to-list-containers", "error", err)
		return rep.CellState{}, false, fmt.Errorf("listing containers: %w", err)
	}

	state := rep.CellState{
		RepURL:                a.cfg.RepURL,
		CellID:                a.cfg.CellID,
		RootFSProviders:       a.cfg.RootFSProviders,
		AvailableResources:    resources(remaining),
		TotalResources:        resources(total),
		LRPs:                  []rep.LRP{},
		Tasks:                 []rep.Task{},
		Zone:                  a.cfg.Zone,
		Evacuating:            a.evacuation.Evacuating(),
		VolumeDrivers:         []string{},
		PlacementTags:         nonNil(a.cfg.PlacementTags),
		OptionalPlacementTags: nonNil(a.cfg.OptionalPlacementTags),
	}
	if state.RootFSProviders == nil {
		state.RootFSProviders = rep.RootFSProviders{}
	}

	for i := range containers {
		c := &containers[i]
		if c.State.Starting() {
			state.StartingContainerCount++
		}
		switch c.Tags[repsync.LifecycleTag] {
		case repsync.LRPLifecycle:
			state.LRPs = append(state.LRPs, a.lrpOf(logger, c))
		case repsync.TaskLifecycle:
			state.Tasks = append(state.Tasks, a.taskOf(c))
		}
	}

	healthy := true
	if err := a.executor.Ping(); err != nil {
		logger.Error("executor-unhealthy", "error", err)
		healthy = false
	}
	return state, healthy, nil
}

func (a *AuctionCellRep) lrpOf(logger *slog.Logger, c *executor.Container) rep.LRP {
	index, err := strconv.Atoi(c.Tags[repsync.ProcessIndexTag])
	if err != nil {
		logger.Error("invalid-process-index-tag", "container_guid", c.Guid, "error", err)
	}
	instanceGuid := c.Tags[repsync.InstanceGuidTag]
	if instanceGuid == "" {
		instanceGuid = c.Guid
	}
	return rep.LRP{
		InstanceGUID:        instanceGuid,
		ProcessGuid:         c.Tags[repsync.ProcessGuidTag],
		Index:               int32(index),
		Domain:              c.Tags[repsync.DomainTag],
		PlacementConstraint: a.constraintOf(c),
		Resource:            resourceOf(c),
		State:               lrpState(c),
	}
}

func (a *AuctionCellRep) taskOf(c *executor.Container) rep.Task {
	state := models.Task_Running
	if c.State == executor.StateCompleted {
		state = models.Task_Completed
	}
	return rep.Task{
		TaskGuid:            c.Guid,
		Domain:              c.Tags[repsync.DomainTag],
		PlacementConstraint: a.constraintOf(c),
		Resource:            resourceOf(c),
		State:               state,
		Failed:              c.RunResult.Failed,
	}
}

// lrpStateShutdown is /state's word for an instance whose container ended
// without failing; it is not an ActualLRP state the BBS stores.
const lrpStateShutdown = "SHUTDOWN"

// lrpState maps a container's state to its ActualLRP state (spec cell
// §4.2): running is RUNNING, completed is CRASHED if it failed and
// SHUTDOWN otherwise, anything else CLAIMED.
func lrpState(c *executor.Container) string {
	switch c.State {
	case executor.StateRunning:
		return models.ActualLRPStateRunning
	case executor.StateCompleted:
		if c.RunResult.Failed {
			return models.ActualLRPStateCrashed
		}
		return lrpStateShutdown
	}
	return models.ActualLRPStateClaimed
}

func (a *AuctionCellRep) constraintOf(c *executor.Container) rep.PlacementConstraint {
	rootfs := c.RootFSPath
	if mapped, ok := a.rootfsByPath[rootfs]; ok {
		rootfs = mapped
	}
	return rep.PlacementConstraint{
		RootFs:        rootfs,
		PlacementTags: jsonList(c.Tags[repsync.PlacementTagsTag]),
		VolumeDrivers: jsonList(c.Tags[repsync.VolumeDriversTag]),
	}
}

func resourceOf(c *executor.Container) rep.Resource {
	return rep.NewResource(int32(c.MemoryMB), int32(c.DiskMB), int32(c.MaxPids))
}

func resources(r executor.ExecutorResources) rep.Resources {
	return rep.Resources{MemoryMB: int32(r.MemoryMB), DiskMB: int32(r.DiskMB), Containers: r.Containers}
}

// jsonList reads a JSON-array tag; a missing or bad tag is an empty list.
// The empty array, what nearly every container carries, skips the decoder:
// /state reads two such tags per container on every auction round.
func jsonList(tag string) []string {
	var out []string
	if tag != "" && tag != "[]" {
		_ = json.Unmarshal([]byte(tag), &out)
	}
	return nonNil(out)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Perform reserves containers for work and returns the part of it that
// failed (spec cell §4.3). An error (work for another cell, the executor's
// remaining resources unreadable) means nothing was reserved.
func (a *AuctionCellRep) Perform(logger *slog.Logger, work rep.Work) (rep.Work, error) {
	logger = logging.Session(logger, "auction-perform-work", "lrps", len(work.LRPs), "tasks", len(work.Tasks))

	if work.CellID != "" && work.CellID != a.cfg.CellID {
		logger.Error("cell-id-mismatch", "work_cell_id", work.CellID, "cell_id", a.cfg.CellID)
		return rep.Work{}, fmt.Errorf("%w: work for %q, this is %q", ErrCellIDMismatch, work.CellID, a.cfg.CellID)
	}
	if a.evacuation.Evacuating() {
		logger.Info("evacuating-rejecting-work")
		return failedWork(work.LRPs, work.Tasks), nil
	}

	var failed rep.Work
	if len(work.LRPs) > 0 {
		fitting, unfit, err := a.lrpsThatFit(work.LRPs)
		if err != nil {
			logger.Error("failed-to-get-remaining-resources", "error", err)
			return rep.Work{}, fmt.Errorf("remaining resources: %w", err)
		}
		if len(unfit) > 0 {
			logger.Info("lrps-do-not-fit", "count", len(unfit))
		}
		failed.LRPs = append(unfit, a.allocateLRPs(logger, fitting)...)
	}
	if len(work.Tasks) > 0 {
		failed.Tasks = a.allocateTasks(logger, work.Tasks)
	}
	logger.Info("done", "failed_lrps", len(failed.LRPs), "failed_tasks", len(failed.Tasks))
	return failedWork(failed.LRPs, failed.Tasks), nil
}

// failedWork is Perform's answer, {"LRPs":[…],"Tasks":[…]}, with empty
// lists rather than nulls.
func failedWork(lrps []rep.LRP, tasks []rep.Task) rep.Work {
	if lrps == nil {
		lrps = []rep.LRP{}
	}
	if tasks == nil {
		tasks = []rep.Task{}
	}
	return rep.Work{LRPs: lrps, Tasks: tasks}
}

// lrpsThatFit takes the LRPs largest first and accepts each that still
// fits in the executor's remaining memory.
func (a *AuctionCellRep) lrpsThatFit(lrps []rep.LRP) (fitting, unfit []rep.LRP, err error) {
	remaining, err := a.executor.RemainingResources()
	if err != nil {
		return nil, nil, err
	}
	sorted := slices.Clone(lrps)
	slices.SortStableFunc(sorted, func(x, y rep.LRP) int { return cmp.Compare(y.MemoryMB, x.MemoryMB) })
	memory := remaining.MemoryMB
	for _, lrp := range sorted {
		if int(lrp.MemoryMB) <= memory {
			memory -= int(lrp.MemoryMB)
			fitting = append(fitting, lrp)
		} else {
			unfit = append(unfit, lrp)
		}
	}
	return fitting, unfit, nil
}

// checkRootFS refuses a preloaded:<stack> this cell has no path for
// (repsync.ErrUnknownStack); other rootfs values are the executor's to
// judge (spec cell §4.3 item 4).
func (a *AuctionCellRep) checkRootFS(rootfs string) error {
	_, err := repsync.RootFSPath(rootfs, a.cfg.StackPathMap)
	return err
}

// allocateLRPs reserves one container per LRP under a new instance guid,
// in one batch, and returns the LRPs that failed.
func (a *AuctionCellRep) allocateLRPs(logger *slog.Logger, lrps []rep.LRP) []rep.LRP {
	var failed []rep.LRP
	requests := make([]executor.AllocationRequest, 0, len(lrps))
	byGuid := make(map[string]rep.LRP, len(lrps))
	for _, lrp := range lrps {
		if err := a.checkRootFS(lrp.RootFs); err != nil {
			logger.Error("unknown-rootfs", "process_guid", lrp.ProcessGuid, "index", lrp.Index, "rootfs", lrp.RootFs, "error", err)
			failed = append(failed, lrp)
			continue
		}
		instanceGuid, err := a.newGuid()
		if err != nil {
			logger.Error("failed-to-generate-instance-guid", "process_guid", lrp.ProcessGuid, "error", err)
			failed = append(failed, lrp)
			continue
		}
		byGuid[instanceGuid] = lrp
		requests = append(requests, executor.AllocationRequest{
			Guid:               instanceGuid,
			Resource:           allocationResource(lrp.Resource),
			Tags:               LRPTags(lrp, instanceGuid),
			GenerateLogMetrics: true,
		})
	}
	for _, guid := range a.allocate(logger, requests) {
		failed = append(failed, byGuid[guid])
	}
	return failed
}

// allocateTasks reserves one container per task (guid = task guid), in
// one batch, and returns the tasks that failed.
func (a *AuctionCellRep) allocateTasks(logger *slog.Logger, tasks []rep.Task) []rep.Task {
	var failed []rep.Task
	requests := make([]executor.AllocationRequest, 0, len(tasks))
	byGuid := make(map[string]rep.Task, len(tasks))
	for _, task := range tasks {
		if err := a.checkRootFS(task.RootFs); err != nil {
			logger.Error("unknown-rootfs", "task_guid", task.TaskGuid, "rootfs", task.RootFs, "error", err)
			failed = append(failed, task)
			continue
		}
		if _, dup := byGuid[task.TaskGuid]; dup || task.TaskGuid == "" {
			logger.Error("invalid-task-guid", "task_guid", task.TaskGuid)
			failed = append(failed, task)
			continue
		}
		byGuid[task.TaskGuid] = task
		requests = append(requests, executor.AllocationRequest{
			Guid:               task.TaskGuid,
			Resource:           allocationResource(task.Resource),
			Tags:               TaskTags(task),
			GenerateLogMetrics: true,
		})
	}
	for _, guid := range a.allocate(logger, requests) {
		failed = append(failed, byGuid[guid])
	}
	return failed
}

// allocate sends one AllocateContainers batch and returns the guids that
// were not reserved: the executor's failures, or the whole batch when the
// call itself fails.
func (a *AuctionCellRep) allocate(logger *slog.Logger, requests []executor.AllocationRequest) []string {
	if len(requests) == 0 {
		return nil
	}
	failures, err := a.executor.AllocateContainers(requests)
	if err != nil {
		logger.Error("failed-to-allocate-containers", "count", len(requests), "error", err)
		guids := make([]string, len(requests))
		for i, r := range requests {
			guids[i] = r.Guid
		}
		return guids
	}
	guids := make([]string, 0, len(failures))
	for _, f := range failures {
		logger.Error("container-allocation-failed", "container_guid", f.Guid, "error", f.ErrorMsg)
		guids = append(guids, f.Guid)
	}
	return guids
}

func allocationResource(r rep.Resource) executor.Resource {
	return executor.Resource{MemoryMB: int(r.MemoryMB), DiskMB: int(r.DiskMB), MaxPids: int(r.MaxPids)}
}

// LRPTags are the tags of an LRP instance's container (spec cell §4.4).
func LRPTags(lrp rep.LRP, instanceGuid string) executor.Tags {
	return executor.Tags{
		repsync.LifecycleTag:     repsync.LRPLifecycle,
		repsync.DomainTag:        lrp.Domain,
		repsync.ProcessGuidTag:   lrp.ProcessGuid,
		repsync.ProcessIndexTag:  strconv.Itoa(int(lrp.Index)),
		repsync.InstanceGuidTag:  instanceGuid,
		repsync.PlacementTagsTag: jsonTag(lrp.PlacementTags),
		repsync.VolumeDriversTag: jsonTag(lrp.VolumeDrivers),
	}
}

// TaskTags are the tags of a task's container at allocation (spec cell
// §4.4); result-file is added by the RunRequest.
func TaskTags(task rep.Task) executor.Tags {
	return executor.Tags{
		repsync.LifecycleTag:     repsync.TaskLifecycle,
		repsync.DomainTag:        task.Domain,
		repsync.PlacementTagsTag: jsonTag(task.PlacementTags),
		repsync.VolumeDriversTag: jsonTag(task.VolumeDrivers),
	}
}

// jsonTag writes a list tag as a JSON array, [] when empty.
func jsonTag(list []string) string {
	body, _ := json.Marshal(nonNil(list))
	return string(body)
}
