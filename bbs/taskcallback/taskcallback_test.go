package taskcallback_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"diego/bbs/taskcallback"
	"diego/deploy/logging"
	"diego/models"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/ginkgomon_v2"
)

// fakeStore records what the pool did to each task.
type fakeStore struct {
	mu           sync.Mutex
	resolving    []string
	deleted      []string
	resolvingErr error
}

func (f *fakeStore) ResolvingTask(_ context.Context, _ *slog.Logger, guid string) (*models.Task, *models.Task, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resolving = append(f.resolving, guid)
	return nil, nil, f.resolvingErr
}

func (f *fakeStore) DeleteTask(_ context.Context, _ *slog.Logger, guid string) (*models.Task, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, guid)
	return nil, nil
}

func (f *fakeStore) Deleted() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.deleted...)
}

func (f *fakeStore) Resolving() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.resolving...)
}

var _ = Describe("Pool", func() {
	var (
		store    *fakeStore
		statuses chan int
		hits     atomic.Int32
		bodies   chan map[string]any
		server   *httptest.Server
		pool     *taskcallback.Pool
		process  ifrit.Process
	)

	task := func(url string) *models.Task {
		return &models.Task{TaskGuid: "t1", Failed: true, FailureReason: "boom", Result: "r", CreatedAt: 7,
			TaskDefinition: &models.TaskDefinition{CompletionCallbackUrl: url, Annotation: "note"}}
	}

	BeforeEach(func() {
		store = &fakeStore{}
		statuses = make(chan int, 10)
		bodies = make(chan map[string]any, 10)
		hits.Store(0)
		server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			var body map[string]any
			Expect(json.NewDecoder(r.Body).Decode(&body)).To(Succeed())
			Expect(r.Header.Get("Content-Type")).To(Equal("application/json"))
			bodies <- body
			w.WriteHeader(<-statuses)
		}))
		DeferCleanup(server.Close)
		pool = taskcallback.New(taskcallback.Config{Workers: 2},
			taskcallback.Deps{Logger: logging.Discard(), Store: store, HTTPClient: &http.Client{Timeout: 2 * time.Second}})
		process = ginkgomon_v2.Invoke(pool)
		DeferCleanup(func() { ginkgomon_v2.Interrupt(process, 5*time.Second) })
	})

	It("resolves, posts the TaskCallbackResponse and deletes", func() {
		statuses <- http.StatusOK
		pool.Submit(task(server.URL))
		Eventually(store.Deleted).Should(Equal([]string{"t1"}))
		Expect(store.Resolving()).To(Equal([]string{"t1"}))
		Expect(<-bodies).To(Equal(map[string]any{"task_guid": "t1", "failed": true, "failure_reason": "boom",
			"result": "r", "annotation": "note", "created_at": float64(7)}))
	})

	It("retries 503 and 504, then deletes on any other status, even an error status", func() {
		statuses <- http.StatusServiceUnavailable
		statuses <- http.StatusGatewayTimeout
		statuses <- http.StatusInternalServerError
		pool.Submit(task(server.URL))
		Eventually(store.Deleted).Should(Equal([]string{"t1"}))
		Expect(hits.Load()).To(Equal(int32(3)))
	})

	It("gives up after three attempts and leaves the task resolving", func() {
		for i := 0; i < 3; i++ {
			statuses <- http.StatusServiceUnavailable
		}
		pool.Submit(task(server.URL))
		Eventually(hits.Load).Should(Equal(int32(3)))
		Consistently(store.Deleted, 200*time.Millisecond).Should(BeEmpty())
	})

	It("does not post when someone else is resolving the task", func() {
		store.resolvingErr = errors.New("conflict")
		pool.Submit(task(server.URL))
		Eventually(store.Resolving).Should(HaveLen(1))
		Consistently(hits.Load, 200*time.Millisecond).Should(BeZero())
	})

	It("stops on a transport error that is not retryable", func() {
		pool.Submit(task("http://127.0.0.1:1/unreachable"))
		Eventually(store.Resolving).Should(HaveLen(1))
		Consistently(store.Deleted, 200*time.Millisecond).Should(BeEmpty())
	})

	It("ignores tasks without a callback URL", func() {
		pool.Submit(task(""))
		Consistently(store.Resolving, 200*time.Millisecond).Should(BeEmpty())
	})
})
