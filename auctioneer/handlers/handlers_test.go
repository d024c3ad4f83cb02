package handlers_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/auctioneer"
	"diego/auctioneer/client"
	"diego/auctioneer/handlers"
	"diego/auctioneer/handlers/handlersfakes"
	"diego/deploy/logging"
	"diego/rep"
)

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

var _ = Describe("The auctioneer API", func() {
	var (
		runner  *handlersfakes.FakeRunner
		handler http.Handler
	)

	BeforeEach(func() {
		runner = &handlersfakes.FakeRunner{}
		var err error
		handler, err = handlers.New(handlers.Deps{Logger: logging.Discard(), Runner: runner})
		Expect(err).NotTo(HaveOccurred())
	})

	serve := func(method, path string, body io.Reader) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(method, path, body))
		return rec
	}

	Describe("POST /v1/lrps", func() {
		It("queues the valid requests and answers 202 {}", func() {
			rec := serve(http.MethodPost, "/v1/lrps", strings.NewReader(`[
				{"process_guid":"pg","domain":"d","indices":[0,2],"MemoryMB":128,"DiskMB":256,"RootFs":"preloaded:linux","PlacementTags":["a"]},
				{"process_guid":"","domain":"d","indices":[0],"RootFs":"preloaded:linux"},
				{"process_guid":"pg2","domain":"d","indices":[],"RootFs":"preloaded:linux"},
				{"process_guid":"pg3","domain":"d","indices":[1],"MemoryMB":-1,"RootFs":"preloaded:linux"},
				{"process_guid":"pg4","domain":"d","indices":[1]},
				null
			]`))
			Expect(rec.Code).To(Equal(http.StatusAccepted))
			Expect(rec.Body.String()).To(MatchJSON(`{}`))
			Expect(rec.Header().Get("Content-Type")).To(Equal("application/json"))

			Expect(runner.AddCallCount()).To(Equal(1))
			lrps, tasks := runner.AddArgsForCall(0)
			Expect(tasks).To(BeEmpty())
			Expect(lrps).To(HaveLen(1))
			Expect(lrps[0].ProcessGuid).To(Equal("pg"))
			Expect(lrps[0].Domain).To(Equal("d"))
			Expect(lrps[0].Indices).To(Equal([]int{0, 2}))
			Expect(lrps[0].MemoryMB).To(BeEquivalentTo(128))
			Expect(lrps[0].DiskMB).To(BeEquivalentTo(256))
			Expect(lrps[0].RootFs).To(Equal("preloaded:linux"))
			Expect(lrps[0].PlacementTags).To(Equal([]string{"a"}))
		})

		It("answers 202 and queues nothing when every entry is invalid", func() {
			rec := serve(http.MethodPost, "/v1/lrps", strings.NewReader(`[{"process_guid":"pg"}]`))
			Expect(rec.Code).To(Equal(http.StatusAccepted))
			Expect(runner.AddCallCount()).To(BeZero())
		})

		It("answers 400 with the parse error for an unparseable body", func() {
			rec := serve(http.MethodPost, "/v1/lrps", strings.NewReader(`{"not":"an array"`))
			Expect(rec.Code).To(Equal(http.StatusBadRequest))
			var body map[string]string
			Expect(jsonDecode(rec.Body, &body)).To(Succeed())
			Expect(body).To(HaveKey("error"))
			Expect(body["error"]).NotTo(BeEmpty())
			Expect(runner.AddCallCount()).To(BeZero())
		})

		It("answers 500 with the error for an unreadable body", func() {
			rec := serve(http.MethodPost, "/v1/lrps", failingReader{})
			Expect(rec.Code).To(Equal(http.StatusInternalServerError))
			Expect(rec.Body.String()).To(MatchJSON(`{"error":"connection reset"}`))
			Expect(runner.AddCallCount()).To(BeZero())
		})
	})

	Describe("POST /v1/tasks", func() {
		It("queues the valid requests and answers 202 {}", func() {
			rec := serve(http.MethodPost, "/v1/tasks", strings.NewReader(`[
				{"TaskGuid":"t1","Domain":"d","MemoryMB":64,"DiskMB":32,"RootFs":"docker:///busybox","VolumeDrivers":["nfs"],"state":1,"failed":false},
				{"TaskGuid":"","Domain":"d","RootFs":"docker:///busybox"},
				{"TaskGuid":"t3","Domain":"d"},
				{"TaskGuid":"t4","Domain":"d","DiskMB":-5,"RootFs":"docker:///busybox"}
			]`))
			Expect(rec.Code).To(Equal(http.StatusAccepted))
			Expect(rec.Body.String()).To(MatchJSON(`{}`))

			Expect(runner.AddCallCount()).To(Equal(1))
			lrps, tasks := runner.AddArgsForCall(0)
			Expect(lrps).To(BeEmpty())
			Expect(tasks).To(HaveLen(1))
			Expect(tasks[0].TaskGuid).To(Equal("t1"))
			Expect(tasks[0].Domain).To(Equal("d"))
			Expect(tasks[0].MemoryMB).To(BeEquivalentTo(64))
			Expect(tasks[0].RootFs).To(Equal("docker:///busybox"))
			Expect(tasks[0].VolumeDrivers).To(Equal([]string{"nfs"}))
		})

		It("answers 400 for an unparseable body", func() {
			rec := serve(http.MethodPost, "/v1/tasks", strings.NewReader(`[{"TaskGuid":`))
			Expect(rec.Code).To(Equal(http.StatusBadRequest))
			Expect(rec.Body.String()).To(ContainSubstring(`"error":`))
			Expect(runner.AddCallCount()).To(BeZero())
		})

		It("answers 500 for an unreadable body", func() {
			rec := serve(http.MethodPost, "/v1/tasks", failingReader{})
			Expect(rec.Code).To(Equal(http.StatusInternalServerError))
			Expect(rec.Body.String()).To(MatchJSON(`{"error":"connection reset"}`))
		})
	})

	It("speaks the protocol of the auctioneer client the BBS uses", func() {
		server := httptest.NewServer(handler)
		defer server.Close()
		c := client.New(server.Client(), server.URL)
		lrp := auctioneer.LRPStartRequest{ProcessGuid: "pg", Domain: "d", Indices: []int{3},
			Resource: rep.NewResource(1, 1, 1), PlacementConstraint: rep.NewPlacementConstraint("preloaded:linux", nil, nil)}
		Expect(c.RequestLRPAuctions(context.Background(), []*auctioneer.LRPStartRequest{&lrp})).To(Succeed())
		t := auctioneer.TaskStartRequest{Task: rep.Task{TaskGuid: "t", Domain: "d", PlacementConstraint: lrp.PlacementConstraint}}
		Expect(c.RequestTaskAuctions(context.Background(), []*auctioneer.TaskStartRequest{&t})).To(Succeed())

		Expect(runner.AddCallCount()).To(Equal(2))
		lrps, _ := runner.AddArgsForCall(0)
		Expect(lrps).To(Equal([]auctioneer.LRPStartRequest{lrp}))
		_, tasks := runner.AddArgsForCall(1)
		Expect(tasks).To(Equal([]auctioneer.TaskStartRequest{t}))
	})

	It("serves exactly the routes of the auctioneer's route table", func() {
		Expect(auctioneer.Routes).To(HaveLen(2))
		Expect(serve(http.MethodGet, "/v1/tasks", nil).Code).To(Equal(http.StatusMethodNotAllowed))
		Expect(serve(http.MethodPost, "/v1/other", strings.NewReader("[]")).Code).To(Equal(http.StatusNotFound))
	})
})
