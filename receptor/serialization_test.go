package receptor_test

import (
	"encoding/json"
	"errors"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/models"
	"diego/receptor"
)

func marshal(v any) string {
	GinkgoHelper()
	b, err := json.Marshal(v)
	Expect(err).NotTo(HaveOccurred())
	return string(b)
}

var runAction = &models.Action{RunAction: &models.RunAction{Path: "/bin/sh", Args: []string{"-c", "echo hi"}, User: "vcap"}}

const runActionJSON = `{"run":{"path":"/bin/sh","args":["-c","echo hi"],"user":"vcap","suppress_log_output":false,"volume_mounted_files":null}}`

var _ = Describe("Tasks", func() {
	task := &models.Task{
		TaskGuid:  "task-1",
		Domain:    "d1",
		CreatedAt: 1234,
		UpdatedAt: 5678,
		State:     models.Task_Completed,
		CellId:    "cell-1",
		Result:    "ok",
		Failed:    true,
		TaskDefinition: &models.TaskDefinition{
			RootFs:                "preloaded:cflinuxfs2",
			EnvironmentVariables:  []*models.EnvironmentVariable{{Name: "A", Value: "b"}},
			Action:                runAction,
			DiskMb:                64,
			MemoryMb:              128,
			CpuWeight:             50,
			Privileged:            true,
			LogSource:             "TASK",
			LogGuid:               "log-1",
			MetricsGuid:           "metrics-1",
			ResultFile:            "/tmp/result",
			CompletionCallbackUrl: "http://cc/done",
			Annotation:            "note",
			EgressRules:           []*models.SecurityGroupRule{{Protocol: "tcp", Destinations: []string{"0.0.0.0/0"}, Ports: []uint32{80}}},
		},
		FailureReason: "boom",
	}

	It("writes a TaskResponse with the 2015 keys and an upper-case state", func() {
		Expect(marshal(receptor.TaskToResponse(task))).To(MatchJSON(`{
			"action": ` + runActionJSON + `,
			"annotation": "note",
			"completion_callback_url": "http://cc/done",
			"cpu_weight": 50,
			"disk_mb": 64,
			"domain": "d1",
			"log_guid": "log-1",
			"log_source": "TASK",
			"metrics_guid": "metrics-1",
			"memory_mb": 128,
			"result_file": "/tmp/result",
			"task_guid": "task-1",
			"rootfs": "preloaded:cflinuxfs2",
			"privileged": true,
			"env": [{"name":"A","value":"b"}],
			"egress_rules": [{"protocol":"tcp","destinations":["0.0.0.0/0"],"ports":[80],"log":false}],
			"cell_id": "cell-1",
			"created_at": 1234,
			"failed": true,
			"failure_reason": "boom",
			"result": "ok",
			"state": "COMPLETED"
		}`))
	})

	It("omits annotation, env and egress_rules when empty", func() {
		resp := receptor.TaskToResponse(&models.Task{TaskGuid: "t", State: models.Task_Pending})
		var m map[string]any
		Expect(json.Unmarshal([]byte(marshal(resp)), &m)).To(Succeed())
		Expect(m).NotTo(HaveKey("annotation"))
		Expect(m).NotTo(HaveKey("env"))
		Expect(m).NotTo(HaveKey("egress_rules"))
		Expect(m).To(HaveKeyWithValue("action", BeNil()))
		Expect(m).To(HaveKeyWithValue("state", "PENDING"))
	})

	It("names every state", func() {
		Expect(receptor.TaskStateName(models.Task_Invalid)).To(Equal("INVALID"))
		Expect(receptor.TaskStateName(models.Task_Pending)).To(Equal("PENDING"))
		Expect(receptor.TaskStateName(models.Task_Running)).To(Equal("RUNNING"))
		Expect(receptor.TaskStateName(models.Task_Completed)).To(Equal("COMPLETED"))
		Expect(receptor.TaskStateName(models.Task_Resolving)).To(Equal("RESOLVING"))
	})

	It("reads a TaskCreateRequest into a task", func() {
		var req receptor.TaskCreateRequest
		Expect(json.Unmarshal([]byte(`{
			"task_guid":"task-1","domain":"d1","rootfs":"preloaded:cflinuxfs2",
			"action":`+runActionJSON+`,"env":[{"name":"A","value":"b"}],
			"cpu_weight":50,"disk_mb":64,"memory_mb":128,"privileged":true,
			"log_guid":"log-1","log_source":"TASK","metrics_guid":"metrics-1",
			"result_file":"/tmp/result","completion_callback_url":"http://cc/done","annotation":"note",
			"egress_rules":[{"protocol":"tcp","destinations":["0.0.0.0/0"],"ports":[80]}]
		}`), &req)).To(Succeed())
		got := receptor.TaskFromRequest(req)
		want := proto(task)
		want.CreatedAt, want.UpdatedAt, want.State, want.CellId, want.Result, want.Failed, want.FailureReason = 0, 0, 0, "", "", false, ""
		Expect(got.Validate()).To(Succeed())
		Expect(marshal(got)).To(MatchJSON(marshal(want)))
	})
})

func proto[T interface {
	*models.Task | *models.DesiredLRP
}](m T) T {
	var out T
	b, _ := json.Marshal(m)
	_ = json.Unmarshal(b, &out)
	return out
}

var _ = Describe("Desired LRPs", func() {
	desired := &models.DesiredLRP{
		ProcessGuid:          "pg-1",
		Domain:               "d1",
		RootFs:               "docker:///busybox",
		Instances:            2,
		EnvironmentVariables: []*models.EnvironmentVariable{{Name: "A", Value: "b"}},
		Setup:                runAction,
		Action:               runAction,
		Monitor:              runAction,
		StartTimeoutMs:       60000,
		DiskMb:               64,
		MemoryMb:             128,
		CpuWeight:            10,
		Privileged:           true,
		Ports:                []uint32{8080, 2222},
		Routes: &models.ProtoRoutes{Routes: map[string][]byte{
			"cf-router": []byte(`[{"hostnames":["a.example.com"],"port":8080}]`),
		}},
		LogGuid:         "log-1",
		LogSource:       "APP",
		MetricsGuid:     "metrics-1",
		Annotation:      "note",
		ModificationTag: &models.ModificationTag{Epoch: "epoch-1", Index: 3},
	}

	It("writes a DesiredLRPResponse with start_timeout in seconds and the modification tag", func() {
		Expect(marshal(receptor.DesiredLRPToResponse(desired))).To(MatchJSON(`{
			"process_guid": "pg-1",
			"domain": "d1",
			"rootfs": "docker:///busybox",
			"instances": 2,
			"env": [{"name":"A","value":"b"}],
			"setup": ` + runActionJSON + `,
			"action": ` + runActionJSON + `,
			"monitor": ` + runActionJSON + `,
			"start_timeout": 60,
			"disk_mb": 64,
			"memory_mb": 128,
			"cpu_weight": 10,
			"privileged": true,
			"ports": [8080, 2222],
			"routes": {"cf-router": [{"hostnames":["a.example.com"],"port":8080}]},
			"log_guid": "log-1",
			"log_source": "APP",
			"metrics_guid": "metrics-1",
			"annotation": "note",
			"modification_tag": {"epoch": "epoch-1", "index": 3}
		}`))
	})

	It("falls back to the deprecated seconds field and writes empty ports as []", func() {
		resp := receptor.DesiredLRPToResponse(&models.DesiredLRP{DeprecatedStartTimeoutS: 7})
		Expect(resp.StartTimeout).To(BeEquivalentTo(7))
		Expect(marshal(resp)).To(ContainSubstring(`"ports":[]`))
		Expect(marshal(resp)).NotTo(ContainSubstring(`"routes"`))
		Expect(marshal(resp)).To(ContainSubstring(`"setup":null`))
		Expect(marshal(resp)).To(ContainSubstring(`"monitor":null`))
	})

	It("reads a DesiredLRPCreateRequest, start_timeout seconds into start_timeout_ms", func() {
		var req receptor.DesiredLRPCreateRequest
		Expect(json.Unmarshal([]byte(`{
			"process_guid":"pg-1","domain":"d1","rootfs":"docker:///busybox","instances":2,
			"env":[{"name":"A","value":"b"}],"setup":`+runActionJSON+`,"action":`+runActionJSON+`,"monitor":`+runActionJSON+`,
			"start_timeout":60,"disk_mb":64,"memory_mb":128,"cpu_weight":10,"privileged":true,
			"ports":[8080,2222],"routes":{"cf-router":[{"hostnames":["a.example.com"],"port":8080}]},
			"log_guid":"log-1","log_source":"APP","metrics_guid":"metrics-1","annotation":"note"
		}`), &req)).To(Succeed())
		got := receptor.DesiredLRPFromRequest(req)
		Expect(got.Validate()).To(Succeed())
		Expect(got.GetStartTimeoutMs()).To(BeEquivalentTo(60000))
		Expect(got.GetDeprecatedStartTimeoutS()).To(BeEquivalentTo(60))
		Expect(string(got.GetRoutes().GetRoutes()["cf-router"])).To(MatchJSON(`[{"hostnames":["a.example.com"],"port":8080}]`))
		want := proto(desired)
		want.DeprecatedStartTimeoutS, want.ModificationTag = 60, nil
		Expect(marshal(got)).To(MatchJSON(marshal(want)))
	})

	It("reads an update request with every key optional", func() {
		var req receptor.DesiredLRPUpdateRequest
		Expect(json.Unmarshal([]byte(`{}`), &req)).To(Succeed())
		u := receptor.DesiredLRPUpdateFromRequest(req)
		Expect(u.Instances).To(BeNil())
		Expect(u.Annotation).To(BeNil())
		Expect(u.Routes).To(BeNil())

		Expect(json.Unmarshal([]byte(`{"instances":0,"annotation":"","routes":{"r":{"a":1}}}`), &req)).To(Succeed())
		u = receptor.DesiredLRPUpdateFromRequest(req)
		Expect(u.GetInstances()).To(BeEquivalentTo(0))
		Expect(u.Instances).NotTo(BeNil())
		Expect(u.Annotation).NotTo(BeNil())
		Expect(string(u.GetRoutes().GetRoutes()["r"])).To(Equal(`{"a":1}`))
		Expect(marshal(req)).To(MatchJSON(`{"instances":0,"annotation":"","routes":{"r":{"a":1}}}`))
	})
})

var _ = Describe("Actual LRPs", func() {
	running := &models.ActualLRP{
		ActualLrpKey:         &models.ActualLRPKey{ProcessGuid: "pg-1", Index: 1, Domain: "d1"},
		ActualLrpInstanceKey: &models.ActualLRPInstanceKey{InstanceGuid: "ig-1", CellId: "cell-1"},
		ActualLrpNetInfo: &models.ActualLRPNetInfo{Address: "10.0.0.1", Ports: []*models.PortMapping{
			{ContainerPort: 8080, HostPort: 61000}, {ContainerPort: 2222},
		}},
		CrashCount:      2,
		CrashReason:     "oom",
		State:           models.ActualLRPStateRunning,
		Since:           999,
		ModificationTag: &models.ModificationTag{Epoch: "e", Index: 4},
		Presence:        models.ActualLRP_ORDINARY,
	}

	It("writes a flat ActualLRPResponse", func() {
		Expect(marshal(receptor.ActualLRPToResponse(running, false))).To(MatchJSON(`{
			"process_guid": "pg-1",
			"instance_guid": "ig-1",
			"cell_id": "cell-1",
			"domain": "d1",
			"index": 1,
			"address": "10.0.0.1",
			"ports": [{"container_port": 8080, "host_port": 61000}, {"container_port": 2222}],
			"state": "RUNNING",
			"crash_count": 2,
			"crash_reason": "oom",
			"since": 999,
			"evacuating": false,
			"modification_tag": {"epoch": "e", "index": 4}
		}`))
	})

	It("writes an unclaimed record with empty ports and a placement error", func() {
		unclaimed := &models.ActualLRP{
			ActualLrpKey:   &models.ActualLRPKey{ProcessGuid: "pg-1", Index: 0, Domain: "d1"},
			State:          models.ActualLRPStateUnclaimed,
			PlacementError: "insufficient resources",
			Since:          5,
		}
		Expect(marshal(receptor.ActualLRPToResponse(unclaimed, false))).To(MatchJSON(`{
			"process_guid": "pg-1", "instance_guid": "", "cell_id": "", "domain": "d1", "index": 0,
			"address": "", "ports": [], "state": "UNCLAIMED", "crash_count": 0,
			"placement_error": "insufficient resources", "since": 5, "evacuating": false,
			"modification_tag": {"epoch": "", "index": 0}
		}`))
	})

	Describe("resolving a group (spec core §2.3)", func() {
		evacuating := &models.ActualLRP{
			ActualLrpKey:         running.ActualLrpKey,
			ActualLrpInstanceKey: &models.ActualLRPInstanceKey{InstanceGuid: "ig-old", CellId: "cell-old"},
			State:                models.ActualLRPStateRunning,
			Presence:             models.ActualLRP_EVACUATING,
		}

		It("takes the evacuating record when the instance is unclaimed, claimed or missing", func() {
			for _, inst := range []*models.ActualLRP{
				nil,
				{ActualLrpKey: running.ActualLrpKey, State: models.ActualLRPStateUnclaimed},
				{ActualLrpKey: running.ActualLrpKey, State: models.ActualLRPStateClaimed},
			} {
				resp, ok := receptor.ActualLRPGroupToResponse(&models.ActualLRPGroup{Instance: inst, Evacuating: evacuating})
				Expect(ok).To(BeTrue())
				Expect(resp.Evacuating).To(BeTrue())
				Expect(resp.InstanceGuid).To(Equal("ig-old"))
				Expect(marshal(resp)).To(ContainSubstring(`"evacuating":true`))
			}
		})

		It("takes a running instance over the evacuating record", func() {
			resp, ok := receptor.ActualLRPGroupToResponse(&models.ActualLRPGroup{Instance: running, Evacuating: evacuating})
			Expect(ok).To(BeTrue())
			Expect(resp.Evacuating).To(BeFalse())
			Expect(resp.InstanceGuid).To(Equal("ig-1"))
		})

		It("reports an empty group", func() {
			_, ok := receptor.ActualLRPGroupToResponse(&models.ActualLRPGroup{})
			Expect(ok).To(BeFalse())
			_, ok = receptor.ActualLRPGroupToResponse(nil)
			Expect(ok).To(BeFalse())
		})
	})
})

var _ = Describe("Cells", func() {
	It("turns the provider list into the rootfs_providers map", func() {
		cell := &models.CellPresence{
			CellId: "cell-1", RepAddress: "http://10.0.0.1:1800", Zone: "z1",
			Capacity: &models.CellCapacity{MemoryMb: 1024, DiskMb: 2048, Containers: 10},
			RootfsProviders: []*models.Provider{
				{Name: "preloaded", Properties: []string{"cflinuxfs2"}},
				{Name: "docker"},
			},
		}
		Expect(marshal(receptor.CellToResponse(cell))).To(MatchJSON(`{
			"cell_id": "cell-1",
			"zone": "z1",
			"capacity": {"memory_mb": 1024, "disk_mb": 2048, "containers": 10},
			"rootfs_providers": {"docker": [], "preloaded": ["cflinuxfs2"]}
		}`))
	})
})

var _ = Describe("Errors and events", func() {
	It("writes errors as {name, message} and matches them by name", func() {
		err := receptor.NewError(receptor.TaskNotFound, "task with guid 'x' not found")
		Expect(marshal(err)).To(MatchJSON(`{"name":"TaskNotFound","message":"task with guid 'x' not found"}`))
		Expect(errors.Is(err, &receptor.Error{Type: receptor.TaskNotFound})).To(BeTrue())
		Expect(errors.Is(err, &receptor.Error{Type: receptor.InvalidTask})).To(BeFalse())
	})

	It("round-trips every event through its name and JSON data", func() {
		d := receptor.DesiredLRPResponse{DesiredLRPCreateRequest: receptor.DesiredLRPCreateRequest{ProcessGuid: "pg", Ports: []uint16{}}}
		a := receptor.ActualLRPResponse{ProcessGuid: "pg", InstanceGuid: "ig", Ports: []receptor.PortMapping{}}
		for _, e := range []receptor.Event{
			receptor.DesiredLRPCreatedEvent{DesiredLRPResponse: d},
			receptor.DesiredLRPChangedEvent{Before: d, After: d},
			receptor.DesiredLRPRemovedEvent{DesiredLRPResponse: d},
			receptor.ActualLRPCreatedEvent{ActualLRPResponse: a},
			receptor.ActualLRPChangedEvent{Before: a, After: a},
			receptor.ActualLRPRemovedEvent{ActualLRPResponse: a},
		} {
			decoded, err := receptor.DecodeEvent(e.EventType(), []byte(marshal(e)))
			Expect(err).NotTo(HaveOccurred())
			Expect(decoded.EventType()).To(Equal(e.EventType()))
			Expect(decoded.Key()).To(Equal(e.Key()))
			Expect(marshal(decoded)).To(MatchJSON(marshal(e)))
		}
		Expect(marshal(receptor.DesiredLRPChangedEvent{})).To(ContainSubstring(`"desired_lrp_before"`))
		Expect(marshal(receptor.ActualLRPCreatedEvent{})).To(HavePrefix(`{"actual_lrp":`))
		_, err := receptor.DecodeEvent("nope", []byte(`{}`))
		Expect(err).To(HaveOccurred())
	})
})
