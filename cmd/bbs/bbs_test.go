package main_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"
	"google.golang.org/protobuf/proto"

	"diego/auctioneer"
	bbsclient "diego/bbs/client"
	"diego/models"
	"diego/test/ports"
)

var ctx = context.Background()

func taskDef() *models.TaskDefinition {
	return &models.TaskDefinition{
		RootFs: "preloaded:cflinuxfs4",
		Action: models.WrapAction(&models.RunAction{Path: "/bin/true", User: "vcap"}),
	}
}

func newClient(p *bbsProcess) *bbsclient.Client {
	GinkgoHelper()
	cfg := bbsclient.Config{URL: p.url}
	if strings.HasPrefix(p.url, "https") {
		cfg.CAFile, cfg.CertFile, cfg.KeyFile = certs.CA, certs.ClientCert, certs.ClientKey
	}
	c, err := bbsclient.New(cfg)
	Expect(err).NotTo(HaveOccurred())
	return c
}

func errType(err error) models.Error_Type {
	GinkgoHelper()
	e := models.ConvertError(err)
	Expect(e).NotTo(BeNil())
	return e.GetType()
}

// putKey writes a raw etcd key (a lock value or a presence).
func putKey(key, value string) {
	GinkgoHelper()
	c, err := etcd.Client()
	Expect(err).NotTo(HaveOccurred())
	defer c.Close()
	_, err = c.Put(ctx, key, value)
	Expect(err).NotTo(HaveOccurred())
}

var _ = Describe("The bbs binary", func() {
	BeforeEach(func() {
		Expect(etcd.Reset()).To(Succeed())
	})

	Describe("over plain HTTP", func() {
		var (
			bbs    *bbsProcess
			client *bbsclient.Client
		)

		BeforeEach(func() {
			bbs = startBBS(false)
			client = newClient(bbs)
		})

		It("answers ping and the health check", func() {
			Expect(client.Ping(ctx)).To(BeTrue())
			resp, err := http.Get("http://" + bbs.healthAddr + "/ping")
			Expect(err).NotTo(HaveOccurred())
			resp.Body.Close()
			Expect(resp.StatusCode).To(Equal(http.StatusOK))
		})

		It("runs a task's whole life", func() {
			Expect(client.DesireTask(ctx, "task-1", "d", taskDef())).To(Succeed())
			task, err := client.TaskByGuid(ctx, "task-1")
			Expect(err).NotTo(HaveOccurred())
			Expect(task.State).To(Equal(models.Task_Pending))

			shouldStart, err := client.StartTask(ctx, "task-1", "cell-1")
			Expect(err).NotTo(HaveOccurred())
			Expect(shouldStart).To(BeTrue())
			shouldStart, err = client.StartTask(ctx, "task-1", "cell-1")
			Expect(err).NotTo(HaveOccurred())
			Expect(shouldStart).To(BeFalse(), "already running there")

			byCell, err := client.Tasks(ctx, bbsclient.TaskFilter{CellID: "cell-1"})
			Expect(err).NotTo(HaveOccurred())
			Expect(byCell).To(HaveLen(1))

			Expect(client.CompleteTask(ctx, "task-1", "cell-1", false, "", "42")).To(Succeed())
			task, err = client.TaskByGuid(ctx, "task-1")
			Expect(err).NotTo(HaveOccurred())
			Expect(task.State).To(Equal(models.Task_Completed))
			Expect(task.Result).To(Equal("42"))

			Expect(client.ResolvingTask(ctx, "task-1")).To(Succeed())
			Expect(client.DeleteTask(ctx, "task-1")).To(Succeed())
			_, err = client.TaskByGuid(ctx, "task-1")
			Expect(errType(err)).To(Equal(models.Error_ResourceNotFound))
		})

		It("answers domain errors with the spec's types", func() {
			Expect(client.DesireTask(ctx, "task-1", "d", taskDef())).To(Succeed())
			Expect(errType(client.DesireTask(ctx, "task-1", "d", taskDef()))).To(Equal(models.Error_ResourceExists))
			_, err := client.StartTask(ctx, "nope", "cell-1")
			Expect(errType(err)).To(Equal(models.Error_ResourceNotFound))
			err = client.CompleteTask(ctx, "task-1", "cell-1", false, "", "")
			Expect(err).To(MatchError("Cannot transition from Pending to Completed"))
			Expect(errType(client.DeleteTask(ctx, "task-1"))).To(Equal(models.Error_InvalidStateTransition))
		})

		It("rejects invalid requests naming every bad field", func() {
			err := client.DesireTask(ctx, "bad guid", "", &models.TaskDefinition{})
			Expect(errType(err)).To(Equal(models.Error_InvalidRequest))
			Expect(err).To(MatchError(And(ContainSubstring("task_guid"), ContainSubstring("domain"),
				ContainSubstring("rootfs"), ContainSubstring("invalid action type"))))
		})

		Describe("bad input on the wire", func() {
			post := func(path, contentType string, body []byte) *models.TaskLifecycleResponse {
				GinkgoHelper()
				resp, err := http.Post(bbs.url+path, contentType, bytes.NewReader(body))
				Expect(err).NotTo(HaveOccurred())
				defer resp.Body.Close()
				Expect(resp.StatusCode).To(Equal(http.StatusOK), "domain errors are HTTP 200")
				Expect(resp.Header.Get("Content-Type")).To(Equal("application/x-protobuf"))
				raw, err := io.ReadAll(resp.Body)
				Expect(err).NotTo(HaveOccurred())
				var out models.TaskLifecycleResponse
				Expect(proto.Unmarshal(raw, &out)).To(Succeed())
				return &out
			}

			It("answers malformed protobuf with InvalidRequest", func() {
				out := post("/v1/tasks/desire.r2", "application/x-protobuf", []byte{0x0a, 0xff, 0xff})
				Expect(out.Error).To(Equal(models.ErrBadRequest))
			})

			It("answers a wrong content type with InvalidRequest", func() {
				out := post("/v1/tasks/desire.r2", "application/json", []byte(`{}`))
				Expect(out.Error.GetType()).To(Equal(models.Error_InvalidRequest))
				Expect(out.Error.GetMessage()).To(ContainSubstring("application/x-protobuf"))
			})

			It("answers an oversize body with InvalidRequest", func() {
				out := post("/v1/tasks/desire.r2", "application/x-protobuf", bytes.Repeat([]byte{0}, 2<<20))
				Expect(out.Error.GetType()).To(Equal(models.Error_InvalidRequest))
				Expect(out.Error.GetMessage()).To(ContainSubstring("larger than"))
			})

			It("answers an unknown route with 404, which the client reports as endpoint not found", func() {
				resp, err := http.Post(bbs.url+"/v1/nope", "application/x-protobuf", nil)
				Expect(err).NotTo(HaveOccurred())
				resp.Body.Close()
				Expect(resp.StatusCode).To(Equal(http.StatusNotFound))
			})

			It("serves the late-2015 GET of a task by guid and honours X-Vcap-Request-Id", func() {
				Expect(client.DesireTask(ctx, "task-1", "d", taskDef())).To(Succeed())
				body, _ := proto.Marshal(&models.TaskByGuidRequest{TaskGuid: "task-1"})
				req, _ := http.NewRequest(http.MethodGet, bbs.url+"/v1/tasks/get_by_task_guid", bytes.NewReader(body))
				req.Header.Set("X-Vcap-Request-Id", "trace-123")
				resp, err := http.DefaultClient.Do(req)
				Expect(err).NotTo(HaveOccurred())
				defer resp.Body.Close()
				Expect(resp.Header.Get("X-Vcap-Request-Id")).To(Equal("trace-123"))
				raw, _ := io.ReadAll(resp.Body)
				var out models.TaskResponse
				Expect(proto.Unmarshal(raw, &out)).To(Succeed())
				Expect(out.Task.GetTaskGuid()).To(Equal("task-1"))
			})
		})

		It("streams task events", func() {
			source, err := client.SubscribeToTaskEvents(ctx)
			Expect(err).NotTo(HaveOccurred())
			defer source.Close()
			Expect(client.DesireTask(ctx, "task-1", "d", taskDef())).To(Succeed())
			_, err = client.StartTask(ctx, "task-1", "cell-1")
			Expect(err).NotTo(HaveOccurred())

			e, err := source.Next()
			Expect(err).NotTo(HaveOccurred())
			Expect(e.(*models.TaskCreatedEvent).Task.TaskGuid).To(Equal("task-1"))
			e, err = source.Next()
			Expect(err).NotTo(HaveOccurred())
			Expect(e.(*models.TaskChangedEvent).After.CellId).To(Equal("cell-1"))
		})

		It("keeps serving the event stream of another BBS instance's writes", func() {
			other := newClient(startBBS(false))
			source, err := client.SubscribeToTaskEvents(ctx)
			Expect(err).NotTo(HaveOccurred())
			defer source.Close()
			Expect(other.DesireTask(ctx, "task-2", "d", taskDef())).To(Succeed())
			e, err := source.Next()
			Expect(err).NotTo(HaveOccurred())
			Expect(e.Key()).To(Equal("task-2"))
		})
	})

	Describe("side effects", func() {
		var (
			client    *bbsclient.Client
			auctions  chan []auctioneer.TaskStartRequest
			cancelled chan string
			callbacks chan map[string]any
		)

		BeforeEach(func() {
			_, auctions = fakeAuctioneer()
			cancelled = fakeRep("cell-1")

			callbacks = make(chan map[string]any, 10)
			fakeCC := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var body map[string]any
				_ = json.NewDecoder(r.Body).Decode(&body)
				callbacks <- body
			}))
			DeferCleanup(fakeCC.Close)
			callbackURL = fakeCC.URL

			client = newClient(startBBS(false))
		})

		It("asks the auctioneer found through its lock to place a desired task", func() {
			Expect(client.DesireTask(ctx, "task-1", "d", taskDef())).To(Succeed())
			var reqs []auctioneer.TaskStartRequest
			Eventually(auctions).Should(Receive(&reqs))
			Expect(reqs).To(HaveLen(1))
			Expect(reqs[0].TaskGuid).To(Equal("task-1"))
			Expect(reqs[0].RootFs).To(Equal("preloaded:cflinuxfs4"))
		})

		It("tells the owning rep when a running task is cancelled", func() {
			Expect(client.DesireTask(ctx, "task-1", "d", taskDef())).To(Succeed())
			_, err := client.StartTask(ctx, "task-1", "cell-1")
			Expect(err).NotTo(HaveOccurred())
			Expect(client.CancelTask(ctx, "task-1")).To(Succeed())
			Eventually(cancelled).Should(Receive(Equal("/v1/tasks/task-1/cancel")))
			task, err := client.TaskByGuid(ctx, "task-1")
			Expect(err).NotTo(HaveOccurred())
			Expect(task.FailureReason).To(Equal("task was cancelled"))
		})

		It("calls a completed task's callback and then deletes the task", func() {
			def := taskDef()
			def.CompletionCallbackUrl = callbackURL
			def.Annotation = "staging"
			Expect(client.DesireTask(ctx, "task-1", "d", def)).To(Succeed())
			_, err := client.StartTask(ctx, "task-1", "cell-1")
			Expect(err).NotTo(HaveOccurred())
			Expect(client.CompleteTask(ctx, "task-1", "cell-1", true, "exit 1", "")).To(Succeed())

			var body map[string]any
			Eventually(callbacks, 5*time.Second).Should(Receive(&body))
			Expect(body).To(HaveKeyWithValue("task_guid", "task-1"))
			Expect(body).To(HaveKeyWithValue("failed", true))
			Expect(body).To(HaveKeyWithValue("failure_reason", "exit 1"))
			Expect(body).To(HaveKeyWithValue("annotation", "staging"))
			Eventually(func() models.Error_Type {
				_, err := client.TaskByGuid(ctx, "task-1")
				return models.ConvertError(err).GetType()
			}).Should(Equal(models.Error_ResourceNotFound))
		})
	})

	Describe("over mutual TLS", func() {
		var bbs *bbsProcess

		BeforeEach(func() {
			bbs = startBBS(true)
		})

		It("serves a client with a certificate from the CA", func() {
			client := newClient(bbs)
			Expect(client.Ping(ctx)).To(BeTrue())
			Expect(client.DesireTask(ctx, "task-1", "d", taskDef())).To(Succeed())
			tasks, err := client.Tasks(ctx, bbsclient.TaskFilter{})
			Expect(err).NotTo(HaveOccurred())
			Expect(tasks).To(HaveLen(1))
		})

		It("refuses a client without a certificate", func() {
			noCert, err := bbsclient.New(bbsclient.Config{URL: bbs.url, CAFile: certs.CA})
			Expect(err).NotTo(HaveOccurred())
			Expect(noCert.Ping(ctx)).To(BeFalse())
			_, err = noCert.Tasks(ctx, bbsclient.TaskFilter{})
			Expect(err).To(HaveOccurred())
		})

		It("refuses plain HTTP", func() {
			resp, err := http.Post(strings.Replace(bbs.url, "https", "http", 1)+"/v1/ping", "application/x-protobuf", nil)
			Expect(err).NotTo(HaveOccurred(), "Go's TLS server answers a plain request with 400")
			defer resp.Body.Close()
			Expect(resp.StatusCode).To(Equal(http.StatusBadRequest))
		})

		It("offers TLS 1.2 or later with an RSA certificate", func() {
			conn, err := tls.Dial("tcp", strings.TrimPrefix(bbs.url, "https://"), &tls.Config{
				InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11,
			})
			if err == nil {
				conn.Close()
			}
			Expect(err).To(HaveOccurred(), "TLS 1.1 is refused")
		})
	})

	It("refuses to start with a clear message when its config is bad", func() {
		session := runWithConfig(`{"listen_addr":"nope","max_task_retries":-1,"surprise":1}`)
		Eventually(session).Should(gexec.Exit(2))
		Expect(string(session.Err.Contents())).To(ContainSubstring(`unknown field "surprise"`))
	})
})

// callbackURL is the fake CC of the side-effect specs.
var callbackURL string

var _ = Describe("Starting without etcd", func() {
	It("answers 503 and logs what to check until etcd is reachable", func() {
		session := runWithConfig(fmt.Sprintf(`{"listen_addr":%q,"health_address":%q,"etcd":{"endpoints":["http://127.0.0.1:1"]}}`,
			ports.Addr(), ports.Addr()))
		DeferCleanup(func() { session.Interrupt(); Eventually(session, 10*time.Second).Should(gexec.Exit(0)) })
		Eventually(session.Out, 15*time.Second).Should(gbytes.Say(`waiting-for-etcd.*etcd.endpoints`))
	})
})
