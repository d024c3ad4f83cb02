package client_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"

	"diego/auctioneer"
	"diego/auctioneer/client"
	"diego/deploy/routes"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Client", func() {
	var (
		server *httptest.Server
		lrps   chan []auctioneer.LRPStartRequest
		tasks  chan []auctioneer.TaskStartRequest
		status int
		c      *client.Client
	)

	BeforeEach(func() {
		lrps = make(chan []auctioneer.LRPStartRequest, 1)
		tasks = make(chan []auctioneer.TaskStartRequest, 1)
		status = http.StatusAccepted
		router, err := routes.NewRouter(auctioneer.Routes, map[string]http.Handler{
			auctioneer.CreateLRPAuctionsRoute: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var body []auctioneer.LRPStartRequest
				Expect(json.NewDecoder(r.Body).Decode(&body)).To(Succeed())
				lrps <- body
				w.WriteHeader(status)
				_, _ = w.Write([]byte(`{"error":"queue full"}`))
			}),
			auctioneer.CreateTaskAuctionsRoute: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var body []auctioneer.TaskStartRequest
				Expect(json.NewDecoder(r.Body).Decode(&body)).To(Succeed())
				tasks <- body
				w.WriteHeader(status)
			}),
		})
		Expect(err).NotTo(HaveOccurred())
		server = httptest.NewServer(router)
		DeferCleanup(server.Close)
		c = client.New(http.DefaultClient, server.URL)
	})

	It("posts LRP auctions", func() {
		req := &auctioneer.LRPStartRequest{ProcessGuid: "pg", Domain: "d", Indices: []int{0, 1}}
		Expect(c.RequestLRPAuctions(context.Background(), []*auctioneer.LRPStartRequest{req})).To(Succeed())
		Expect(<-lrps).To(Equal([]auctioneer.LRPStartRequest{*req}))
	})

	It("posts task auctions", func() {
		req := &auctioneer.TaskStartRequest{}
		req.TaskGuid = "tg"
		Expect(c.RequestTaskAuctions(context.Background(), []*auctioneer.TaskStartRequest{req})).To(Succeed())
		Expect((<-tasks)[0].TaskGuid).To(Equal("tg"))
	})

	It("reports a refusal with its status and message", func() {
		status = http.StatusBadRequest
		err := c.RequestLRPAuctions(context.Background(), nil)
		Expect(err).To(MatchError(ContainSubstring("status 400: queue full")))
	})

	It("reports an unreachable auctioneer", func() {
		server.Close()
		Expect(c.RequestTaskAuctions(context.Background(), nil)).To(HaveOccurred())
	})
})
