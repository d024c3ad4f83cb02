package handlers_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/ccbridge/stager/handlers"
	"diego/ccbridge/stager/recipe"
	"diego/deploy/clock/fakeclock"
	"diego/receptor"
)

// fakeReceptor records what the stager asks of it.
type fakeReceptor struct {
	mu        sync.Mutex
	created   []receptor.TaskCreateRequest
	createErr error
	task      receptor.TaskResponse
	getErr    error
	cancelled []string
}

func (f *fakeReceptor) CreateTask(_ context.Context, req receptor.TaskCreateRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created = append(f.created, req)
	return f.createErr
}

func (f *fakeReceptor) GetTask(context.Context, string) (receptor.TaskResponse, error) {
	return f.task, f.getErr
}

func (f *fakeReceptor) CancelTask(_ context.Context, guid string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancelled = append(f.cancelled, guid)
	return nil
}

type fakeMetrics struct {
	mu        sync.Mutex
	counters  []string
	durations map[string]time.Duration
}

func (m *fakeMetrics) IncrementCounter(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.counters = append(m.counters, name)
}

func (m *fakeMetrics) SendDuration(name string, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.durations[name] = d
}

var _ = Describe("the stager's handlers", func() {
	var (
		rec     *fakeReceptor
		metrics *fakeMetrics
		clk     *fakeclock.FakeClock
		cc      *httptest.Server
		ccAuth  string
		handler http.Handler
	)

	BeforeEach(func() {
		rec = &fakeReceptor{}
		metrics = &fakeMetrics{durations: map[string]time.Duration{}}
		clk = fakeclock.NewFakeClock(time.Unix(1000, 0))
		cc = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ccAuth = r.Header.Get("Authorization")
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusOK)
		}))
		DeferCleanup(cc.Close)
		var err error
		handler, err = handlers.New(recipe.Config{
			CallbackURL: "http://stager", FileServerURL: "http://fs", CCUploaderURL: "http://fs",
			Lifecycles: map[string]string{"buildpack/s": "l.tgz"},
		}, handlers.CC{BaseURL: cc.URL, Username: "u", Password: "p"}, handlers.Deps{
			Logger: slog.New(slog.NewTextHandler(GinkgoWriter, nil)), Clock: clk, Receptor: rec, Metrics: metrics,
		})
		Expect(err).NotTo(HaveOccurred())
	})

	serve := func(method, path, body string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, httptest.NewRequest(method, path, strings.NewReader(body)))
		return w
	}
	const stage = `{"app_id":"a","lifecycle":"buildpack","lifecycle_data":{"app_bits_download_uri":"http://cc/bits","stack":"s",
		"buildpacks":[{"name":"b","key":"b","url":"http://fs/b.zip"}]}}`

	It("answers 202 when the receptor already has the task", func() {
		rec.createErr = receptor.NewError(receptor.TaskGuidAlreadyExists, "task already exists")
		Expect(serve(http.MethodPut, "/v1/staging/a-t", stage).Code).To(Equal(http.StatusAccepted))
	})

	It("answers 500 with a sanitised StagingError when the receptor fails", func() {
		rec.createErr = errors.New("dial tcp 10.0.0.1:8887: connection refused")
		w := serve(http.MethodPut, "/v1/staging/a-t", stage)
		Expect(w.Code).To(Equal(http.StatusInternalServerError))
		Expect(w.Body.String()).To(MatchJSON(`{"error":{"id":"StagingError","message":"staging failed"}}`))
	})

	It("replies 202 before cancelling a task it staged", func() {
		rec.task = receptor.TaskResponse{TaskGuid: "a-t", Annotation: `{"lifecycle":"buildpack"}`}
		Expect(serve(http.MethodDelete, "/v1/staging/a-t", "").Code).To(Equal(http.StatusAccepted))
		Expect(rec.cancelled).To(Equal([]string{"a-t"}))
	})

	It("answers 500 when the receptor cannot say whether the task exists", func() {
		rec.getErr = errors.New("boom")
		Expect(serve(http.MethodDelete, "/v1/staging/a-t", "").Code).To(Equal(http.StatusInternalServerError))
		Expect(rec.cancelled).To(BeEmpty())
	})

	It("counts a delivered success and failure, with the time since the task was created", func() {
		created := clk.Now().Add(-3 * time.Second).UnixNano()
		body, _ := json.Marshal(map[string]any{"task_guid": "a-t", "annotation": `{"lifecycle":"buildpack"}`,
			"result": `{"lifecycle_type":"buildpack"}`, "created_at": created})
		Expect(serve(http.MethodPost, "/v1/staging/a-t/completed", string(body)).Code).To(Equal(http.StatusOK))
		Expect(ccAuth).To(Equal("Basic dTpw"), "u:p, the configured credentials")
		body, _ = json.Marshal(map[string]any{"task_guid": "a-t", "annotation": `{"lifecycle":"buildpack"}`,
			"failed": true, "failure_reason": "Exited with status 222", "created_at": created})
		Expect(serve(http.MethodPost, "/v1/staging/a-t/completed", string(body)).Code).To(Equal(http.StatusOK))
		Expect(metrics.counters).To(Equal([]string{handlers.StagingRequestsSucceeded, handlers.StagingRequestsFailed}))
		Expect(metrics.durations).To(Equal(map[string]time.Duration{
			handlers.StagingRequestSucceededDuration: 3 * time.Second,
			handlers.StagingRequestFailedDuration:    3 * time.Second,
		}))
	})
})
