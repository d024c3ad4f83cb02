package handlers_test

import (
	"io"
	"net/http"
	"net/http/httptest"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/logging"
	"diego/executor"
	"diego/rep"
	"diego/rep/auctioncellrep"
	"diego/rep/auctioncellrep/auctioncellrepfakes"
	"diego/rep/evacuator"
	"diego/rep/handlers"
	"diego/rep/handlers/handlersfakes"
)

// The /state body of spec cell §4.2, key for key, with the fixture's
// values; computed by the real AuctionCellRep from executor containers.
const goldenState = `{
  "rep_url": "http://10.0.0.5:1800", "cell_id": "cell-1", "cell_index": 0,
  "RootFSProviders": {"preloaded": {"type":"fixed_set","set":{"cflinuxfs3":{}}},
                      "preloaded+layer": {"type":"fixed_set","set":{"cflinuxfs3":{}}},
                      "docker": {"type":"arbitrary"}},
  "AvailableResources": {"MemoryMB": 7000, "DiskMB": 20000, "Containers": 240},
  "TotalResources":     {"MemoryMB": 8000, "DiskMB": 30000, "Containers": 250},
  "LRPs": [{"instance_guid":"ig-1","process_guid":"pg","index":0,"domain":"cf-apps",
            "PlacementTags":[],"VolumeDrivers":[],"RootFs":"preloaded:cflinuxfs3",
            "MemoryMB":256,"DiskMB":1024,"MaxPids":1024,"state":"RUNNING"}],
  "Tasks": [{"TaskGuid":"tg","Domain":"cf-tasks","PlacementTags":[],"VolumeDrivers":[],"RootFs":"docker:///busybox",
             "MemoryMB":256,"DiskMB":1024,"MaxPids":0,"state":"Running","failed":false}],
  "StartingContainerCount": 1, "Zone": "z1", "Evacuating": false,
  "VolumeDrivers": [], "PlacementTags": [], "OptionalPlacementTags": [], "ProxyMemoryAllocationMB": 0
}`

var _ = Describe("GET /state (golden)", func() {
	It("matches spec cell §4.2 field for field", func() {
		fakeExecutor := new(auctioncellrepfakes.FakeExecutorClient)
		fakeExecutor.RemainingResourcesReturns(executor.ExecutorResources{MemoryMB: 7000, DiskMB: 20000, Containers: 240}, nil)
		fakeExecutor.TotalResourcesReturns(executor.ExecutorResources{MemoryMB: 8000, DiskMB: 30000, Containers: 250}, nil)
		lrp := executor.Container{
			Guid:     "ig-1",
			Resource: executor.Resource{MemoryMB: 256, DiskMB: 1024, MaxPids: 1024},
			State:    executor.StateRunning,
			Tags: executor.Tags{"lifecycle": "lrp", "domain": "cf-apps", "process-guid": "pg", "process-index": "0",
				"instance-guid": "ig-1", "placement-tags": "[]", "volume-drivers": "[]"},
		}
		lrp.RootFSPath = "/var/lib/rootfs/cflinuxfs3"
		task := executor.Container{
			Guid:     "tg",
			Resource: executor.Resource{MemoryMB: 256, DiskMB: 1024},
			State:    executor.StateReserved,
			Tags:     executor.Tags{"lifecycle": "task", "domain": "cf-tasks", "placement-tags": "[]", "volume-drivers": "[]"},
		}
		task.RootFSPath = "docker:///busybox"
		fakeExecutor.ListContainersReturns([]executor.Container{lrp, task}, nil)

		cellRep := auctioncellrep.New(auctioncellrep.Config{
			CellID:       "cell-1",
			RepURL:       "http://10.0.0.5:1800",
			Zone:         "z1",
			StackPathMap: map[string]string{"cflinuxfs3": "/var/lib/rootfs/cflinuxfs3"},
			RootFSProviders: rep.RootFSProviders{
				"preloaded":       rep.NewFixedSetProvider("cflinuxfs3"),
				"preloaded+layer": rep.NewFixedSetProvider("cflinuxfs3"),
				"docker":          rep.NewArbitraryProvider(),
			},
		}, auctioncellrep.Deps{Executor: fakeExecutor, Evacuation: evacuator.NewFlag()})

		handler, err := handlers.New(handlers.Deps{
			Logger: logging.Discard(), CellRep: cellRep,
			Executor: new(handlersfakes.FakeExecutorClient), Evacuation: evacuator.NewFlag(),
		})
		Expect(err).NotTo(HaveOccurred())
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/state", nil))
		Expect(rec.Code).To(Equal(http.StatusOK))
		Expect(rec.Header().Get("Content-Type")).To(Equal("application/json"))
		body, err := io.ReadAll(rec.Body)
		Expect(err).NotTo(HaveOccurred())
		Expect(body).To(MatchJSON(goldenState))
	})
})
