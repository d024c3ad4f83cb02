package rep_test

import (
	"encoding/json"

	"diego/models"
	"diego/rep"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("CellState", func() {
	// The JSON of spec cell §4.2, key for key.
	const golden = `{
	  "rep_url": "http://10.0.0.1:1800", "cell_id": "cell-1", "cell_index": 0,
	  "RootFSProviders": {"preloaded": {"type":"fixed_set","set":{"cflinuxfs3":{}}},
	                      "docker": {"type":"arbitrary"}},
	  "AvailableResources": {"MemoryMB": 7000, "DiskMB": 20000, "Containers": 240},
	  "TotalResources":     {"MemoryMB": 8000, "DiskMB": 30000, "Containers": 250},
	  "LRPs": [{"instance_guid":"ig","process_guid":"pg","index":0,"domain":"cf-apps",
	            "PlacementTags":[],"VolumeDrivers":[],"RootFs":"preloaded:cflinuxfs3",
	            "MemoryMB":256,"DiskMB":1024,"MaxPids":1024,"state":"RUNNING"}],
	  "Tasks": [{"TaskGuid":"tg","Domain":"cf-tasks","PlacementTags":[],"VolumeDrivers":[],"RootFs":"docker:///x",
	             "MemoryMB":256,"DiskMB":1024,"MaxPids":0,"state":"Running","failed":false}],
	  "StartingContainerCount": 1, "Zone": "z1", "Evacuating": false,
	  "VolumeDrivers": [], "PlacementTags": [], "OptionalPlacementTags": [], "ProxyMemoryAllocationMB": 0
	}`

	It("reads and writes the spec's JSON field for field", func() {
		var state rep.CellState
		Expect(json.Unmarshal([]byte(golden), &state)).To(Succeed())
		Expect(state.CellID).To(Equal("cell-1"))
		Expect(state.LRPs[0].MemoryMB).To(Equal(int32(256)))
		Expect(state.Tasks[0].State).To(Equal(models.Task_Running))
		out, err := json.Marshal(state)
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(MatchJSON(golden))
	})

	It("matches rootfs URLs against its providers", func() {
		p := rep.RootFSProviders{"preloaded": rep.NewFixedSetProvider("cflinuxfs4"), "docker": rep.NewArbitraryProvider()}
		Expect(p.MatchRootFS("preloaded:cflinuxfs4")).To(BeTrue())
		Expect(p.MatchRootFS("preloaded:cflinuxfs2")).To(BeFalse())
		Expect(p.MatchRootFS("docker:///busybox")).To(BeTrue())
		Expect(p.MatchRootFS("oci:///x")).To(BeFalse())
		Expect(p.MatchRootFS("no-scheme")).To(BeFalse())
	})

	It("matches placement tags: required ⊆ wanted ⊆ required ∪ optional", func() {
		c := rep.CellState{PlacementTags: []string{"a"}, OptionalPlacementTags: []string{"b"}}
		Expect(c.MatchPlacementTags([]string{"a"})).To(BeTrue())
		Expect(c.MatchPlacementTags([]string{"a", "b"})).To(BeTrue())
		Expect(c.MatchPlacementTags([]string{"b"})).To(BeFalse(), "a required tag is missing")
		Expect(c.MatchPlacementTags([]string{"a", "c"})).To(BeFalse(), "c is not offered")
		Expect(rep.CellState{}.MatchPlacementTags(nil)).To(BeTrue())
	})

	It("matches volume drivers", func() {
		c := rep.CellState{VolumeDrivers: []string{"nfs"}}
		Expect(c.MatchVolumeDrivers([]string{"nfs"})).To(BeTrue())
		Expect(c.MatchVolumeDrivers([]string{"smb"})).To(BeFalse())
	})

	It("writes Work with Go field names and the cell id", func() {
		out, err := json.Marshal(rep.Work{Tasks: []rep.Task{{TaskGuid: "t"}}, CellID: "c"})
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(MatchJSON(`{"LRPs":null,"Tasks":[{"TaskGuid":"t","Domain":"","PlacementTags":null,"VolumeDrivers":null,
			"RootFs":"","MemoryMB":0,"DiskMB":0,"MaxPids":0,"state":"Invalid","failed":false}],"cell_id":"c"}`))
	})
})
