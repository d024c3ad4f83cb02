package server_test

import (
	"errors"
	"time"

	"github.com/tedsuo/ifrit/ginkgomon_v2"

	"diego/deploy/clock/fakeclock"
	"diego/garden"
	"diego/garden/gardenfakes"
	"diego/garden/server"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

type recordedMetrics struct {
	values    chan string
	durations chan string
}

func (r recordedMetrics) SendValue(name string, _ float64, _ string) { r.values <- name }
func (r recordedMetrics) SendDuration(name string, _ time.Duration)  { r.durations <- name }

var _ = Describe("garden's metrics", func() {
	var (
		backend *gardenfakes.FakeBackend
		metrics recordedMetrics
		clock   *fakeclock.FakeClock
	)

	BeforeEach(func() {
		backend = &gardenfakes.FakeBackend{}
		metrics = recordedMetrics{values: make(chan string, 100), durations: make(chan string, 100)}
		clock = fakeclock.NewFakeClock(time.Unix(0, 0))
	})

	It("times successful creates and destroys, and passes failures through unmeasured", func() {
		m := server.Metered(backend, metrics, clock)
		_, err := m.Create(garden.ContainerSpec{Handle: "h"})
		Expect(err).NotTo(HaveOccurred())
		Expect(m.Destroy("h")).To(Succeed())
		Expect(metrics.durations).To(Receive(Equal(server.ContainerCreationDuration)))
		Expect(metrics.durations).To(Receive(Equal(server.ContainerDestructionDuration)))

		backend.CreateReturns(nil, errors.New("no room"))
		_, err = m.Create(garden.ContainerSpec{})
		Expect(err).To(MatchError("no room"))
		Expect(metrics.durations).NotTo(Receive())
	})

	It("reports its gauges at start and on every interval", func() {
		backend.ContainersReturns([]garden.Container{&gardenfakes.FakeContainer{}, &gardenfakes.FakeContainer{}}, nil)
		p := ginkgomon_v2.Invoke(server.MetricsReporter{Backend: backend, Metrics: metrics, Clock: clock, Interval: time.Minute})
		defer ginkgomon_v2.Interrupt(p)
		for _, name := range []string{server.NumCPUs, server.NumGoroutines, server.DepotDirs} {
			Eventually(metrics.values).Should(Receive(Equal(name)))
		}
		Expect(clock.WatcherCount()).To(Equal(1))
		clock.Increment(time.Minute)
		Eventually(metrics.values).Should(Receive(Equal(server.NumCPUs)))
	})
})
