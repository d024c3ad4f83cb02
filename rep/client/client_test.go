package client_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"

	"diego/deploy/routes"
	"diego/rep"
	"diego/rep/client"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Client", func() {
	var (
		server      *httptest.Server
		stateStatus int
		stopped     chan [2]string
		cancelled   chan string
		c           *client.Client
		ctx         = context.Background()
	)

	BeforeEach(func() {
		stateStatus = http.StatusOK
		stopped = make(chan [2]string, 1)
		cancelled = make(chan string, 1)
		router, err := routes.NewRouter(rep.Routes, map[string]http.Handler{
			rep.StateRoute: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(stateStatus)
				_ = json.NewEncoder(w).Encode(rep.CellState{CellID: "cell-1", Zone: "z1"})
			}),
			rep.PerformRoute: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var work rep.Work
				if err := json.NewDecoder(r.Body).Decode(&work); err != nil {
					w.WriteHeader(http.StatusBadRequest)
					return
				}
				_ = json.NewEncoder(w).Encode(rep.Work{Tasks: work.Tasks}) // every task fails
			}),
			rep.StopLRPInstanceRoute: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				stopped <- [2]string{routes.Param(r, "process_guid"), routes.Param(r, "instance_guid")}
				w.WriteHeader(http.StatusAccepted)
			}),
			rep.CancelTaskRoute: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				cancelled <- routes.Param(r, "task_guid")
				w.WriteHeader(http.StatusAccepted)
			}),
			rep.PingRoute:     http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}),
			rep.EvacuateRoute: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) }),
		})
		Expect(err).NotTo(HaveOccurred())
		server = httptest.NewServer(router)
		DeferCleanup(server.Close)
		c = client.New(http.DefaultClient, server.URL)
	})

	It("fetches the cell state", func() {
		state, err := c.State(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(state.CellID).To(Equal("cell-1"))
	})

	It("returns the state of an unhealthy cell with ErrCellUnhealthy", func() {
		stateStatus = http.StatusServiceUnavailable
		state, err := c.State(ctx)
		Expect(err).To(MatchError(client.ErrCellUnhealthy))
		Expect(state.Zone).To(Equal("z1"))
	})

	It("performs work and returns what failed", func() {
		failed, err := c.Perform(ctx, rep.Work{Tasks: []rep.Task{{TaskGuid: "t"}}, LRPs: []rep.LRP{{ProcessGuid: "p"}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(failed.Tasks).To(HaveLen(1))
		Expect(failed.LRPs).To(BeEmpty())
	})

	It("stops an instance and cancels a task, escaping the guids", func() {
		Expect(c.StopLRPInstance(ctx, "pg/1", "ig")).To(Succeed())
		Expect(<-stopped).To(Equal([2]string{"pg/1", "ig"}))
		Expect(c.CancelTask(ctx, "tg")).To(Succeed())
		Expect(<-cancelled).To(Equal("tg"))
	})

	It("pings, and reports an unexpected status", func() {
		Expect(c.Ping(ctx)).To(Succeed())
		Expect(c.Evacuate(ctx)).To(MatchError(ContainSubstring("status 500")))
	})
})
