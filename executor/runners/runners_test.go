package runners_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/ginkgomon_v2"

	"diego/deploy/clock/fakeclock"
	"diego/deploy/logging"
	"diego/executor"
	"diego/executor/runners"
	"diego/garden"
	"diego/garden/gardenfakes"
	"diego/metron/emitter"
)

type sender struct {
	mu      sync.Mutex
	values  map[string]float64
	metrics []emitter.ContainerMetric
}

func (s *sender) SendValue(name string, value float64, _ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.values[name] = value
}

func (s *sender) SendContainerMetric(m emitter.ContainerMetric) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.metrics = append(s.metrics, m)
}

func (s *sender) value(name string) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.values[name]
	if !ok {
		return -1
	}
	return v
}

type depot struct {
	containers []executor.Container
	total      executor.ExecutorResources
}

func (d depot) ListContainers(executor.Tags) []executor.Container { return d.containers }
func (d depot) RemainingResources() executor.ExecutorResources {
	return executor.ExecutorResources{MemoryMB: 1, DiskMB: 2, Containers: 3}
}
func (d depot) TotalResources() executor.ExecutorResources { return d.total }

var _ = Describe("sizing the cell from garden", func() {
	capacity := garden.Capacity{MemoryInBytes: 8 << 30, DiskInBytes: 100 << 30, MaxContainers: 256}

	It("reads auto capacities from garden, keeping the cache and one slot aside", func() {
		total := runners.TotalFromGarden(capacity, runners.CapacityConfig{MaxContainers: 250, MaxCacheSizeInBytes: 10 << 30})
		Expect(total).To(Equal(executor.ExecutorResources{MemoryMB: 8192, DiskMB: 90 * 1024, Containers: 250}))
		total = runners.TotalFromGarden(garden.Capacity{MaxContainers: 10}, runners.CapacityConfig{MaxContainers: 250, MaxCacheSizeInBytes: 1})
		Expect(total.Containers).To(Equal(9), "garden's max minus the health check's slot")
		Expect(total.DiskMB).To(BeZero(), "never negative")
	})

	It("prefers configured numbers", func() {
		total := runners.TotalFromGarden(capacity, runners.CapacityConfig{MemoryMB: 100, DiskMB: 200, MaxContainers: 5})
		Expect(total).To(Equal(executor.ExecutorResources{MemoryMB: 100, DiskMB: 200, Containers: 5}))
	})

	It("waits for garden, sets the total, cleans up, and only then is ready", func() {
		clk := fakeclock.NewFakeClock(time.Unix(0, 0))
		g := &gardenfakes.FakeClient{}
		g.PingReturnsOnCall(0, errors.New("not yet"))
		g.CapacityReturns(capacity, nil)
		var total executor.ExecutorResources
		cleaned := false
		process := ifrit.Background(runners.Initializer{
			Garden: g, Clock: clk, Logger: logging.Discard(),
			Capacity: runners.CapacityConfig{MaxContainers: 250},
			SetTotal: func(t executor.ExecutorResources) { total = t },
			Cleanup:  func(*slog.Logger) error { cleaned = true; return nil },
		})
		DeferCleanup(func() { ginkgomon_v2.Interrupt(process, 5*time.Second) })
		Consistently(process.Ready(), 50*time.Millisecond).ShouldNot(BeClosed())
		Eventually(clk.WatcherCount).Should(Equal(1))
		clk.Increment(time.Second)
		Eventually(process.Ready()).Should(BeClosed())
		Expect(total.MemoryMB).To(Equal(8192))
		Expect(cleaned).To(BeTrue())
	})
})

var _ = Describe("the metrics reporter", func() {
	It("emits a ContainerMetric per running container with cpu from the change between samples", func() {
		clk := fakeclock.NewFakeClock(time.Unix(100, 0))
		g := &gardenfakes.FakeClient{}
		s := &sender{values: map[string]float64{}}
		c := executor.Container{Guid: "c1", State: executor.StateRunning, MemoryLimit: 64, DiskLimit: 128,
			RunInfo: executor.RunInfo{MetricsConfig: executor.MetricsConfig{Guid: "app", Index: 2}}}
		r := runners.NewMetricsReporter(depot{containers: []executor.Container{c}}, g, s, clk, logging.Discard())
		sample := func(cpu uint64) {
			g.BulkMetricsReturns(map[string]garden.ContainerMetricsEntry{"c1": {Metrics: garden.Metrics{
				CPUStat: garden.ContainerCPUStat{Usage: cpu}, MemoryStat: garden.ContainerMemoryStat{TotalUsageTowardLimit: 42},
				DiskStat: garden.ContainerDiskStat{TotalBytesUsed: 7}}}}, nil)
			r.ReportContainers(context.Background())
		}
		sample(1_000_000_000)
		clk.Increment(10 * time.Second)
		sample(6_000_000_000) // 5 s of cpu in 10 s
		Expect(s.metrics).To(HaveLen(2))
		Expect(s.metrics[0].CPUPercentage).To(BeZero(), "no rate on the first sample")
		Expect(s.metrics[1]).To(Equal(emitter.ContainerMetric{ApplicationID: "app", InstanceIndex: 2, CPUPercentage: 50,
			MemoryBytes: 42, DiskBytes: 7, MemoryBytesQuota: 64, DiskBytesQuota: 128}))
	})

	It("emits the capacity gauges", func() {
		s := &sender{values: map[string]float64{}}
		r := runners.NewMetricsReporter(depot{total: executor.ExecutorResources{MemoryMB: 10, DiskMB: 20, Containers: 5}},
			&gardenfakes.FakeClient{}, s, fakeclock.NewFakeClock(time.Unix(0, 0)), logging.Discard())
		r.ReportCapacity(context.Background())
		Expect(s.value("CapacityTotalMemory")).To(Equal(10.0))
		Expect(s.value("CapacityRemainingContainers")).To(Equal(3.0))
		Expect(s.value("ContainerCount")).To(Equal(2.0))
	})

	It("emits the allocated capacity and the starting containers", func() {
		s := &sender{values: map[string]float64{}}
		r := runners.NewMetricsReporter(depot{total: executor.ExecutorResources{MemoryMB: 10, DiskMB: 20, Containers: 5},
			containers: []executor.Container{{State: executor.StateReserved}, {State: executor.StateInitializing},
				{State: executor.StateCreated}, {State: executor.StateRunning}, {State: executor.StateCompleted}}},
			&gardenfakes.FakeClient{}, s, fakeclock.NewFakeClock(time.Unix(0, 0)), logging.Discard())
		r.ReportCapacity(context.Background())
		Expect(s.value("CapacityAllocatedMemory")).To(Equal(9.0))
		Expect(s.value("CapacityAllocatedDisk")).To(Equal(18.0))
		Expect(s.value("StartingContainerCount")).To(Equal(2.0))
	})
})

var _ = Describe("the garden health check", func() {
	var (
		clk *fakeclock.FakeClock
		g   *gardenfakes.FakeClient
		box *gardenfakes.FakeContainer
		p   *gardenfakes.FakeProcess
		s   *sender
		h   *runners.GardenHealth
	)

	BeforeEach(func() {
		clk = fakeclock.NewFakeClock(time.Unix(0, 0))
		g, box, p = &gardenfakes.FakeClient{}, &gardenfakes.FakeContainer{}, &gardenfakes.FakeProcess{}
		g.CreateReturns(box, nil)
		box.RunReturns(p, nil)
		s = &sender{values: map[string]float64{}}
		h = runners.NewGardenHealth(g, "", s, clk, logging.Discard())
		h.Timeout = 3 * time.Second
	})

	It("passes when a container runs ls as vcap, and destroys it", func() {
		h.Check(context.Background())
		Expect(h.Healthy()).To(Succeed())
		spec, _ := box.RunArgsForCall(0)
		Expect(spec.User).To(Equal("vcap"))
		Expect(g.DestroyCallCount()).To(Equal(1))
		Expect(s.value("CellUnhealthy")).To(Equal(0.0))
	})

	It("retries a failing check and stays healthy when it recovers", func() {
		g.CreateReturnsOnCall(0, nil, errors.New("transient"))
		done := make(chan struct{})
		go func() { h.Check(context.Background()); close(done) }()
		Eventually(clk.WatcherCount).Should(Equal(1))
		clk.Increment(time.Second)
		Eventually(done).Should(BeClosed())
		Expect(h.Healthy()).To(Succeed())
	})

	It("marks the cell unhealthy when the check keeps failing past its timeout", func() {
		p.WaitReturns(1, nil)
		done := make(chan struct{})
		go func() { h.Check(context.Background()); close(done) }()
		for range 3 { // retries at 1 s and 2 s; at 3 s the timeout has passed
			Eventually(clk.WatcherCount).Should(Equal(1))
			clk.Increment(time.Second)
		}
		Eventually(done).Should(BeClosed())
		Expect(h.Healthy()).To(MatchError(ContainSubstring("exited with status 1")))
		Expect(s.value("CellUnhealthy")).To(Equal(1.0))
	})

	It("is unhealthy while garden does not answer", func() {
		g.PingReturns(errors.New("connection refused"))
		Expect(h.Healthy()).To(MatchError(ContainSubstring("garden unreachable")))
	})
})
