package models_test

import (
	"encoding/json"

	"diego/models"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"
)

// Golden JSON: the shape Diego's gogoproto models produce through
// encoding/json (spec core §1.0): explicit keys always present, others
// omitted when empty, embedded messages flattened, enums as names.

var _ = Describe("JSON", func() {
	It("writes a Task as Diego does", func() {
		task := &models.Task{
			TaskGuid: "t1", Domain: "d", CreatedAt: 1, UpdatedAt: 2, State: models.Task_Pending,
			TaskDefinition: &models.TaskDefinition{
				RootFs:               "preloaded:cflinuxfs4",
				EnvironmentVariables: []*models.EnvironmentVariable{{Name: "A", Value: "b"}},
				Action:               models.WrapAction(&models.RunAction{Path: "/bin/true", User: "vcap"}),
				MemoryMb:             64,
				Annotation:           "note",
			},
		}
		js, err := json.Marshal(task)
		Expect(err).NotTo(HaveOccurred())
		Expect(js).To(MatchJSON(`{
			"rootfs":"preloaded:cflinuxfs4",
			"env":[{"name":"A","value":"b"}],
			"action":{"run":{"path":"/bin/true","user":"vcap","suppress_log_output":false,"volume_mounted_files":null}},
			"disk_mb":0,"memory_mb":64,"cpu_weight":0,"privileged":false,
			"log_source":"","log_guid":"","metrics_guid":"","result_file":"",
			"annotation":"note",
			"max_pids":0,"image_username":"","image_password":"","volume_mounted_files":null,
			"task_guid":"t1","domain":"d","created_at":1,"updated_at":2,"first_completed_at":0,
			"state":"Pending","cell_id":"","result":"","failed":false,"failure_reason":"",
			"rejection_count":0,"rejection_reason":""
		}`))
	})

	It("writes an ActualLRP with its keys flattened", func() {
		lrp := &models.ActualLRP{
			ActualLrpKey:         &models.ActualLRPKey{ProcessGuid: "pg", Index: 1, Domain: "d"},
			ActualLrpInstanceKey: &models.ActualLRPInstanceKey{InstanceGuid: "ig", CellId: "c"},
			ActualLrpNetInfo: &models.ActualLRPNetInfo{
				Address: "1.2.3.4", Ports: []*models.PortMapping{{ContainerPort: 8080, HostPort: 61001}},
				PreferredAddress: models.ActualLRPNetInfo_HOST,
			},
			State: models.ActualLRPStateRunning, Since: 5,
			ModificationTag: &models.ModificationTag{Epoch: "e", Index: 2},
			Routable:        proto.Bool(true),
		}
		js, err := json.Marshal(lrp)
		Expect(err).NotTo(HaveOccurred())
		Expect(js).To(MatchJSON(`{
			"process_guid":"pg","index":1,"domain":"d",
			"instance_guid":"ig","cell_id":"c",
			"address":"1.2.3.4",
			"ports":[{"container_port":8080,"host_port":61001,"container_tls_proxy_port":0,"host_tls_proxy_port":0}],
			"preferred_address":"HOST",
			"crash_count":0,"state":"RUNNING","since":5,
			"modification_tag":{"epoch":"e","index":2},
			"presence":"ORDINARY","routable":true,"availability_zone":""
		}`))
	})

	It("writes a DesiredLRP with raw JSON routes", func() {
		d := &models.DesiredLRP{
			ProcessGuid: "pg", Domain: "d", RootFs: "docker:///busybox", Instances: 2,
			Action: models.WrapAction(&models.RunAction{Path: "/bin/sh", User: "vcap"}),
			Ports:  []uint32{8080},
			Routes: &models.ProtoRoutes{Routes: map[string][]byte{
				"cf-router": []byte(`[{"hostnames":["a.example.com"],"port":8080}]`),
			}},
			ModificationTag: &models.ModificationTag{Epoch: "e", Index: 0},
			PlacementTags:   []string{"gpu"},
		}
		js, err := json.Marshal(d)
		Expect(err).NotTo(HaveOccurred())
		Expect(js).To(MatchJSON(`{
			"process_guid":"pg","domain":"d","rootfs":"docker:///busybox","instances":2,"env":null,
			"action":{"run":{"path":"/bin/sh","user":"vcap","suppress_log_output":false,"volume_mounted_files":null}},
			"disk_mb":0,"memory_mb":0,"cpu_weight":0,"privileged":false,"ports":[8080],
			"routes":{"cf-router":[{"hostnames":["a.example.com"],"port":8080}]},
			"log_source":"","log_guid":"","metrics_guid":"","annotation":"",
			"modification_tag":{"epoch":"e","index":0},
			"start_timeout_ms":0,"placement_tags":["gpu"],"max_pids":0,"volume_mounted_files":null,
			"update_strategy":"ROLLING"
		}`))
	})

	It("reads what Diego's CLI writes, including omitted and null keys", func() {
		var d models.DesiredLRP
		Expect(json.Unmarshal([]byte(`{
			"process_guid":"pg","domain":"d","rootfs":"preloaded:cflinuxfs4","instances":1,
			"action":{"timeout":{"action":{"run":{"path":"x","user":"vcap"}},"timeout_ms":1000}},
			"routes":{"cf-router":[{"hostnames":["h"],"port":8080}],"tcp-router":null},
			"env":null,"ports":[8080,9090],"start_timeout_ms":5000
		}`), &d)).To(Succeed())
		Expect(d.ProcessGuid).To(Equal("pg"))
		Expect(d.Action.TimeoutAction.TimeoutMs).To(Equal(int64(1000)))
		Expect(d.Action.TimeoutAction.Action.RunAction.Path).To(Equal("x"))
		Expect(d.Ports).To(Equal([]uint32{8080, 9090}))
		Expect(d.Routes.Routes).To(HaveKey("cf-router"))
		Expect(d.Validate()).To(Succeed())
	})

	It("reads enums by name or number, and keys case-insensitively as encoding/json does", func() {
		var t models.Task
		Expect(json.Unmarshal([]byte(`{"state":"Running","TASK_GUID":"x"}`), &t)).To(Succeed())
		Expect(t.State).To(Equal(models.Task_Running))
		Expect(t.TaskGuid).To(Equal("x"))
		Expect(json.Unmarshal([]byte(`{"state":3}`), &t)).To(Succeed())
		Expect(t.State).To(Equal(models.Task_Completed))
	})

	It("marshals enums on their own as names", func() {
		js, err := json.Marshal(struct {
			S models.Task_State `json:"s"`
			E models.Error_Type `json:"e"`
		}{models.Task_Resolving, models.Error_ResourceNotFound})
		Expect(err).NotTo(HaveOccurred())
		Expect(js).To(MatchJSON(`{"s":"Resolving","e":"ResourceNotFound"}`))
	})

	DescribeTable("rejects malformed JSON with an error, never a panic",
		func(input string) {
			var t models.Task
			Expect(json.Unmarshal([]byte(input), &t)).NotTo(Succeed())
		},
		Entry("not an object", `[1,2]`),
		Entry("string for an int", `{"memory_mb":"64"}`),
		Entry("float for an int", `{"memory_mb":1.5}`),
		Entry("int32 overflow", `{"memory_mb":4294967296}`),
		Entry("negative for a uint", `{"cpu_weight":-1}`),
		Entry("unknown enum name", `{"state":"Sleeping"}`),
		Entry("object for a string", `{"task_guid":{}}`),
		Entry("bad nested action", `{"action":{"run":[]}}`),
		Entry("truncated", `{"task_guid":"x"`),
	)

	It("hides the keys of a nil task definition, as a nil embedded pointer does", func() {
		js, err := json.Marshal(&models.Task{TaskGuid: "t"})
		Expect(err).NotTo(HaveOccurred())
		Expect(js).NotTo(ContainSubstring("rootfs"))
		Expect(js).To(ContainSubstring(`"task_guid":"t"`))
	})

	It("writes an unset routable as null and always writes the non-nullable keys", func() {
		js, err := json.Marshal(&models.ActualLRP{State: "UNCLAIMED"})
		Expect(err).NotTo(HaveOccurred())
		Expect(js).To(ContainSubstring(`"routable":null`))
		Expect(js).To(ContainSubstring(`"process_guid":"","index":0,"domain":""`))
		Expect(js).To(ContainSubstring(`"modification_tag":{"epoch":"","index":0}`))
	})

	It("flattens a scheduling info and omits empty routes", func() {
		js, err := json.Marshal(&models.DesiredLRPSchedulingInfo{
			DesiredLrpKey:   &models.DesiredLRPKey{ProcessGuid: "pg"},
			ModificationTag: &models.ModificationTag{Epoch: "e", Index: 3},
			Routes:          &models.ProtoRoutes{},
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(js).To(MatchJSON(`{"process_guid":"pg","domain":"","log_guid":"","annotation":"","instances":0,
			"memory_mb":0,"disk_mb":0,"rootfs":"","max_pids":0,"epoch":"e","index":3}`))
	})

	It("refuses to write routes that are not JSON", func() {
		_, err := json.Marshal(&models.DesiredLRP{Routes: &models.ProtoRoutes{Routes: map[string][]byte{"r": []byte("{")}}})
		Expect(err).To(MatchError(ContainSubstring(`route "r" is not valid JSON`)))
	})
})
