package auctioneer_test

import (
	"encoding/json"

	"diego/auctioneer"
	"diego/models"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Auction requests", func() {
	It("writes an LRP start request with Diego's keys", func() {
		d := &models.DesiredLRP{ProcessGuid: "pg", Domain: "d", RootFs: "preloaded:x", MemoryMb: 128, DiskMb: 256, MaxPids: 10,
			PlacementTags: []string{"gpu"}, VolumeMounts: []*models.VolumeMount{{Driver: "nfs"}}}
		r := auctioneer.NewLRPStartRequestFromModel(d, 0, 2)
		Expect(r.Validate()).To(Succeed())
		out, err := json.Marshal(r)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(MatchJSON(`{"process_guid":"pg","domain":"d","indices":[0,2],"MemoryMB":128,"DiskMB":256,"MaxPids":10,
			"PlacementTags":["gpu"],"VolumeDrivers":["nfs"],"RootFs":"preloaded:x"}`))
	})

	It("builds the same request from a scheduling info", func() {
		s := &models.DesiredLRPSchedulingInfo{
			DesiredLrpKey:      &models.DesiredLRPKey{ProcessGuid: "pg", Domain: "d"},
			DesiredLrpResource: &models.DesiredLRPResource{RootFs: "preloaded:x", MemoryMb: 128},
			VolumePlacement:    &models.VolumePlacement{DriverNames: []string{"nfs"}},
		}
		r := auctioneer.NewLRPStartRequestFromSchedulingInfo(s, 1)
		Expect(r.ProcessGuid).To(Equal("pg"))
		Expect(r.VolumeDrivers).To(Equal([]string{"nfs"}))
		Expect(r.MemoryMB).To(Equal(int32(128)))
	})

	It("writes a task start request with Diego's keys", func() {
		r := auctioneer.NewTaskStartRequestFromModel("tg", "d", &models.TaskDefinition{RootFs: "docker:///x", MemoryMb: 64})
		Expect(r.Validate()).To(Succeed())
		out, err := json.Marshal(r)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(MatchJSON(`{"TaskGuid":"tg","Domain":"d","PlacementTags":null,"VolumeDrivers":null,"RootFs":"docker:///x",
			"MemoryMB":64,"DiskMB":0,"MaxPids":0,"state":"Invalid","failed":false}`))
	})

	It("rejects incomplete requests, naming what is wrong", func() {
		lrp := auctioneer.LRPStartRequest{Indices: []int{-1}}
		lrp.MemoryMB = -1
		Expect(lrp.Validate()).To(MatchError("invalid fields: process_guid, domain, indices, resource, rootfs"))
		task := auctioneer.TaskStartRequest{}
		Expect(task.Validate()).To(MatchError("invalid fields: task_guid, rootfs"))
	})
})
