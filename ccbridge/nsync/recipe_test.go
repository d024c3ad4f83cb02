package nsync_test

import (
	"encoding/json"
	"os"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/ccbridge/ccclient"
	"diego/ccbridge/nsync"
	"diego/receptor"
)

func readFile(path string) []byte {
	GinkgoHelper()
	data, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	return data
}

func desireRequest() ccclient.DesireAppRequestFromCC {
	GinkgoHelper()
	var req ccclient.DesireAppRequestFromCC
	Expect(json.Unmarshal(readFile("testdata/desire_app_request.json"), &req)).To(Succeed())
	return req
}

func toJSON(v any) string {
	GinkgoHelper()
	b, err := json.Marshal(v)
	Expect(err).NotTo(HaveOccurred())
	return string(b)
}

var builder = nsync.RecipeBuilder{
	Lifecycles:    nsync.Lifecycles{"buildpack/cflinuxfs3": "buildpack_app_lifecycle/buildpack_app_lifecycle.tgz"},
	FileServerURL: "http://file-server.example.com:8080",
}

var _ = Describe("The desired LRP built from a desire-app message (spec bridge §3.3)", func() {
	It("matches the golden JSON", func() {
		lrp, err := builder.BuildDesiredLRP(desireRequest())
		Expect(err).NotTo(HaveOccurred())
		Expect(toJSON(lrp)).To(MatchJSON(readFile("testdata/desired_lrp.golden.json")))
	})

	It("is a desired LRP the receptor accepts", func() {
		lrp, err := builder.BuildDesiredLRP(desireRequest())
		Expect(err).NotTo(HaveOccurred())
		Expect(receptor.DesiredLRPFromRequest(lrp).Validate()).To(Succeed())
	})

	DescribeTable("refuses what it cannot build, with the spec's message",
		func(change func(*ccclient.DesireAppRequestFromCC), want error) {
			req := desireRequest()
			change(&req)
			_, err := builder.BuildDesiredLRP(req)
			Expect(err).To(MatchError(want))
		},
		Entry("no droplet_uri", func(r *ccclient.DesireAppRequestFromCC) { r.DropletUri = "" }, nsync.ErrDropletSourceMissing),
		Entry("a droplet and a docker image", func(r *ccclient.DesireAppRequestFromCC) { r.DockerImageUrl = "docker:///busybox" }, nsync.ErrMultipleAppSources),
		Entry("a docker image (no docker recipe builder, §9.10)", func(r *ccclient.DesireAppRequestFromCC) {
			r.DropletUri, r.DockerImageUrl = "", "docker:///busybox"
		}, nsync.ErrDockerNotSupported),
		Entry("a stack without a lifecycle", func(r *ccclient.DesireAppRequestFromCC) { r.Stack = "windows2012R2" }, nsync.ErrNoLifecycleDefined),
	)
	It("says the spec's words for a missing droplet and a missing lifecycle", func() {
		Expect(nsync.ErrDropletSourceMissing.Error()).To(Equal("desired app missing droplet_uri"))
		Expect(nsync.ErrNoLifecycleDefined.Error()).To(Equal("no lifecycle binary bundle defined for stack"))
	})

	Describe("the monitor", func() {
		monitorOf := func(kind, endpoint string) string {
			req := desireRequest()
			req.HealthCheckType, req.HealthCheckHTTPEndpoint, req.Ports = kind, endpoint, nil
			lrp, err := builder.BuildDesiredLRP(req)
			Expect(err).NotTo(HaveOccurred())
			return toJSON(lrp.Monitor)
		}
		check := func(args string) string {
			return `{"timeout":{"timeout":600000000000,"timeout_ms":600000,"action":{"parallel":{"actions":[{"run":{
				"path":"/tmp/lifecycle/healthcheck","args":` + args + `,"resource_limits":{"nofile":1024},"user":"vcap",
				"log_source":"HEALTH","suppress_log_output":true,"volume_mounted_files":null}}]}}}}`
		}
		It("dials each port for an empty or port type", func() {
			Expect(monitorOf("", "")).To(MatchJSON(check(`["-port=8080"]`)))
			Expect(monitorOf("port", "")).To(MatchJSON(check(`["-port=8080"]`)))
		})
		It("GETs the endpoint for http", func() {
			Expect(monitorOf("http", "/health")).To(MatchJSON(check(`["-port=8080","-uri=/health"]`)))
		})
		It("has none for none, process and other types", func() {
			Expect(monitorOf("none", "")).To(Equal("null"))
			Expect(monitorOf("process", "")).To(Equal("null"))
			Expect(monitorOf("bogus", "")).To(Equal("null"))
		})
	})

	It("defaults the ports to 8080, nofile to 1024, the run's log source to APP, and cf-router/tcp-router to []", func() {
		req := desireRequest()
		req.Ports, req.FileDescriptors, req.LogSource, req.RoutingInfo = nil, 0, "", ccclient.CCRouteInfo{}
		lrp, err := builder.BuildDesiredLRP(req)
		Expect(err).NotTo(HaveOccurred())
		Expect(lrp.Ports).To(Equal([]uint16{8080}))
		run := lrp.Action.GetCodependentAction().GetActions()[0].GetRunAction()
		Expect(run.GetResourceLimits().GetNofile()).To(Equal(uint64(1024)))
		Expect(run.GetLogSource()).To(Equal("APP"))
		Expect(toJSON(lrp.Routes)).To(MatchJSON(`{"cf-router":[],"tcp-router":[]}`))
	})

	It("leaves the droplet checksum out when the CC sends no hash", func() {
		req := desireRequest()
		req.DropletHash = ""
		lrp, err := builder.BuildDesiredLRP(req)
		Expect(err).NotTo(HaveOccurred())
		dl := lrp.Setup.GetSerialAction().GetActions()[1].GetDownloadAction()
		Expect(dl.GetChecksumAlgorithm()).To(BeEmpty())
		Expect(dl.GetChecksumValue()).To(BeEmpty())
	})

	DescribeTable("the CPU weight", func(memory int, weight uint32) {
		Expect(nsync.CPUWeight(memory)).To(Equal(weight))
	},
		Entry("tiny apps count as 128 MB", 64, uint32(1)),
		Entry("128 MB", 128, uint32(1)),
		Entry("1 GB", 1024, uint32(12)),
		Entry("8 GB", 8192, uint32(100)),
		Entry("above 8 GB", 16384, uint32(100)),
	)
})

var _ = Describe("The update of an existing desired LRP (spec bridge §3.1)", func() {
	It("sets instances and annotation and replaces only the cf-router and tcp-router routes", func() {
		existing := receptor.RoutingInfo{
			"cf-router":  json.RawMessage(`[{"hostnames":["old.example.com"],"port":8080}]`),
			"tcp-router": json.RawMessage(`[]`),
			"diego-ssh":  json.RawMessage(`{"container_port":2222,"private_key":"k","host_fingerprint":"f"}`),
		}
		update, err := nsync.UpdateRequest(desireRequest(), existing)
		Expect(err).NotTo(HaveOccurred())
		Expect(toJSON(update)).To(MatchJSON(`{
			"instances": 3,
			"annotation": "1453232323.123456",
			"routes": {
				"cf-router": [
					{"hostnames":["a.example.com","b.example.com"],"port":8080},
					{"hostnames":["c.example.com"],"port":8080,"route_service_url":"https://rs.example.com"},
					{"hostnames":["d.example.com"],"port":9090}
				],
				"tcp-router": [{"router_group_guid":"rg-1","external_port":61000,"container_port":8080}],
				"diego-ssh": {"container_port":2222,"private_key":"k","host_fingerprint":"f"}
			}
		}`))
		Expect(string(existing["cf-router"])).To(ContainSubstring("old.example.com"), "the caller's map is not changed")
	})
})

var _ = Describe("The task built from a CC task request (spec bridge §3.5)", func() {
	request := func() ccclient.TaskRequestFromCC {
		return ccclient.TaskRequestFromCC{
			TaskGuid: "task-1", LogGuid: "app-1", MemoryMb: 512, DiskMb: 1024, Lifecycle: "buildpack",
			EnvironmentVars: nil, DropletUri: "http://cc/droplet", DropletHash: "abc", RootFs: "cflinuxfs3",
			CompletionCallbackUrl: "http://cc/internal/v3/tasks/task-1/completed", Command: "rake db:migrate", LogSource: "APP/TASK/migrate",
		}
	}
	It("matches the golden JSON", func() {
		task, err := builder.BuildTask(request())
		Expect(err).NotTo(HaveOccurred())
		Expect(toJSON(task)).To(MatchJSON(`{
			"task_guid": "task-1", "domain": "cf-tasks", "rootfs": "preloaded:cflinuxfs3",
			"completion_callback_url": "http://cc/internal/v3/tasks/task-1/completed",
			"cpu_weight": 6, "disk_mb": 1024, "memory_mb": 512, "privileged": false,
			"log_guid": "app-1", "log_source": "APP/TASK/migrate", "metrics_guid": "app-1", "result_file": "",
			"env": [{"name":"LANG","value":"en_US.UTF-8"}],
			"action": {"serial": {"actions": [
				{"download": {"from":"http://file-server.example.com:8080/v1/static/buildpack_app_lifecycle/buildpack_app_lifecycle.tgz",
					"to":"/tmp/lifecycle","cache_key":"buildpack-cflinuxfs3-lifecycle","user":"vcap"}},
				{"download": {"from":"http://cc/droplet","to":".","cache_key":"","user":"vcap","checksum_algorithm":"sha1","checksum_value":"abc"}},
				{"run": {"path":"/tmp/lifecycle/launcher","args":["app","rake db:migrate",""],"user":"vcap",
					"log_source":"APP/TASK/migrate","suppress_log_output":false,"volume_mounted_files":null}}
			]}}
		}`))
		Expect(receptor.TaskFromRequest(task).Validate()).To(Succeed())
	})
	It("refuses docker tasks, a missing droplet and an unknown stack", func() {
		r := request()
		r.Lifecycle = "docker"
		_, err := builder.BuildTask(r)
		Expect(err).To(MatchError(nsync.ErrDockerNotSupported))
		r = request()
		r.DropletUri = ""
		_, err = builder.BuildTask(r)
		Expect(err).To(MatchError(nsync.ErrDropletSourceMissing))
		r = request()
		r.RootFs = "nope"
		_, err = builder.BuildTask(r)
		Expect(err).To(MatchError(nsync.ErrNoLifecycleDefined))
	})
})
