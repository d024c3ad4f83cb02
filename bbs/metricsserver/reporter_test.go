package metricsserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	bbsclient "diego/bbs/client"
	"diego/bbs/metricsserver"
	"diego/deploy/clock/fakeclock"
	"diego/deploy/logging"
	"diego/models"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/ginkgomon_v2"
)

type fakeBBS struct {
	mu    sync.Mutex
	tasks []*models.Task
	reads int
}

func (f *fakeBBS) Tasks(context.Context, bbsclient.TaskFilter) ([]*models.Task, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	return f.tasks, nil
}
func (f *fakeBBS) DesiredLRPSchedulingInfos(context.Context, bbsclient.DesiredLRPFilter) ([]*models.DesiredLRPSchedulingInfo, error) {
	return nil, nil
}
func (f *fakeBBS) ActualLRPs(context.Context, bbsclient.ActualLRPFilter) ([]*models.ActualLRP, error) {
	return nil, nil
}
func (f *fakeBBS) Domains(context.Context) ([]string, error)             { return []string{"cf-apps"}, nil }
func (f *fakeBBS) Cells(context.Context) ([]*models.CellPresence, error) { return nil, nil }
func (f *fakeBBS) Reads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

type fakeEmitter struct {
	mu     sync.Mutex
	values map[string]float64
	units  map[string]string
}

func (f *fakeEmitter) SendValue(name string, v float64, unit string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.values[name], f.units[name] = v, unit
}
func (f *fakeEmitter) SendDuration(name string, d time.Duration) {
	f.SendValue(name, float64(d), "nanos")
}
func (f *fakeEmitter) Value(name string) float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.values[name]
}

var _ = Describe("Reporter", func() {
	var (
		clock    *fakeclock.FakeClock
		bbs      *fakeBBS
		emitter  *fakeEmitter
		reporter *metricsserver.Reporter
		process  ifrit.Process
	)

	BeforeEach(func() {
		clock = fakeclock.NewFakeClock(time.Unix(1, 0))
		bbs = &fakeBBS{tasks: []*models.Task{{State: models.Task_Running}}}
		emitter = &fakeEmitter{values: map[string]float64{}, units: map[string]string{}}
		reporter = metricsserver.NewReporter(metricsserver.ReporterConfig{Interval: time.Minute, Timeout: time.Second},
			metricsserver.ReporterDeps{Logger: logging.Discard(), Clock: clock, BBS: bbs, Emitter: emitter})
		process = ginkgomon_v2.Invoke(reporter)
		DeferCleanup(func() { ginkgomon_v2.Interrupt(process, 5*time.Second) })
	})

	It("reports at once, then every interval, emitting gauges in Metric units", func() {
		// Latest is stored after every figure is emitted: waiting on the
		// BBS reads alone raced with the emission.
		Eventually(reporter.Latest).Should(HaveKey("TasksRunning"))
		Expect(bbs.Reads()).To(Equal(1))
		Expect(emitter.Value("TasksRunning")).To(Equal(1.0))
		Expect(emitter.units["TasksRunning"]).To(Equal("Metric"))
		Expect(emitter.units).To(HaveKeyWithValue("MetricsReportingDuration", "nanos"))

		bbs.mu.Lock()
		bbs.tasks = append(bbs.tasks, &models.Task{State: models.Task_Running})
		bbs.mu.Unlock()
		Eventually(clock.WatcherCount).Should(Equal(1))
		clock.Increment(time.Minute)
		Eventually(func() float64 { return emitter.Value("TasksRunning") }).Should(Equal(2.0))
	})

	It("serves the latest figures as JSON on /v1/metrics", func() {
		// Latest is stored after every figure is emitted: waiting on the
		// BBS reads alone raced with the emission.
		Eventually(reporter.Latest).Should(HaveKey("TasksRunning"))
		Expect(bbs.Reads()).To(Equal(1))
		handler, err := metricsserver.NewHandler(reporter)
		Expect(err).NotTo(HaveOccurred())
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/metrics", nil))
		Expect(w.Code).To(Equal(http.StatusOK))
		var figures map[string]float64
		Expect(json.Unmarshal(w.Body.Bytes(), &figures)).To(Succeed())
		Expect(figures).To(HaveKeyWithValue("TasksRunning", 1.0))
		Expect(figures).To(HaveKeyWithValue("Domain.cf-apps", 1.0))
		Expect(figures).To(HaveKey("MetricsReportingDuration"))
	})
})
