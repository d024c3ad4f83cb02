package handlers_test

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	bbsclient "diego/bbs/client"
	"diego/models"
	"diego/receptor"
	"diego/receptor/handlers"
	"diego/receptor/handlers/handlersfakes"
)

const validTask = `{"task_guid":"t1","domain":"d","rootfs":"preloaded:linux","action":{"run":{"path":"ls","user":"vcap"}}}`
const validLRP = `{"process_guid":"pg","domain":"d","rootfs":"preloaded:linux","instances":1,"action":{"run":{"path":"ls","user":"vcap"}}}`

var _ = Describe("The receptor handlers", func() {
	var (
		bbs    *handlersfakes.FakeBBS
		events *handlersfakes.FakeEventSubscriber
		deps   handlers.Deps
		server *httptest.Server
	)

	BeforeEach(func() {
		bbs = &handlersfakes.FakeBBS{}
		events = &handlersfakes.FakeEventSubscriber{}
		deps = handlers.Deps{BBS: bbs, Events: events, Version: receptor.VersionResponse{Receptor: "v1"}}
	})

	JustBeforeEach(func() {
		h, err := handlers.New(deps)
		Expect(err).NotTo(HaveOccurred())
		server = httptest.NewServer(h)
		DeferCleanup(server.Close)
	})

	call := func(method, path, body string, headers ...string) (int, string, http.Header) {
		GinkgoHelper()
		req, err := http.NewRequest(method, server.URL+path, strings.NewReader(body))
		Expect(err).NotTo(HaveOccurred())
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	errJSON := func(name, msg string) string { return `{"name":"` + name + `","message":"` + msg + `"}` }

	Describe("tasks", func() {
		It("creates a task: 201", func() {
			status, _, _ := call("POST", "/v1/tasks", validTask)
			Expect(status).To(Equal(201))
			Expect(bbs.DesireTaskCallCount()).To(Equal(1))
			_, guid, domain, def := bbs.DesireTaskArgsForCall(0)
			Expect(guid).To(Equal("t1"))
			Expect(domain).To(Equal("d"))
			Expect(def.GetRootFs()).To(Equal("preloaded:linux"))
		})

		It("answers bad JSON with 400 InvalidJSON", func() {
			status, body, _ := call("POST", "/v1/tasks", `{"task_guid":`)
			Expect(status).To(Equal(400))
			Expect(body).To(ContainSubstring(`"name":"InvalidJSON"`))
			Expect(bbs.DesireTaskCallCount()).To(BeZero())
		})

		It("answers an invalid task with 400 InvalidTask", func() {
			status, body, _ := call("POST", "/v1/tasks", `{"task_guid":"t1","domain":"d"}`)
			Expect(status).To(Equal(400))
			Expect(body).To(ContainSubstring(`"name":"InvalidTask"`))
			Expect(body).To(ContainSubstring("rootfs"))
		})

		It("answers a bad callback URL with 400 InvalidTask", func() {
			status, body, _ := call("POST", "/v1/tasks", strings.Replace(validTask, `"domain"`, `"completion_callback_url":"not a url","domain"`, 1))
			Expect(status).To(Equal(400))
			Expect(body).To(ContainSubstring(`"name":"InvalidTask"`))
		})

		It("answers an existing guid with 409 TaskGuidAlreadyExists", func() {
			bbs.DesireTaskReturns(models.ErrResourceExists)
			status, body, _ := call("POST", "/v1/tasks", validTask)
			Expect(status).To(Equal(409))
			Expect(body).To(MatchJSON(errJSON("TaskGuidAlreadyExists", "task already exists")))
		})

		It("answers other failures with 500 UnknownError", func() {
			bbs.DesireTaskReturns(models.ErrUnknownError)
			status, body, _ := call("POST", "/v1/tasks", validTask)
			Expect(status).To(Equal(500))
			Expect(body).To(ContainSubstring(`"name":"UnknownError"`))
		})

		It("lists tasks by domain", func() {
			bbs.TasksReturns([]*models.Task{{TaskGuid: "t1", State: models.Task_Running}}, nil)
			status, body, headers := call("GET", "/v1/tasks?domain=d", "")
			Expect(status).To(Equal(200))
			Expect(headers.Get("Content-Type")).To(Equal("application/json"))
			Expect(body).To(ContainSubstring(`"state":"RUNNING"`))
			_, f := bbs.TasksArgsForCall(0)
			Expect(f).To(Equal(bbsclient.TaskFilter{Domain: "d"}))
		})

		It("lists no tasks as []", func() {
			_, body, _ := call("GET", "/v1/tasks", "")
			Expect(body).To(Equal("[]"))
		})

		It("gets a task, or 404 TaskNotFound", func() {
			bbs.TaskByGuidReturns(&models.Task{TaskGuid: "t1"}, nil)
			status, body, _ := call("GET", "/v1/tasks/t1", "")
			Expect(status).To(Equal(200))
			Expect(body).To(ContainSubstring(`"task_guid":"t1"`))

			bbs.TaskByGuidReturns(nil, models.ErrResourceNotFound)
			status, body, _ = call("GET", "/v1/tasks/t2", "")
			Expect(status).To(Equal(404))
			Expect(body).To(MatchJSON(errJSON("TaskNotFound", "task with guid 't2' not found")))
		})

		It("deletes a completed task: resolving, then delete, 200", func() {
			status, _, _ := call("DELETE", "/v1/tasks/t1", "")
			Expect(status).To(Equal(200))
			Expect(bbs.ResolvingTaskCallCount()).To(Equal(1))
			Expect(bbs.DeleteTaskCallCount()).To(Equal(1))
		})

		It("refuses to delete an uncompleted task: 409 TaskNotDeletable", func() {
			bbs.ResolvingTaskReturns(models.NewTaskTransitionError(models.Task_Running, models.Task_Resolving))
			status, body, _ := call("DELETE", "/v1/tasks/t1", "")
			Expect(status).To(Equal(409))
			Expect(body).To(MatchJSON(errJSON("TaskNotDeletable", "This task has not been completed. Please retry when it is completed.")))
			Expect(bbs.DeleteTaskCallCount()).To(BeZero())
		})

		It("deletes a missing task: 404", func() {
			bbs.ResolvingTaskReturns(models.ErrResourceNotFound)
			status, body, _ := call("DELETE", "/v1/tasks/t1", "")
			Expect(status).To(Equal(404))
			Expect(body).To(ContainSubstring("TaskNotFound"))
		})

		It("cancels: 200, 404, 500", func() {
			status, _, _ := call("POST", "/v1/tasks/t1/cancel", "")
			Expect(status).To(Equal(200))
			bbs.CancelTaskReturns(models.ErrResourceNotFound)
			status, _, _ = call("POST", "/v1/tasks/t1/cancel", "")
			Expect(status).To(Equal(404))
			bbs.CancelTaskReturns(models.NewTaskTransitionError(models.Task_Completed, models.Task_Completed))
			status, body, _ := call("POST", "/v1/tasks/t1/cancel", "")
			Expect(status).To(Equal(500))
			Expect(body).To(ContainSubstring("UnknownError"))
		})
	})

	Describe("desired LRPs", func() {
		It("creates: 201; 400 InvalidJSON; 400 InvalidLRP; 409 DesiredLRPAlreadyExists", func() {
			status, _, _ := call("POST", "/v1/desired_lrps", validLRP)
			Expect(status).To(Equal(201))
			_, d := bbs.DesireLRPArgsForCall(0)
			Expect(d.GetProcessGuid()).To(Equal("pg"))

			status, body, _ := call("POST", "/v1/desired_lrps", `[`)
			Expect(status).To(Equal(400))
			Expect(body).To(ContainSubstring("InvalidJSON"))

			status, body, _ = call("POST", "/v1/desired_lrps", `{"process_guid":"pg"}`)
			Expect(status).To(Equal(400))
			Expect(body).To(ContainSubstring(`"name":"InvalidLRP"`))

			bbs.DesireLRPReturns(models.ErrResourceExists)
			status, body, _ = call("POST", "/v1/desired_lrps", validLRP)
			Expect(status).To(Equal(409))
			Expect(body).To(MatchJSON(errJSON("DesiredLRPAlreadyExists", "Desired LRP with guid 'pg' already exists")))
		})

		It("gets and lists", func() {
			bbs.DesiredLRPByProcessGuidReturns(&models.DesiredLRP{ProcessGuid: "pg", StartTimeoutMs: 5000}, nil)
			status, body, _ := call("GET", "/v1/desired_lrps/pg", "")
			Expect(status).To(Equal(200))
			Expect(body).To(ContainSubstring(`"start_timeout":5`))

			bbs.DesiredLRPByProcessGuidReturns(nil, models.ErrResourceNotFound)
			status, body, _ = call("GET", "/v1/desired_lrps/pg", "")
			Expect(status).To(Equal(404))
			Expect(body).To(MatchJSON(errJSON("DesiredLRPNotFound", "Desired LRP with guid 'pg' not found")))

			bbs.DesiredLRPsReturns([]*models.DesiredLRP{{ProcessGuid: "a"}}, nil)
			status, body, _ = call("GET", "/v1/desired_lrps?domain=d", "")
			Expect(status).To(Equal(200))
			Expect(body).To(ContainSubstring(`"process_guid":"a"`))
			_, f := bbs.DesiredLRPsArgsForCall(0)
			Expect(f.Domain).To(Equal("d"))
		})

		It("updates: 204; 400; 404; 500 ResourceConflict", func() {
			status, _, _ := call("PUT", "/v1/desired_lrps/pg", `{"instances":3}`)
			Expect(status).To(Equal(204))
			_, guid, u := bbs.UpdateDesiredLRPArgsForCall(0)
			Expect(guid).To(Equal("pg"))
			Expect(u.GetInstances()).To(BeEquivalentTo(3))
			Expect(u.Annotation).To(BeNil())

			status, body, _ := call("PUT", "/v1/desired_lrps/pg", `{"instances":`)
			Expect(status).To(Equal(400))
			Expect(body).To(ContainSubstring("InvalidJSON"))

			bbs.UpdateDesiredLRPReturns(models.ErrResourceNotFound)
			status, _, _ = call("PUT", "/v1/desired_lrps/pg", `{}`)
			Expect(status).To(Equal(404))

			bbs.UpdateDesiredLRPReturns(models.ErrResourceConflict)
			status, body, _ = call("PUT", "/v1/desired_lrps/pg", `{}`)
			Expect(status).To(Equal(500))
			Expect(body).To(MatchJSON(errJSON("ResourceConflict", "Desired LRP with guid 'pg' failed to update")))
		})

		It("deletes: 204, 404", func() {
			status, _, _ := call("DELETE", "/v1/desired_lrps/pg", "")
			Expect(status).To(Equal(204))
			bbs.RemoveDesiredLRPReturns(models.ErrResourceNotFound)
			status, body, _ := call("DELETE", "/v1/desired_lrps/pg", "")
			Expect(status).To(Equal(404))
			Expect(body).To(ContainSubstring("DesiredLRPNotFound"))
		})
	})

	Describe("actual LRPs", func() {
		key := &models.ActualLRPKey{ProcessGuid: "pg", Index: 0, Domain: "d"}
		group := &models.ActualLRPGroup{
			Instance:   &models.ActualLRP{ActualLrpKey: key, State: models.ActualLRPStateUnclaimed},
			Evacuating: &models.ActualLRP{ActualLrpKey: key, ActualLrpInstanceKey: &models.ActualLRPInstanceKey{InstanceGuid: "old", CellId: "c"}, State: models.ActualLRPStateRunning},
		}

		It("lists resolved groups", func() {
			bbs.ActualLRPGroupsReturns([]*models.ActualLRPGroup{group}, nil)
			status, body, _ := call("GET", "/v1/actual_lrps?domain=d", "")
			Expect(status).To(Equal(200))
			Expect(body).To(ContainSubstring(`"evacuating":true`))
			_, domain, cell := bbs.ActualLRPGroupsArgsForCall(0)
			Expect(domain).To(Equal("d"))
			Expect(cell).To(BeEmpty())
		})

		It("lists by process guid, [] when there are none", func() {
			status, body, _ := call("GET", "/v1/actual_lrps/pg", "")
			Expect(status).To(Equal(200))
			Expect(body).To(Equal("[]"))
		})

		It("gets an index; 404 null; 400 index not a number", func() {
			bbs.ActualLRPGroupByProcessGuidAndIndexReturns(group, nil)
			status, body, _ := call("GET", "/v1/actual_lrps/pg/index/0", "")
			Expect(status).To(Equal(200))
			Expect(body).To(ContainSubstring(`"instance_guid":"old"`))

			bbs.ActualLRPGroupByProcessGuidAndIndexReturns(nil, models.ErrResourceNotFound)
			status, body, _ = call("GET", "/v1/actual_lrps/pg/index/0", "")
			Expect(status).To(Equal(404))
			Expect(body).To(Equal("null"))

			status, body, _ = call("GET", "/v1/actual_lrps/pg/index/x", "")
			Expect(status).To(Equal(400))
			Expect(body).To(MatchJSON(errJSON("InvalidRequest", "index not a number")))
		})

		It("kills an index with RetireActualLRP: 204; 404 ActualLRPIndexNotFound", func() {
			bbs.ActualLRPGroupByProcessGuidAndIndexReturns(group, nil)
			status, _, _ := call("DELETE", "/v1/actual_lrps/pg/index/0", "")
			Expect(status).To(Equal(204))
			_, k := bbs.RetireActualLRPArgsForCall(0)
			Expect(k.GetDomain()).To(Equal("d"))

			bbs.ActualLRPGroupByProcessGuidAndIndexReturns(nil, models.ErrResourceNotFound)
			status, body, _ := call("DELETE", "/v1/actual_lrps/pg/index/3", "")
			Expect(status).To(Equal(404))
			Expect(body).To(MatchJSON(errJSON("ActualLRPIndexNotFound", "process-guid 'pg' does not exist or has no instance at index 3")))

			status, _, _ = call("DELETE", "/v1/actual_lrps/pg/index/x", "")
			Expect(status).To(Equal(400))
		})
	})

	Describe("cells, domains, version and the cookie", func() {
		It("lists no cells as []", func() {
			status, body, _ := call("GET", "/v1/cells", "")
			Expect(status).To(Equal(200))
			Expect(body).To(Equal("[]"))
		})

		It("upserts domains with max-age", func() {
			status, _, _ := call("PUT", "/v1/domains/cf-apps", "", "Cache-Control", "max-age=10")
			Expect(status).To(Equal(204))
			_, domain, ttl := bbs.UpsertDomainArgsForCall(0)
			Expect(domain).To(Equal("cf-apps"))
			Expect(ttl).To(Equal(10 * time.Second))

			status, _, _ = call("PUT", "/v1/domains/cf-apps", "")
			Expect(status).To(Equal(204))
			_, _, ttl = bbs.UpsertDomainArgsForCall(1)
			Expect(ttl).To(BeZero())

			status, body, _ := call("PUT", "/v1/domains/cf-apps", "", "Cache-Control", "no-cache")
			Expect(status).To(Equal(400))
			Expect(body).To(MatchJSON(errJSON("InvalidRequest", "max-age directive missing from request")))

			status, body, _ = call("PUT", "/v1/domains/cf-apps", "", "Cache-Control", "max-age=abc")
			Expect(status).To(Equal(400))
			Expect(body).To(MatchJSON(errJSON("InvalidRequest", "invalid-max-age-directive: max-age=abc")))

			bbs.UpsertDomainReturns(models.NewError(models.Error_InvalidRequest, "Invalid field: domain"))
			status, body, _ = call("PUT", "/v1/domains/cf-apps", "")
			Expect(status).To(Equal(400))
			Expect(body).To(ContainSubstring("InvalidDomain"))
		})

		It("lists domains", func() {
			bbs.DomainsReturns([]string{"cf-apps"}, nil)
			_, body, _ := call("GET", "/v1/domains", "")
			Expect(body).To(MatchJSON(`["cf-apps"]`))
		})

		It("reports the version", func() {
			_, body, _ := call("GET", "/v1/version", "")
			Expect(body).To(MatchJSON(`{"receptor":"v1"}`))
		})

		It("sets the auth cookie from the Authorization header", func() {
			status, _, headers := call("POST", "/v1/auth_cookie", "", "Authorization", "Basic Zm9vOmJhcg==")
			Expect(status).To(Equal(204))
			Expect(headers.Get("Set-Cookie")).To(Equal(`receptor_authorization="Basic Zm9vOmJhcg=="; HttpOnly`))
		})
	})

	Describe("basic auth", func() {
		BeforeEach(func() { deps.Username, deps.Password = "user", "pass" })

		It("answers 401 Unauthorized without credentials", func() {
			status, body, headers := call("GET", "/v1/tasks", "")
			Expect(status).To(Equal(401))
			Expect(body).To(MatchJSON(`{"name":"Unauthorized","message":"Unauthorized"}`))
			Expect(headers.Get("WWW-Authenticate")).To(Equal(`Basic realm="API Authentication"`))
		})

		It("accepts basic auth and the cookie", func() {
			req, _ := http.NewRequest("GET", server.URL+"/v1/tasks", nil)
			req.SetBasicAuth("user", "pass")
			resp, err := http.DefaultClient.Do(req)
			Expect(err).NotTo(HaveOccurred())
			resp.Body.Close()
			Expect(resp.StatusCode).To(Equal(200))

			req, _ = http.NewRequest("GET", server.URL+"/v1/tasks", nil)
			req.Header.Set("Cookie", `receptor_authorization="Basic dXNlcjpwYXNz"`)
			resp, err = http.DefaultClient.Do(req)
			Expect(err).NotTo(HaveOccurred())
			resp.Body.Close()
			Expect(resp.StatusCode).To(Equal(200))

			status, _, _ := call("GET", "/v1/tasks", "", "Authorization", "Basic dXNlcjp3cm9uZw==")
			Expect(status).To(Equal(401))
		})
	})

	Describe("CORS", func() {
		BeforeEach(func() { deps.CORSEnabled = true })

		It("echoes the origin and answers preflights", func() {
			_, _, headers := call("GET", "/v1/domains", "", "Origin", "http://ui.example.com")
			Expect(headers.Get("Access-Control-Allow-Origin")).To(Equal("http://ui.example.com"))
			Expect(headers.Get("Access-Control-Allow-Credentials")).To(Equal("true"))

			status, _, headers := call("OPTIONS", "/v1/tasks", "", "Origin", "http://ui", "Access-Control-Request-Method", "PUT",
				"Access-Control-Request-Headers", "X-Custom")
			Expect(status).To(Equal(200))
			Expect(headers.Get("Access-Control-Allow-Methods")).To(Equal("PUT"))
			Expect(headers.Get("Access-Control-Allow-Headers")).To(Equal("X-Custom"))
		})
	})

	Describe("the event stream", func() {
		It("answers 500 when subscribing fails", func() {
			events.SubscribeToEventsReturns(nil, models.ErrUnknownError)
			status, body, _ := call("GET", "/v1/events", "")
			Expect(status).To(Equal(500))
			Expect(body).To(BeEmpty())
		})

		It("streams converted events with ids from 0", func() {
			source := &handlersfakes.FakeEventSource{}
			key := &models.ActualLRPKey{ProcessGuid: "pg", Index: 0, Domain: "d"}
			lrp := &models.ActualLRP{ActualLrpKey: key, ActualLrpInstanceKey: &models.ActualLRPInstanceKey{InstanceGuid: "ig", CellId: "c"}, State: models.ActualLRPStateClaimed}
			source.NextReturnsOnCall(0, &models.DesiredLRPCreatedEvent{DesiredLrp: &models.DesiredLRP{ProcessGuid: "pg"}}, nil)
			source.NextReturnsOnCall(1, &models.ActualLRPCrashedEvent{}, nil)
			source.NextReturnsOnCall(2, &models.ActualLRPCreatedEvent{ActualLrpGroup: &models.ActualLRPGroup{Instance: lrp}}, nil)
			source.NextReturnsOnCall(3, nil, io.EOF)
			events.SubscribeToEventsReturns(source, nil)

			resp, err := http.Get(server.URL + "/v1/events")
			Expect(err).NotTo(HaveOccurred())
			defer resp.Body.Close()
			Expect(resp.StatusCode).To(Equal(200))
			Expect(resp.Header.Get("Content-Type")).To(Equal("text/event-stream; charset=utf-8"))
			Expect(resp.Header.Get("Cache-Control")).To(Equal("no-cache, no-store, must-revalidate"))
			r := bufio.NewReader(resp.Body)
			body, _ := io.ReadAll(r)
			lines := strings.Split(string(body), "\n")
			Expect(lines[0]).To(Equal("id: 0"))
			Expect(lines[1]).To(Equal("event: desired_lrp_created"))
			Expect(strings.TrimPrefix(lines[2], "data: ")).To(MatchJSON(`{"desired_lrp":{"process_guid":"pg","domain":"","rootfs":"","instances":0,"setup":null,"action":null,"monitor":null,"start_timeout":0,"disk_mb":0,"memory_mb":0,"cpu_weight":0,"privileged":false,"ports":[],"log_guid":"","log_source":"","metrics_guid":"","modification_tag":{"epoch":"","index":0}}}`))
			Expect(lines[4]).To(Equal("id: 1"))
			Expect(lines[5]).To(Equal("event: actual_lrp_created"))
			Expect(lines[6]).To(ContainSubstring(`"instance_guid":"ig"`))
			Eventually(source.CloseCallCount).Should(Equal(1))
		})
	})
})
