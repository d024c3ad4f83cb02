package main_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"diego/models"
	"diego/receptor"
	"diego/receptor/client"
	receptorconfig "diego/receptor/config"
)

func isErr(name string) OmegaMatcher {
	return WithTransform(func(err error) string {
		var e *receptor.Error
		if errors.As(err, &e) {
			return e.Type
		}
		return ""
	}, Equal(name))
}

var run1 = &models.Action{RunAction: &models.RunAction{Path: "/bin/true", User: "vcap"}}

func rawCall(method, url, body string) (int, string) {
	GinkgoHelper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	Expect(err).NotTo(HaveOccurred())
	req.SetBasicAuth("user", "pass")
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var _ = Describe("The receptor binary", func() {
	var (
		url string
		c   *client.Client
	)

	BeforeEach(func() {
		Expect(etcd.Reset()).To(Succeed())
		url, _ = startBBSAndReceptor(func(c *receptorconfig.Config) {
			c.Username, c.Password, c.CORSEnabled = "user", "pass", true
		})
		var err error
		c, err = client.New(client.Config{URL: url, Username: "user", Password: "pass"})
		Expect(err).NotTo(HaveOccurred())
	})

	It("rejects a bad config with a clear message", func() {
		path := filepath.Join(GinkgoT().TempDir(), "bad.json")
		Expect(os.WriteFile(path, []byte(`{"listen_addr":"nope","bbs_address":"bbs:8889","log_level":"loud"}`), 0o644)).To(Succeed())
		s, err := gexec.Start(exec.Command(binaries["receptor"], "-config", path), GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		Eventually(s).Should(gexec.Exit(2))
		Expect(s.Err).To(gbytes.Say(`listen_addr "nope" is not host:port`))
	})

	It("requires basic auth, and accepts the auth cookie", func() {
		anon, err := client.New(client.Config{URL: url})
		Expect(err).NotTo(HaveOccurred())
		_, err = anon.Tasks(ctx)
		Expect(err).To(isErr(receptor.Unauthorized))
		Expect(err).To(MatchError("Unauthorized"))

		cookie, err := c.AuthCookie(ctx)
		Expect(err).NotTo(HaveOccurred())
		req, _ := http.NewRequest("GET", url+"/v1/domains", nil)
		req.AddCookie(cookie)
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(200))

		v, err := c.Version(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(v.Receptor).NotTo(BeEmpty())
	})

	It("runs the task lifecycle", func() {
		req := receptor.TaskCreateRequest{TaskGuid: "task-1", Domain: "d1", RootFS: "preloaded:linux", Action: run1, MemoryMB: 64}
		Expect(c.CreateTask(ctx, req)).To(Succeed())
		Expect(c.CreateTask(ctx, req)).To(isErr(receptor.TaskGuidAlreadyExists))
		Expect(c.CreateTask(ctx, receptor.TaskCreateRequest{TaskGuid: "task-2", Domain: "d1"})).To(isErr(receptor.InvalidTask))
		status, body := rawCall("POST", url+"/v1/tasks", `{"task_guid":`)
		Expect(status).To(Equal(400))
		Expect(body).To(ContainSubstring(`"name":"InvalidJSON"`))

		task, err := c.GetTask(ctx, "task-1")
		Expect(err).NotTo(HaveOccurred())
		Expect(task.State).To(Equal(receptor.TaskStatePending))
		Expect(task.MemoryMB).To(BeEquivalentTo(64))
		Expect(task.CreatedAt).NotTo(BeZero())

		tasks, err := c.Tasks(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(tasks).To(HaveLen(1))
		tasks, err = c.TasksByDomain(ctx, "other")
		Expect(err).NotTo(HaveOccurred())
		Expect(tasks).To(BeEmpty())

		Expect(c.DeleteTask(ctx, "task-1")).To(isErr(receptor.TaskNotDeletable))
		Expect(c.CancelTask(ctx, "task-1")).To(Succeed())
		task, err = c.GetTask(ctx, "task-1")
		Expect(err).NotTo(HaveOccurred())
		Expect(task.State).To(Equal(receptor.TaskStateCompleted))
		Expect(task.Failed).To(BeTrue())
		Expect(c.CancelTask(ctx, "task-1")).To(isErr(receptor.UnknownError))

		Expect(c.DeleteTask(ctx, "task-1")).To(Succeed())
		_, err = c.GetTask(ctx, "task-1")
		Expect(err).To(isErr(receptor.TaskNotFound))
		Expect(err).To(MatchError("task with guid 'task-1' not found"))
		Expect(c.CancelTask(ctx, "task-1")).To(isErr(receptor.TaskNotFound))
		Expect(c.DeleteTask(ctx, "task-1")).To(isErr(receptor.TaskNotFound))
	})

	It("runs the desired LRP lifecycle, with its actual LRPs and events", func() {
		events, err := c.SubscribeToEvents(ctx)
		Expect(err).NotTo(HaveOccurred())
		defer events.Close()
		seen := make(chan receptor.Event, 100)
		go func() {
			defer GinkgoRecover()
			for {
				e, err := events.Next()
				if err != nil {
					return
				}
				seen <- e
			}
		}()
		next := func(eventType string) receptor.Event {
			GinkgoHelper()
			var got receptor.Event
			Eventually(seen, 10*time.Second).Should(Receive(&got))
			for got.EventType() != eventType {
				Eventually(seen, 10*time.Second).Should(Receive(&got))
			}
			return got
		}

		routes := receptor.RoutingInfo{"cf-router": json.RawMessage(`[{"hostnames":["app.example.com"],"port":8080}]`)}
		req := receptor.DesiredLRPCreateRequest{
			ProcessGuid: "pg-1", Domain: "d1", RootFS: "preloaded:linux", Instances: 2, Action: run1,
			StartTimeout: 30, Ports: []uint16{8080}, Routes: routes, MemoryMB: 128,
		}
		Expect(c.CreateDesiredLRP(ctx, req)).To(Succeed())
		Expect(c.CreateDesiredLRP(ctx, req)).To(isErr(receptor.DesiredLRPAlreadyExists))
		Expect(c.CreateDesiredLRP(ctx, receptor.DesiredLRPCreateRequest{ProcessGuid: "pg-2"})).To(isErr(receptor.InvalidLRP))
		status, body := rawCall("POST", url+"/v1/desired_lrps", `nope`)
		Expect(status).To(Equal(400))
		Expect(body).To(ContainSubstring(`"name":"InvalidJSON"`))

		created := next(receptor.EventTypeDesiredLRPCreated).(*receptor.DesiredLRPCreatedEvent)
		Expect(created.DesiredLRPResponse.ProcessGuid).To(Equal("pg-1"))
		actualCreated := next(receptor.EventTypeActualLRPCreated).(*receptor.ActualLRPCreatedEvent)
		Expect(actualCreated.ActualLRPResponse.State).To(Equal(receptor.ActualLRPStateUnclaimed))

		d, err := c.GetDesiredLRP(ctx, "pg-1")
		Expect(err).NotTo(HaveOccurred())
		Expect(d.StartTimeout).To(BeEquivalentTo(30))
		Expect(d.Instances).To(BeEquivalentTo(2))
		Expect(d.Ports).To(Equal([]uint16{8080}))
		Expect(string(d.Routes["cf-router"])).To(MatchJSON(`[{"hostnames":["app.example.com"],"port":8080}]`))
		Expect(d.ModificationTag.Epoch).NotTo(BeEmpty())

		all, err := c.DesiredLRPs(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(all).To(HaveLen(1))
		all, err = c.DesiredLRPsByDomain(ctx, "other")
		Expect(err).NotTo(HaveOccurred())
		Expect(all).To(BeEmpty())

		actuals, err := c.ActualLRPsByProcessGuid(ctx, "pg-1")
		Expect(err).NotTo(HaveOccurred())
		Expect(actuals).To(HaveLen(2))
		actuals, err = c.ActualLRPsByDomain(ctx, "d1")
		Expect(err).NotTo(HaveOccurred())
		Expect(actuals).To(HaveLen(2))
		actuals, err = c.ActualLRPsByProcessGuid(ctx, "nope")
		Expect(err).NotTo(HaveOccurred())
		Expect(actuals).To(BeEmpty())

		one, err := c.ActualLRPByProcessGuidAndIndex(ctx, "pg-1", 1)
		Expect(err).NotTo(HaveOccurred())
		Expect(one.Index).To(BeEquivalentTo(1))
		Expect(one.Domain).To(Equal("d1"))
		Expect(one.Evacuating).To(BeFalse())
		_, err = c.ActualLRPByProcessGuidAndIndex(ctx, "pg-1", 7)
		Expect(err).To(isErr(receptor.ActualLRPIndexNotFound))
		status, body = rawCall("GET", url+"/v1/actual_lrps/pg-1/index/7", "")
		Expect(status).To(Equal(404))
		Expect(body).To(Equal("null"))
		status, body = rawCall("GET", url+"/v1/actual_lrps/pg-1/index/x", "")
		Expect(status).To(Equal(400))
		Expect(body).To(ContainSubstring("index not a number"))

		Expect(c.KillActualLRPByProcessGuidAndIndex(ctx, "pg-1", 1)).To(Succeed())
		removed := next(receptor.EventTypeActualLRPRemoved).(*receptor.ActualLRPRemovedEvent)
		Expect(removed.ActualLRPResponse.Index).To(BeEquivalentTo(1))
		Expect(c.KillActualLRPByProcessGuidAndIndex(ctx, "pg-1", 9)).To(isErr(receptor.ActualLRPIndexNotFound))

		three, annotation := int32(3), "updated"
		Expect(c.UpdateDesiredLRP(ctx, "pg-1", receptor.DesiredLRPUpdateRequest{Instances: &three, Annotation: &annotation})).To(Succeed())
		changed := next(receptor.EventTypeDesiredLRPChanged).(*receptor.DesiredLRPChangedEvent)
		Expect(changed.Before.Instances).To(BeEquivalentTo(2))
		Expect(changed.After.Instances).To(BeEquivalentTo(3))
		Expect(changed.After.ModificationTag.Epoch).To(Equal(changed.Before.ModificationTag.Epoch))
		Expect(changed.After.ModificationTag.Index).To(BeNumerically(">", changed.Before.ModificationTag.Index))
		d, err = c.GetDesiredLRP(ctx, "pg-1")
		Expect(err).NotTo(HaveOccurred())
		Expect(d.Annotation).To(Equal("updated"))
		Expect(c.UpdateDesiredLRP(ctx, "nope", receptor.DesiredLRPUpdateRequest{Instances: &three})).To(isErr(receptor.DesiredLRPNotFound))

		Expect(c.DeleteDesiredLRP(ctx, "pg-1")).To(Succeed())
		next(receptor.EventTypeDesiredLRPRemoved)
		_, err = c.GetDesiredLRP(ctx, "pg-1")
		Expect(err).To(isErr(receptor.DesiredLRPNotFound))
		Expect(c.DeleteDesiredLRP(ctx, "pg-1")).To(isErr(receptor.DesiredLRPNotFound))
		next(receptor.EventTypeActualLRPRemoved)
	})

	It("lists cells: [] with none, then a present cell", func() {
		cells, err := c.Cells(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(cells).NotTo(BeNil())
		Expect(cells).To(BeEmpty())
		status, body := rawCall("GET", url+"/v1/cells", "")
		Expect(status).To(Equal(200))
		Expect(body).To(Equal("[]"))

		presence, err := json.Marshal(&models.CellPresence{
			CellId: "cell-1", RepAddress: "http://127.0.0.1:1800", Zone: "z1",
			Capacity:        &models.CellCapacity{MemoryMb: 1024, DiskMb: 2048, Containers: 10},
			RootfsProviders: []*models.Provider{{Name: "preloaded", Properties: []string{"cflinuxfs2"}}, {Name: "docker"}},
		})
		Expect(err).NotTo(HaveOccurred())
		putKey("/diego/v1/cell/cell-1", string(presence))
		Eventually(func() ([]receptor.CellResponse, error) { return c.Cells(ctx) }).Should(Equal([]receptor.CellResponse{{
			CellID: "cell-1", Zone: "z1",
			Capacity:        receptor.CellCapacity{MemoryMB: 1024, DiskMB: 2048, Containers: 10},
			RootFSProviders: map[string][]string{"preloaded": {"cflinuxfs2"}, "docker": {}},
		}}))
	})

	It("upserts and lists domains", func() {
		Expect(c.UpsertDomain(ctx, "cf-apps", time.Minute)).To(Succeed())
		Expect(c.UpsertDomain(ctx, "forever", 0)).To(Succeed())
		domains, err := c.Domains(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(domains).To(ConsistOf("cf-apps", "forever"))
		req, _ := http.NewRequest("PUT", url+"/v1/domains/bad", nil)
		req.SetBasicAuth("user", "pass")
		req.Header.Set("Cache-Control", "max-age=soon")
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(400))
	})

	It("answers CORS preflights", func() {
		req, _ := http.NewRequest("OPTIONS", url+"/v1/tasks", nil)
		req.Header.Set("Origin", "http://ui.example.com")
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(200))
		Expect(resp.Header.Get("Access-Control-Allow-Origin")).To(Equal("http://ui.example.com"))
		Expect(resp.Header.Get("Access-Control-Allow-Methods")).To(Equal("POST"))
	})
})
