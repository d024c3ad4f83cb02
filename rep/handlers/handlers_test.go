package handlers_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"diego/deploy/logging"
	"diego/rep"
	repclient "diego/rep/client"
	"diego/rep/evacuator"
	"diego/rep/handlers"
	"diego/rep/handlers/handlersfakes"
)

var _ = Describe("Handlers", func() {
	var (
		fakeCellRep  *handlersfakes.FakeCellRep
		fakeExecutor *handlersfakes.FakeExecutorClient
		flag         *evacuator.Flag
		logs         *gbytes.Buffer
		server       *httptest.Server
		client       *repclient.Client
	)

	BeforeEach(func() {
		fakeCellRep = new(handlersfakes.FakeCellRep)
		fakeExecutor = new(handlersfakes.FakeExecutorClient)
		flag = evacuator.NewFlag()
		logs = gbytes.NewBuffer()
		handler, err := handlers.New(handlers.Deps{
			Logger: logging.New(logs, -8, "rep"), CellRep: fakeCellRep, Executor: fakeExecutor, Evacuation: flag,
		})
		Expect(err).NotTo(HaveOccurred())
		server = httptest.NewServer(handler)
		DeferCleanup(server.Close)
		client = repclient.New(http.DefaultClient, server.URL)
	})

	request := func(method, path, body string) (int, string) {
		req, err := http.NewRequest(method, server.URL+path, strings.NewReader(body))
		Expect(err).NotTo(HaveOccurred())
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		text, err := io.ReadAll(resp.Body)
		Expect(err).NotTo(HaveOccurred())
		return resp.StatusCode, string(text)
	}

	Describe("GET /state", func() {
		state := rep.CellState{CellID: "cell-1", Zone: "z1", TotalResources: rep.Resources{MemoryMB: 10}}

		It("answers 200 with the cell state", func() {
			fakeCellRep.StateReturns(state, true, nil)
			got, err := client.State(context.Background())
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(state))
			Expect(fakeCellRep.StateArgsForCall(0)).NotTo(BeNil())
		})

		It("answers 503 with the same body when the cell is unhealthy", func() {
			fakeCellRep.StateReturns(state, false, nil)
			status, body := request(http.MethodGet, "/state", "")
			Expect(status).To(Equal(http.StatusServiceUnavailable))
			expected, _ := json.Marshal(state)
			Expect(body).To(MatchJSON(expected))

			got, err := client.State(context.Background())
			Expect(err).To(MatchError(repclient.ErrCellUnhealthy))
			Expect(got).To(Equal(state))
		})

		It("answers 500 when the state cannot be computed", func() {
			fakeCellRep.StateReturns(rep.CellState{}, false, errors.New("executor unreachable"))
			status, body := request(http.MethodGet, "/state", "")
			Expect(status).To(Equal(http.StatusInternalServerError))
			Expect(body).To(ContainSubstring("executor unreachable"))
		})
	})

	Describe("POST /work", func() {
		work := rep.Work{
			CellID: "cell-1",
			LRPs: []rep.LRP{{ProcessGuid: "pg", Index: 2, Domain: "d",
				PlacementConstraint: rep.NewPlacementConstraint("preloaded:cflinuxfs4", []string{}, []string{}),
				Resource:            rep.NewResource(128, 256, 0)}},
			Tasks: []rep.Task{{TaskGuid: "tg", Domain: "d",
				PlacementConstraint: rep.NewPlacementConstraint("docker:///busybox", []string{}, []string{})}},
		}

		It("performs the work and answers 200 with what failed", func() {
			failed := rep.Work{LRPs: []rep.LRP{}, Tasks: work.Tasks}
			fakeCellRep.PerformReturns(failed, nil)
			got, err := client.Perform(context.Background(), work)
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(failed))

			Expect(fakeCellRep.PerformCallCount()).To(Equal(1))
			logger, received := fakeCellRep.PerformArgsForCall(0)
			Expect(logger).NotTo(BeNil())
			Expect(received).To(Equal(work))
		})

		It("answers 400 for a bad body", func() {
			status, _ := request(http.MethodPost, "/work", `{"LRPs": "nope"`)
			Expect(status).To(Equal(http.StatusBadRequest))
			status, _ = request(http.MethodPost, "/work", `[1,2]`)
			Expect(status).To(Equal(http.StatusBadRequest))
			Expect(fakeCellRep.PerformCallCount()).To(BeZero())
		})

		It("answers 400 for a body over the limit", func() {
			huge := `{"LRPs":[],"cell_id":"` + strings.Repeat("x", 33<<20) + `"}`
			status, _ := request(http.MethodPost, "/work", huge)
			Expect(status).To(Equal(http.StatusBadRequest))
			Expect(fakeCellRep.PerformCallCount()).To(BeZero())
		})

		It("answers 500 when perform fails (cell id mismatch, executor error)", func() {
			fakeCellRep.PerformReturns(rep.Work{}, errors.New("work is for another cell"))
			status, body := request(http.MethodPost, "/work", `{"cell_id":"cell-2"}`)
			Expect(status).To(Equal(http.StatusInternalServerError))
			Expect(body).To(ContainSubstring("another cell"))
		})
	})

	Describe("POST /v1/lrps/:process_guid/instances/:instance_guid/stop", func() {
		It("stops the instance's container and answers 202", func() {
			Expect(client.StopLRPInstance(context.Background(), "pg-1", "ig-1")).To(Succeed())
			Expect(fakeExecutor.StopContainerCallCount()).To(Equal(1))
			Expect(fakeExecutor.StopContainerArgsForCall(0)).To(Equal("ig-1"))
		})

		It("answers 500 when the executor fails", func() {
			fakeExecutor.StopContainerReturns(errors.New("container not found"))
			status, _ := request(http.MethodPost, "/v1/lrps/pg-1/instances/ig-1/stop", "")
			Expect(status).To(Equal(http.StatusInternalServerError))
		})

		It("answers 400 when a param is missing", func() {
			rec := httptest.NewRecorder()
			handlers.StopLRPInstanceHandler(logging.Discard(), fakeExecutor).ServeHTTP(rec,
				httptest.NewRequest(http.MethodPost, "/v1/lrps//instances/ig-1/stop", nil))
			Expect(rec.Code).To(Equal(http.StatusBadRequest))
			Expect(fakeExecutor.StopContainerCallCount()).To(BeZero())
		})
	})

	Describe("POST /v1/tasks/:task_guid/cancel", func() {
		It("answers 202 at once and deletes the task's container on the side", func() {
			release := make(chan struct{})
			fakeExecutor.DeleteContainerStub = func(string) error {
				<-release
				return nil
			}
			Expect(client.CancelTask(context.Background(), "tg-1")).To(Succeed())
			Eventually(fakeExecutor.DeleteContainerCallCount).Should(Equal(1))
			Expect(fakeExecutor.DeleteContainerArgsForCall(0)).To(Equal("tg-1"))
			close(release)
			Eventually(logs).Should(gbytes.Say("deleted-container"))
		})

		It("logs a failed delete", func() {
			fakeExecutor.DeleteContainerReturns(errors.New("boom"))
			status, _ := request(http.MethodPost, "/v1/tasks/tg-2/cancel", "")
			Expect(status).To(Equal(http.StatusAccepted))
			Eventually(logs).Should(gbytes.Say("failed-to-delete-container"))
		})
	})

	It("answers GET /ping with 200", func() {
		Expect(client.Ping(context.Background())).To(Succeed())
	})

	It("starts evacuating on POST /evacuate and points at /ping", func() {
		status, body := request(http.MethodPost, "/evacuate", "")
		Expect(status).To(Equal(http.StatusAccepted))
		Expect(body).To(MatchJSON(`{"ping_path":"/ping"}`))
		Expect(flag.Evacuating()).To(BeTrue())
		Expect(client.Evacuate(context.Background())).To(Succeed())
	})

	It("serves nothing else", func() {
		for _, path := range []string{"/container_metrics", "/sim/reset", "/v2/lrps/pg/instances/ig"} {
			status, _ := request(http.MethodGet, path, "")
			Expect(status).To(Equal(http.StatusNotFound), path)
		}
		status, _ := request(http.MethodPost, "/state", "")
		Expect(status).To(Equal(http.StatusMethodNotAllowed))
	})
})
