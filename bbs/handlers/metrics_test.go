package handlers_test

import (
	"context"
	"net/http/httptest"

	"diego/bbs"
	"diego/models"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("Metrics", func() {
	var f *fixture

	BeforeEach(func() { f = newFixture() })

	It("counts requests and reports the largest latency once a second", func() {
		var resp models.TasksResponse
		f.call(bbs.TasksRoute, &models.TasksRequest{}, &resp)
		f.call(bbs.TasksRoute, &models.TasksRequest{}, &resp)
		Expect(f.metrics.IncrementCounterCallCount()).To(Equal(2))
		Expect(f.metrics.IncrementCounterArgsForCall(0)).To(Equal("RequestCount"))
		Expect(f.metrics.SendDurationCallCount()).To(Equal(1), "the fake clock stands still: one report for the first second")
		name, _ := f.metrics.SendDurationArgsForCall(0)
		Expect(name).To(Equal("RequestLatency"))
	})

	It("does not time event streams: their length is the subscriber's", func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		f.server.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/events", nil).WithContext(ctx))
		Expect(f.metrics.IncrementCounterArgsForCall(0)).To(Equal("RequestCount"))
		Expect(f.metrics.SendDurationCallCount()).To(BeZero())
	})

	It("counts started, succeeded and failed tasks", func() {
		f.tasks.StartTaskReturns(nil, nil, true, nil)
		var start models.StartTaskResponse
		f.call(bbs.StartTaskRoute, &models.StartTaskRequest{TaskGuid: "t", CellId: "c"}, &start)
		var done models.TaskLifecycleResponse
		f.call(bbs.CompleteTaskRoute, &models.CompleteTaskRequest{TaskGuid: "t", CellId: "c", Failed: true}, &done)
		var names []string
		for i := 0; i < f.metrics.IncrementCounterCallCount(); i++ {
			names = append(names, f.metrics.IncrementCounterArgsForCall(i))
		}
		Expect(names).To(ContainElements("TasksStarted", "TasksFailed"))
	})

	It("emits the task convergence gauges", func() {
		f.tasks.ConvergenceTasksReturns([]*models.Task{{State: models.Task_Pending, CreatedAt: 1, UpdatedAt: 1}}, 0, nil)
		var resp models.ConvergeTasksResponse
		f.call(bbs.ConvergeTasksRoute, &models.ConvergeTasksRequest{KickTaskDuration: 1e12, ExpirePendingTaskDuration: 1e12, ExpireCompletedTaskDuration: 1e12}, &resp)
		Expect(resp.Error).To(BeNil())
		gauges := map[string]float64{}
		for i := 0; i < f.metrics.SendValueCallCount(); i++ {
			name, v, unit := f.metrics.SendValueArgsForCall(i)
			Expect(unit).To(Equal("Metric"))
			gauges[name] = v
		}
		Expect(gauges).To(HaveKeyWithValue("TasksPending", 1.0))
		Expect(gauges).To(HaveKeyWithValue("TasksRunning", 0.0))
	})

	It("reports -1 task gauges when the pass cannot read the tasks", func() {
		f.tasks.ConvergenceTasksReturns(nil, 0, models.NewError(models.Error_UnknownError, "etcd down"))
		var resp models.ConvergeTasksResponse
		f.call(bbs.ConvergeTasksRoute, &models.ConvergeTasksRequest{KickTaskDuration: 1e12, ExpirePendingTaskDuration: 1e12, ExpireCompletedTaskDuration: 1e12}, &resp)
		Expect(resp.Error.GetType()).To(Equal(models.Error_UnknownError))
		gauges := map[string]float64{}
		for i := 0; i < f.metrics.SendValueCallCount(); i++ {
			name, v, _ := f.metrics.SendValueArgsForCall(i)
			gauges[name] = v
		}
		Expect(gauges).To(Equal(map[string]float64{"TasksPending": -1, "TasksRunning": -1, "TasksCompleted": -1, "TasksResolving": -1}))
	})
})
