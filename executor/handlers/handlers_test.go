package handlers_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"

	"diego/deploy/clock/fakeclock"
	"diego/deploy/logging"
	"diego/executor"
	"diego/executor/client"
	"diego/executor/depot"
	"diego/executor/depot/depotfakes"
	"diego/executor/handlers"
	"diego/garden"
	"diego/garden/gardenfakes"
	"diego/models"
)

type health struct{ err error }

func (h *health) Healthy() error { return h.err }

// The API is tested through its client, against a real depot over fake
// garden and steps: both sides of the wire in one place.
var _ = Describe("the executor API", func() {
	var (
		gardenClient *gardenfakes.FakeClient
		gardenBox    *gardenfakes.FakeContainer
		steps        *depotfakes.FakeStepsBuilder
		hub          *depot.Hub
		h            *health
		server       *httptest.Server
		c            *client.Client
	)

	BeforeEach(func() {
		gardenClient = &gardenfakes.FakeClient{}
		gardenBox = &gardenfakes.FakeContainer{}
		gardenClient.CreateReturns(gardenBox, nil)
		gardenClient.LookupReturns(gardenBox, nil)
		steps = &depotfakes.FakeStepsBuilder{}
		steps.StepsRunnerReturns(ifrit.RunFunc(func(signals <-chan os.Signal, ready chan<- struct{}) error {
			close(ready)
			<-signals
			return errors.New("cancelled")
		}), nil)
		hub = depot.NewHub()
		h = &health{}
		d := depot.New(depot.Config{CellID: "cell", OwnerName: "executor",
			Total: executor.ExecutorResources{MemoryMB: 1024, DiskMB: 1024, Containers: 2}, ReservedExpiration: time.Minute},
			depot.Deps{Logger: logging.Discard(), Clock: fakeclock.NewFakeClock(time.Unix(1, 0)), Garden: gardenClient,
				Steps: steps, AppLog: &depotfakes.FakeAppLog{}, Metrics: &depotfakes.FakeMetrics{}, Hub: hub})
		handler, err := handlers.New(handlers.Deps{Logger: logging.Discard(), Depot: d, Health: h, Hub: hub})
		Expect(err).NotTo(HaveOccurred())
		server = httptest.NewServer(handler)
		DeferCleanup(server.Close)
		DeferCleanup(hub.Close)
		c = client.New(server.URL, 5*time.Second)
	})

	It("pings, and answers 503 while unhealthy", func() {
		Expect(c.Ping()).To(Succeed())
		h.err = errors.New("garden health check failed")
		Expect(c.Ping()).To(MatchError(ContainSubstring("503")))
	})

	It("allocates, lists by tag, gets, runs, stops and deletes, streaming events", func() {
		events, err := c.SubscribeToEvents()
		Expect(err).NotTo(HaveOccurred())
		defer events.Close()

		failures, err := c.AllocateContainers([]executor.AllocationRequest{
			{Guid: "a", Resource: executor.Resource{MemoryMB: 512}, Tags: executor.Tags{"kind": "task"}},
			{Guid: "b", Resource: executor.Resource{MemoryMB: 600}},
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(failures).To(HaveLen(1))
		Expect(failures[0].Guid).To(Equal("b"))
		Expect(failures[0].ErrorMsg).To(Equal("insufficient resources available"))

		e, err := events.Next()
		Expect(err).NotTo(HaveOccurred())
		Expect(e.Type).To(Equal(executor.EventTypeContainerReserved))
		Expect(e.Container.Guid).To(Equal("a"))

		listed, err := c.ListContainers(executor.Tags{"kind": "task"})
		Expect(err).NotTo(HaveOccurred())
		Expect(listed).To(HaveLen(1))
		listed, err = c.ListContainers(executor.Tags{"kind": "lrp"})
		Expect(err).NotTo(HaveOccurred())
		Expect(listed).To(BeEmpty())

		remaining, err := c.RemainingResources()
		Expect(err).NotTo(HaveOccurred())
		Expect(remaining).To(Equal(executor.ExecutorResources{MemoryMB: 512, DiskMB: 1024, Containers: 1}))
		total, err := c.TotalResources()
		Expect(err).NotTo(HaveOccurred())
		Expect(total.Containers).To(Equal(2))

		Expect(c.RunContainer(executor.RunRequest{Guid: "a", RunInfo: executor.RunInfo{
			Action: &models.Action{RunAction: &models.RunAction{Path: "/bin/true", User: "vcap"}}}})).To(Succeed())
		e, err = events.Next()
		Expect(err).NotTo(HaveOccurred())
		Expect(e.Type).To(Equal(executor.EventTypeContainerRunning))
		got, err := c.GetContainer("a")
		Expect(err).NotTo(HaveOccurred())
		Expect(got.State).To(Equal(executor.StateRunning))
		Expect(got.Action.GetRunAction().GetPath()).To(Equal("/bin/true"), "actions survive the JSON round trip")

		Expect(c.StopContainer("a")).To(Succeed())
		e, err = events.Next()
		Expect(err).NotTo(HaveOccurred())
		Expect(e.Type).To(Equal(executor.EventTypeContainerComplete))
		Expect(e.Container.RunResult.Stopped).To(BeTrue())

		Expect(c.DeleteContainer("a")).To(Succeed())
		_, err = c.GetContainer("a")
		Expect(err).To(MatchError(executor.ErrContainerNotFound))
	})

	It("names errors in X-Executor-Error with the spec's statuses", func() {
		resp, err := http.Get(server.URL + "/containers/nope")
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusNotFound))
		Expect(resp.Header.Get("X-Executor-Error")).To(Equal("ContainerNotFound"))

		_, err = c.AllocateContainers([]executor.AllocationRequest{{Guid: "x"}})
		Expect(err).NotTo(HaveOccurred())
		Expect(c.RunContainer(executor.RunRequest{Guid: "x"})).To(MatchError(executor.ErrStepsInvalid))
		resp, err = http.Post(server.URL+"/containers/x/run", "application/json", strings.NewReader("{bad"))
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusBadRequest))
		Expect(resp.Header.Get("X-Executor-Error")).To(Equal("StepsInvalid"))

		resp, err = http.Post(server.URL+"/containers", "application/json", strings.NewReader("not json"))
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusBadRequest))
		Expect(c.StopContainer("nope")).To(MatchError(executor.ErrContainerNotFound))
	})

	It("streams files and reports metrics through garden", func() {
		_, err := c.AllocateContainers([]executor.AllocationRequest{{Guid: "f", Resource: executor.Resource{MemoryMB: 1}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(c.RunContainer(executor.RunRequest{Guid: "f", RunInfo: executor.RunInfo{
			Action: &models.Action{RunAction: &models.RunAction{Path: "/bin/true", User: "vcap"}}}})).To(Succeed())
		Eventually(func() executor.State { got, _ := c.GetContainer("f"); return got.State }).Should(Equal(executor.StateRunning))

		gardenBox.StreamOutReturns(io.NopCloser(strings.NewReader("tar-bytes")), nil)
		stream, err := c.GetFiles("f", "/tmp/result")
		Expect(err).NotTo(HaveOccurred())
		body, _ := io.ReadAll(stream)
		Expect(string(body)).To(Equal("tar-bytes"))
		Expect(gardenBox.StreamOutArgsForCall(0).Path).To(Equal("/tmp/result"))

		gardenClient.BulkMetricsReturns(map[string]garden.ContainerMetricsEntry{"f": {Metrics: garden.Metrics{
			MemoryStat: garden.ContainerMemoryStat{TotalUsageTowardLimit: 1234}, CPUStat: garden.ContainerCPUStat{Usage: 99}}}}, nil)
		m, err := c.GetMetrics("f")
		Expect(err).NotTo(HaveOccurred())
		Expect(m.MemoryUsageInBytes).To(BeEquivalentTo(1234))
		Expect(m.TimeSpentInCPU).To(BeEquivalentTo(99))
		all, err := c.GetAllMetrics()
		Expect(err).NotTo(HaveOccurred())
		Expect(all).To(HaveKey("f"))
	})
})
