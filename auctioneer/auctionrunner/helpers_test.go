package auctionrunner_test

import (
	"strconv"

	"diego/auctioneer"
	"diego/rep"
)

const linux = "preloaded:linux"

func newCell(id, zone string, memoryMB, diskMB int32, containers int) rep.CellState {
	total := rep.Resources{MemoryMB: memoryMB, DiskMB: diskMB, Containers: containers}
	return rep.CellState{
		CellID:             id,
		Zone:               zone,
		RootFSProviders:    rep.RootFSProviders{"preloaded": rep.NewFixedSetProvider("linux"), "docker": rep.NewArbitraryProvider()},
		AvailableResources: total,
		TotalResources:     total,
	}
}

func lrpReq(guid string, memoryMB int32, indices ...int) auctioneer.LRPStartRequest {
	return auctioneer.LRPStartRequest{
		ProcessGuid:         guid,
		Domain:              "d",
		Indices:             indices,
		Resource:            rep.NewResource(memoryMB, 1, 10),
		PlacementConstraint: rep.NewPlacementConstraint(linux, nil, nil),
	}
}

func taskReq(guid string, memoryMB int32) auctioneer.TaskStartRequest {
	return auctioneer.TaskStartRequest{Task: rep.Task{
		TaskGuid:            guid,
		Domain:              "d",
		Resource:            rep.NewResource(memoryMB, 1, 10),
		PlacementConstraint: rep.NewPlacementConstraint(linux, nil, nil),
	}}
}

// placements maps "guid/index" or task guid to the cell that got it.
func placements(work map[string]rep.Work) map[string]string {
	out := map[string]string{}
	for cell, w := range work {
		for _, l := range w.LRPs {
			out[l.ProcessGuid+"/"+strconv.Itoa(int(l.Index))] = cell
		}
		for _, t := range w.Tasks {
			out[t.TaskGuid] = cell
		}
	}
	return out
}
