package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"diego/ccbridge/ccclient"
	"diego/ccbridge/nsync/config"
	"diego/models"
	"diego/receptor"
)

const appGuid = "8d58c09b-b305-4f16-bcfe-b78edcb77100"

func desireApp(version, etag string, instances int, hostnames ...string) ccclient.DesireAppRequestFromCC {
	var routes []ccclient.CCHTTPRoute
	for _, h := range hostnames {
		routes = append(routes, ccclient.CCHTTPRoute{Hostname: h})
	}
	return ccclient.DesireAppRequestFromCC{
		ProcessGuid:  appGuid + "-" + version,
		DropletUri:   "http://cc.example.com/staging/droplets/" + appGuid + "/download",
		DropletHash:  "d4b5b8e2f1c2a3b4c5d6e7f8091a2b3c4d5e6f70",
		Stack:        "cflinuxfs3",
		StartCommand: "./run",
		Environment:  []*models.EnvironmentVariable{{Name: "VCAP_APPLICATION", Value: `{"application_name":"app"}`}},
		MemoryMB:     256, DiskMB: 512, FileDescriptors: 1024, NumInstances: instances,
		RoutingInfo: ccclient.CCRouteInfo{HTTPRoutes: routes},
		LogGuid:     appGuid, LogSource: "APP", HealthCheckType: "port", HealthCheckTimeoutInSeconds: 60,
		ETag: etag,
	}
}

func call(method, url string, body any) int {
	GinkgoHelper()
	var reader *bytes.Reader
	switch b := body.(type) {
	case nil:
		reader = bytes.NewReader(nil)
	case string:
		reader = bytes.NewReader([]byte(b))
	default:
		payload, err := json.Marshal(b)
		Expect(err).NotTo(HaveOccurred())
		reader = bytes.NewReader(payload)
	}
	req, err := http.NewRequest(method, url, reader)
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	resp.Body.Close()
	return resp.StatusCode
}

var _ = Describe("nsync", func() {
	var (
		c     *cluster
		cfg   config.Config
		nsync *gexec.Session
		base  string
	)

	BeforeEach(func() {
		c = startCluster()
	})

	Describe("the listener (spec bridge §3.1)", func() {
		BeforeEach(func() {
			// The bulker's first pass finds an empty CC and nothing to delete;
			// the next comes long after these specs.
			cfg = c.nsyncConfig(time.Hour)
			nsync = run("nsync", cfg)
			base = "http://" + cfg.ListenAddr
			Eventually(nsync.Out).Should(gbytes.Say(`"msg":"complete"`))
		})

		It("desires a new app as the recipe says, and updates it in place on a second PUT", func() {
			app := desireApp("v1", "1000.5", 2, "a.example.com")
			Expect(call("PUT", base+"/v1/apps/"+app.ProcessGuid, app)).To(Equal(http.StatusAccepted))
			lrp, err := c.Receptor.GetDesiredLRP(ctx, app.ProcessGuid)
			Expect(err).NotTo(HaveOccurred())
			Expect(lrp.Domain).To(Equal("cf-apps"))
			Expect(lrp.Instances).To(Equal(int32(2)))
			Expect(lrp.Annotation).To(Equal("1000.5"))
			Expect(lrp.RootFS).To(Equal("preloaded:cflinuxfs3"))
			Expect(lrp.StartTimeout).To(Equal(uint32(60)))
			Expect(string(lrp.Routes["cf-router"])).To(MatchJSON(`[{"hostnames":["a.example.com"],"port":8080}]`))
			Expect(lrp.Setup.GetSerialAction().GetActions()[0].GetDownloadAction().GetFrom()).To(Equal(
				"http://file-server.example.com:8080/v1/static/buildpack_app_lifecycle/buildpack_app_lifecycle.tgz"))
			Expect(lrp.Monitor.GetTimeoutAction().GetTimeoutMs()).To(Equal(int64(600000)))

			// Another router's key survives the CC's update.
			Expect(c.Receptor.UpdateDesiredLRP(ctx, app.ProcessGuid, receptor.DesiredLRPUpdateRequest{Routes: receptor.RoutingInfo{
				"cf-router": lrp.Routes["cf-router"], "tcp-router": lrp.Routes["tcp-router"], "diego-ssh": json.RawMessage(`{"container_port":2222}`),
			}})).To(Succeed())

			app = desireApp("v1", "1001.5", 3, "b.example.com", "c.example.com")
			Expect(call("PUT", base+"/v1/apps/"+app.ProcessGuid, app)).To(Equal(http.StatusAccepted))
			lrp, err = c.Receptor.GetDesiredLRP(ctx, app.ProcessGuid)
			Expect(err).NotTo(HaveOccurred())
			Expect(lrp.Instances).To(Equal(int32(3)))
			Expect(lrp.Annotation).To(Equal("1001.5"))
			Expect(string(lrp.Routes["cf-router"])).To(MatchJSON(`[{"hostnames":["b.example.com","c.example.com"],"port":8080}]`))
			Expect(string(lrp.Routes["diego-ssh"])).To(MatchJSON(`{"container_port":2222}`))
		})

		DescribeTable("answers 400 to a request it cannot build from",
			func(path string, body func() any) {
				Expect(call("PUT", base+"/v1/apps/"+path, body())).To(Equal(http.StatusBadRequest))
				_, err := c.Receptor.GetDesiredLRP(ctx, path)
				Expect(err).To(MatchError(&receptor.Error{Type: receptor.DesiredLRPNotFound}))
			},
			Entry("bad JSON", appGuid+"-v1", func() any { return `{"process_guid":` }),
			Entry("a body that is not an object", appGuid+"-v1", func() any { return `[1,2]` }),
			Entry("a body guid that is not the path's", appGuid+"-v2", func() any { return desireApp("v1", "1", 1) }),
			Entry("a missing process guid", appGuid+"-v1", func() any {
				a := desireApp("v1", "1", 1)
				a.ProcessGuid = ""
				return a
			}),
			Entry("a missing droplet_uri", appGuid+"-v1", func() any {
				a := desireApp("v1", "1", 1)
				a.DropletUri = ""
				return a
			}),
			Entry("a docker image", appGuid+"-v1", func() any {
				a := desireApp("v1", "1", 1)
				a.DropletUri, a.DockerImageUrl = "", "docker:///busybox"
				return a
			}),
			Entry("a stack without a lifecycle", appGuid+"-v1", func() any {
				a := desireApp("v1", "1", 1)
				a.Stack = "windows2012R2"
				return a
			}),
			Entry("a recipe the receptor refuses (negative instances)", appGuid+"-v1", func() any {
				return desireApp("v1", "1", -1)
			}),
		)

		It("stops an app: 202, then 404 for a guid it does not know", func() {
			app := desireApp("v1", "1", 1)
			Expect(call("PUT", base+"/v1/apps/"+app.ProcessGuid, app)).To(Equal(http.StatusAccepted))
			Expect(call("DELETE", base+"/v1/apps/"+app.ProcessGuid, nil)).To(Equal(http.StatusAccepted))
			_, err := c.Receptor.GetDesiredLRP(ctx, app.ProcessGuid)
			Expect(err).To(MatchError(&receptor.Error{Type: receptor.DesiredLRPNotFound}))
			Expect(call("DELETE", base+"/v1/apps/"+app.ProcessGuid, nil)).To(Equal(http.StatusNotFound))
		})

		It("kills an index: 400 for a bad index, 202 for an instance, 404 for an unknown one", func() {
			app := desireApp("v1", "1", 1)
			Expect(call("PUT", base+"/v1/apps/"+app.ProcessGuid, app)).To(Equal(http.StatusAccepted))
			Eventually(func() ([]receptor.ActualLRPResponse, error) {
				return c.Receptor.ActualLRPsByProcessGuid(ctx, app.ProcessGuid)
			}).Should(HaveLen(1))
			Expect(call("DELETE", base+"/v1/apps/"+app.ProcessGuid+"/index/x", nil)).To(Equal(http.StatusBadRequest))
			Expect(call("DELETE", base+"/v1/apps/"+app.ProcessGuid+"/index/-1", nil)).To(Equal(http.StatusBadRequest))
			Expect(call("DELETE", base+"/v1/apps/"+app.ProcessGuid+"/index/0", nil)).To(Equal(http.StatusAccepted))
			Expect(call("DELETE", base+"/v1/apps/"+app.ProcessGuid+"/index/5", nil)).To(Equal(http.StatusNotFound))
			Expect(call("DELETE", base+"/v1/apps/unknown-guid/index/0", nil)).To(Equal(http.StatusNotFound))
		})

		It("desires and cancels CC tasks (spec bridge §3.5)", func() {
			task := ccclient.TaskRequestFromCC{
				TaskGuid: "task-1", LogGuid: appGuid, MemoryMb: 64, DiskMb: 64, Lifecycle: "buildpack",
				DropletUri: "http://cc.example.com/droplet", RootFs: "cflinuxfs3",
				CompletionCallbackUrl: "http://cc.example.com/internal/v3/tasks/task-1/completed", Command: "echo hi",
			}
			Expect(call("POST", base+"/v1/tasks", task)).To(Equal(http.StatusAccepted))
			got, err := c.Receptor.GetTask(ctx, "task-1")
			Expect(err).NotTo(HaveOccurred())
			Expect(got.Domain).To(Equal("cf-tasks"))
			Expect(got.CompletionCallbackURL).To(Equal(task.CompletionCallbackUrl))
			Expect(call("POST", base+"/v1/tasks", task)).To(Equal(http.StatusConflict))
			Expect(call("POST", base+"/v1/tasks", `{"task_guid":`)).To(Equal(http.StatusBadRequest))
			noDroplet := task
			noDroplet.TaskGuid, noDroplet.DropletUri = "task-2", ""
			Expect(call("POST", base+"/v1/tasks", noDroplet)).To(Equal(http.StatusBadRequest))
			Expect(call("POST", base+"/v1/tasks", ccclient.TaskRequestFromCC{DropletUri: "http://x", RootFs: "cflinuxfs3"})).To(Equal(http.StatusBadRequest))

			Expect(call("DELETE", base+"/v1/tasks/task-1", nil)).To(Equal(http.StatusAccepted))
			Expect(call("DELETE", base+"/v1/tasks/unknown-task", nil)).To(Equal(http.StatusNotFound))
		})

		It("answers 404 for unknown routes and 405 for a wrong method", func() {
			Expect(call("GET", base+"/v1/nothing", nil)).To(Equal(http.StatusNotFound))
			Expect(call("GET", base+"/v1/apps/x", nil)).To(Equal(http.StatusMethodNotAllowed))
		})
	})

	Describe("with the receptor unreachable", func() {
		It("answers 503 to every call that needs it", func() {
			cfg = c.nsyncConfig(time.Hour)
			cfg.ReceptorURL = "http://" + portWithNothing()
			cfg.CommunicationTimeout = 2e9
			nsync = run("nsync", cfg)
			base = "http://" + cfg.ListenAddr
			app := desireApp("v1", "1", 1)
			Expect(call("PUT", base+"/v1/apps/"+app.ProcessGuid, app)).To(Equal(http.StatusServiceUnavailable))
			Expect(call("DELETE", base+"/v1/apps/"+app.ProcessGuid, nil)).To(Equal(http.StatusServiceUnavailable))
			Expect(call("DELETE", base+"/v1/apps/"+app.ProcessGuid+"/index/0", nil)).To(Equal(http.StatusServiceUnavailable))
			Expect(call("DELETE", base+"/v1/tasks/t", nil)).To(Equal(http.StatusServiceUnavailable))
		})
	})

	Describe("the bulker (spec bridge §3.4)", func() {
		BeforeEach(func() {
			cfg = c.nsyncConfig(time.Second)
		})

		desired := func() []string {
			lrps, err := c.Receptor.DesiredLRPsByDomain(ctx, "cf-apps")
			Expect(err).NotTo(HaveOccurred())
			var guids []string
			for _, l := range lrps {
				guids = append(guids, fmt.Sprintf("%s@%s", l.ProcessGuid, l.Annotation))
			}
			return guids
		}

		It("holds its lock, creates what the CC lists over several pages, updates stale etags, deletes what it no longer lists, restores what was deleted behind its back, and keeps cf-apps fresh", func() {
			a, b, d := desireApp("va", "1", 1), desireApp("vb", "1", 1), desireApp("vd", "1", 1)
			for _, app := range []ccclient.DesireAppRequestFromCC{a, b, d} {
				c.CC.SetApp(app)
			}
			nsync = run("nsync", cfg)
			Eventually(desired, 10*time.Second).Should(ConsistOf(a.ProcessGuid+"@1", b.ProcessGuid+"@1", d.ProcessGuid+"@1"))
			Eventually(func() ([]string, error) { return c.Receptor.Domains(ctx) }).Should(ContainElement("cf-apps"))
			client, err := etcd.Client()
			Expect(err).NotTo(HaveOccurred())
			defer client.Close()
			held, err := client.Get(ctx, c.Root+"/v1/locks/nsync_bulker")
			Expect(err).NotTo(HaveOccurred())
			Expect(held.Kvs).To(HaveLen(1))
			Expect(string(held.Kvs[0].Value)).To(ContainSubstring(cfg.ID))

			// The CC stops b and scales d (a new etag).
			c.CC.RemoveApp(b.ProcessGuid)
			d.NumInstances, d.ETag = 2, "2"
			c.CC.SetApp(d)
			Eventually(desired, 10*time.Second).Should(ConsistOf(a.ProcessGuid+"@1", d.ProcessGuid+"@2"))
			lrp, err := c.Receptor.GetDesiredLRP(ctx, d.ProcessGuid)
			Expect(err).NotTo(HaveOccurred())
			Expect(lrp.Instances).To(Equal(int32(2)))

			// Someone deletes a behind the CC's back.
			Expect(c.Receptor.DeleteDesiredLRP(ctx, a.ProcessGuid)).To(Succeed())
			Eventually(desired, 10*time.Second).Should(ContainElement(a.ProcessGuid + "@1"))
		})

		It("lets cf-apps expire while the CC's bulk API fails, and deletes nothing (spec bridge §9.6)", func() {
			a := desireApp("va", "1", 1)
			c.CC.SetApp(a)
			nsync = run("nsync", cfg)
			Eventually(func() ([]string, error) { return c.Receptor.Domains(ctx) }).Should(ContainElement("cf-apps"))
			c.CC.FailBulk(true)
			c.CC.RemoveApp(a.ProcessGuid)
			Eventually(func() ([]string, error) { return c.Receptor.Domains(ctx) }, 10*time.Second).ShouldNot(ContainElement("cf-apps"))
			Expect(desired()).To(ConsistOf(a.ProcessGuid + "@1"))
		})

		It("runs only in the nsync holding the lock; a second one serves its listener all the same", func() {
			nsync = run("nsync", cfg)
			Eventually(nsync.Out).Should(gbytes.Say(`"msg":"complete"`))
			second := cfg
			second.ID, second.ListenAddr = "second", portWithNothing()
			other := run("nsync", second)
			app := desireApp("v1", "1", 1)
			c.CC.SetApp(app)
			Expect(call("PUT", "http://"+second.ListenAddr+"/v1/apps/"+app.ProcessGuid, app)).To(Equal(http.StatusAccepted))
			Eventually(other.Out).Should(gbytes.Say(`"msg":"lock-taken"`))
			Consistently(other.Out, 3*time.Second).ShouldNot(gbytes.Say(`"msg":"complete"`))

			// When the holder stops, the second takes over the bulker.
			nsync.Interrupt()
			Eventually(nsync, 10*time.Second).Should(gexec.Exit())
			Eventually(other.Out, 15*time.Second).Should(gbytes.Say(`"msg":"acquired"`))
			Eventually(other.Out, 10*time.Second).Should(gbytes.Say(`"msg":"complete"`))
		})
	})
})
