package doppler_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/protobuf/proto"

	"diego/deploy/clock/fakeclock"
	"diego/metron"
	"diego/metron/client"
	"diego/metron/doppler"
	"diego/metron/events"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

const secret = "shh"

func logEnv(app, msg string, ts int64, index string) *events.Envelope {
	return &events.Envelope{
		Origin: proto.String("executor"), EventType: events.Envelope_LogMessage.Enum(), Timestamp: proto.Int64(ts),
		LogMessage: &events.LogMessage{Message: []byte(msg), MessageType: events.LogMessage_OUT.Enum(), Timestamp: proto.Int64(ts),
			AppId: proto.String(app), SourceType: proto.String("APP"), SourceInstance: proto.String(index)},
	}
}

func metricEnv(app string, index int32, cpu float64) *events.Envelope {
	return &events.Envelope{
		Origin: proto.String("executor"), EventType: events.Envelope_ContainerMetric.Enum(), Timestamp: proto.Int64(1),
		ContainerMetric: &events.ContainerMetric{ApplicationId: proto.String(app), InstanceIndex: proto.Int32(index),
			CpuPercentage: proto.Float64(cpu), MemoryBytes: proto.Uint64(10), DiskBytes: proto.Uint64(20)},
	}
}

func signed(env *events.Envelope) []byte {
	b, err := proto.Marshal(env)
	Expect(err).NotTo(HaveOccurred())
	return metron.Sign([]byte(secret), b)
}

var _ = Describe("Doppler", func() {
	var (
		clock  *fakeclock.FakeClock
		store  *doppler.Store
		ingest *doppler.Ingest
		logger = slog.New(slog.NewTextHandler(GinkgoWriter, nil))
	)

	BeforeEach(func() {
		clock = fakeclock.NewFakeClock(time.Unix(1000, 0))
		store = doppler.NewStore(clock, 100, 120*time.Second)
		ingest = doppler.NewIngest("127.0.0.1:0", secret, store, logger)
	})

	Describe("ingest", func() {
		It("counts and drops unsigned, badly signed and undecodable datagrams", func() {
			good := signed(logEnv("app", "kept", 1, "0"))
			ingest.Handle(good)
			b, _ := proto.Marshal(logEnv("app", "unsigned", 2, "0"))
			ingest.Handle(b[:20])
			ingest.Handle(metron.Sign([]byte("wrong"), b))
			ingest.Handle(metron.Sign([]byte(secret), []byte("garbage")))
			ingest.Handle(metron.Sign([]byte(secret), b[:len(b)-3]))
			ingest.Handle(make([]byte, metron.MaxDatagramSize+1))
			Expect(ingest.Stats()).To(Equal(doppler.IngestStats{Received: 6, Unsigned: 1, BadSignature: 1, UnmarshalErrors: 3, Kept: 1}))
			Expect(store.RecentLogs("app")).To(HaveLen(1))
		})
	})

	Describe("retention", func() {
		It("keeps the last 100 logs per app, oldest first", func() {
			for i := 0; i < 150; i++ {
				ingest.Handle(signed(logEnv("app", fmt.Sprintf("line %d", i), int64(i), "0")))
			}
			ingest.Handle(signed(logEnv("other", "x", 1, "0")))
			api := newServer(store, clock, doppler.HandlerConfig{})
			c, _ := client.New(client.Config{URL: api.URL})
			logs, err := c.RecentLogs(context.Background(), "app")
			Expect(err).NotTo(HaveOccurred())
			Expect(logs).To(HaveLen(100))
			Expect(string(logs[0].GetLogMessage().GetMessage())).To(Equal("line 50"))
			Expect(string(logs[99].GetLogMessage().GetMessage())).To(Equal("line 149"))
		})

		It("keeps the latest metric per instance for 120 s", func() {
			ingest.Handle(signed(metricEnv("app", 0, 1)))
			ingest.Handle(signed(metricEnv("app", 1, 2)))
			ingest.Handle(signed(metricEnv("app", 0, 3)))
			api := newServer(store, clock, doppler.HandlerConfig{})
			c, _ := client.New(client.Config{URL: api.URL})
			metrics, err := c.ContainerMetrics(context.Background(), "app")
			Expect(err).NotTo(HaveOccurred())
			Expect(metrics).To(HaveLen(2))
			Expect(metrics[0].GetContainerMetric().GetCpuPercentage()).To(Equal(3.0))
			Expect(metrics[1].GetContainerMetric().GetInstanceIndex()).To(BeEquivalentTo(1))

			clock.Increment(121 * time.Second)
			metrics, err = c.ContainerMetrics(context.Background(), "app")
			Expect(err).NotTo(HaveOccurred())
			Expect(metrics).To(BeEmpty())
		})

		It("answers multipart/x-protobuf with the boundary in the content type", func() {
			ingest.Handle(signed(logEnv("app", "one", 1, "0")))
			api := newServer(store, clock, doppler.HandlerConfig{})
			resp, err := http.Get(api.URL + "/apps/app/recentlogs")
			Expect(err).NotTo(HaveOccurred())
			defer resp.Body.Close()
			Expect(resp.Header.Get("Content-Type")).To(MatchRegexp(`^multipart/x-protobuf; boundary=[0-9a-f]{32}$`))
		})
	})

	Describe("the stream", func() {
		It("sends each of the app's envelopes as one binary message, and only the app's", func() {
			api := newServer(store, clock, doppler.HandlerConfig{PingInterval: 50 * time.Millisecond})
			conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(api.URL, "http")+"/apps/app/stream", http.Header{"Origin": {"http://localhost"}})
			Expect(err).NotTo(HaveOccurred())
			defer conn.Close()
			var pings atomic.Int32
			conn.SetPingHandler(func(string) error { pings.Add(1); return nil })
			want := logEnv("app", "live", 7, "2")
			ingest.Handle(signed(logEnv("other", "no", 1, "0")))
			ingest.Handle(signed(want))
			kind, b, err := conn.ReadMessage()
			Expect(err).NotTo(HaveOccurred())
			Expect(kind).To(Equal(websocket.BinaryMessage))
			got, err := metron.DecodeEnvelope(b)
			Expect(err).NotTo(HaveOccurred())
			Expect(proto.Equal(got, want)).To(BeTrue())
			go func() {
				for {
					if _, _, err := conn.ReadMessage(); err != nil {
						return
					}
				}
			}()
			Eventually(pings.Load).Should(BeNumerically(">=", 2))
		})

		It("skips messages for a consumer that does not read, without slowing ingestion", func() {
			api := newServer(store, clock, doppler.HandlerConfig{})
			conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(api.URL, "http")+"/apps/app/stream", nil)
			Expect(err).NotTo(HaveOccurred())
			defer conn.Close()
			Eventually(func() uint64 {
				start := time.Now()
				big := strings.Repeat("x", 60000)
				for i := 0; i < 500; i++ {
					ingest.Handle(signed(logEnv("app", big, int64(i), "0")))
				}
				Expect(time.Since(start)).To(BeNumerically("<", 5*time.Second))
				return store.SlowConsumerSkips()
			}, 30*time.Second).Should(BeNumerically(">", 0))
		})
	})

	Describe("auth", func() {
		It("with a static token, refuses a missing or wrong token", func() {
			api := newServer(store, clock, doppler.HandlerConfig{AuthMode: doppler.AuthToken, AuthToken: "tok"})
			for auth, status := range map[string]int{"": 401, "bearer nope": 401, "bearer tok": 200, "Bearer tok": 200} {
				req, _ := http.NewRequest("GET", api.URL+"/apps/app/recentlogs", nil)
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				resp, err := http.DefaultClient.Do(req)
				Expect(err).NotTo(HaveOccurred())
				resp.Body.Close()
				Expect(resp.StatusCode).To(Equal(status), "auth %q", auth)
			}
		})

		It("in cc mode, asks the cloud controller with the caller's header and answers with its refusal", func() {
			var asked atomic.Int32
			cc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				asked.Add(1)
				switch {
				case r.URL.Path == "/internal/log_access/missing":
					w.WriteHeader(404)
				case r.Header.Get("Authorization") == "bearer good":
					_, _ = io.WriteString(w, "{}")
				case r.Header.Get("Authorization") == "bearer space-auditor":
					w.WriteHeader(403)
				case r.Header.Get("Authorization") == "bearer broken":
					w.WriteHeader(500)
				default:
					w.WriteHeader(401)
				}
			}))
			defer cc.Close()
			api := newServer(store, clock, doppler.HandlerConfig{AuthMode: doppler.AuthCC, CCLogAccessURL: cc.URL + "/internal/log_access"})
			get := func(app, auth string) int {
				req, _ := http.NewRequest("GET", api.URL+"/apps/"+app+"/containermetrics", nil)
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				resp, err := http.DefaultClient.Do(req)
				Expect(err).NotTo(HaveOccurred())
				resp.Body.Close()
				return resp.StatusCode
			}
			Expect(get("app", "")).To(Equal(401))
			Expect(asked.Load()).To(BeZero(), "no header, no question")
			Expect(get("app", "bearer bad")).To(Equal(401))
			Expect(get("app", "bearer space-auditor")).To(Equal(403))
			Expect(get("missing", "bearer good")).To(Equal(404))
			Expect(get("app", "bearer broken")).To(Equal(503))
			Expect(get("app", "bearer good")).To(Equal(200))
			before := asked.Load()
			Expect(get("app", "bearer good")).To(Equal(200))
			Expect(asked.Load()).To(Equal(before), "an allowed answer is cached")
			clock.Increment(11 * time.Second)
			Expect(get("app", "bearer good")).To(Equal(200))
			Expect(asked.Load()).To(Equal(before+1), "for at most 10 s")

			_, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(api.URL, "http")+"/apps/app/stream", http.Header{"Authorization": {"bearer bad"}})
			Expect(err).To(MatchError(websocket.ErrBadHandshake))
		})

		It("in cc mode with an operator token, admits that token for any app without asking, and the rest as before", func() {
			var asked atomic.Int32
			cc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				asked.Add(1)
				switch {
				case r.URL.Path == "/internal/log_access/not-a-cc-app":
					w.WriteHeader(404)
				case r.Header.Get("Authorization") == "bearer cc-token":
					_, _ = io.WriteString(w, "{}")
				default:
					w.WriteHeader(401)
				}
			}))
			defer cc.Close()
			api := newServer(store, clock, doppler.HandlerConfig{AuthMode: doppler.AuthCC, CCLogAccessURL: cc.URL + "/internal/log_access",
				OperatorToken: "operator-secret"})
			get := func(app, auth string) int {
				req, _ := http.NewRequest("GET", api.URL+"/apps/"+app+"/recentlogs", nil)
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				resp, err := http.DefaultClient.Do(req)
				Expect(err).NotTo(HaveOccurred())
				resp.Body.Close()
				return resp.StatusCode
			}
			Expect(get("not-a-cc-app", "bearer operator-secret")).To(Equal(200))
			Expect(get("not-a-cc-app", "Bearer operator-secret")).To(Equal(200))
			Expect(asked.Load()).To(BeZero(), "the operator token is not the CC's to judge")
			Expect(get("not-a-cc-app", "bearer cc-token")).To(Equal(404), "a CC token reads only CC apps")
			Expect(get("app", "bearer cc-token")).To(Equal(200))
			Expect(get("app", "bearer operator-secre")).To(Equal(401))
			Expect(get("app", "operator-secret")).To(Equal(401), "bearer scheme only")
			Expect(get("app", "")).To(Equal(401))

			ingest.Handle(signed(logEnv("not-a-cc-app", "task line", 1, "0")))
			c, err := client.New(client.Config{URL: api.URL, Authorization: "bearer operator-secret"})
			Expect(err).NotTo(HaveOccurred())
			logs, err := c.RecentLogs(context.Background(), "not-a-cc-app")
			Expect(err).NotTo(HaveOccurred())
			Expect(logs).To(HaveLen(1))
			Expect(string(logs[0].GetLogMessage().GetMessage())).To(Equal("task line"))
		})
	})
})

func newServer(store *doppler.Store, clk *fakeclock.FakeClock, cfg doppler.HandlerConfig) *httptest.Server {
	api, err := doppler.NewAPI(cfg, store, clk, slog.New(slog.NewTextHandler(GinkgoWriter, nil)))
	Expect(err).NotTo(HaveOccurred())
	s := httptest.NewServer(api)
	DeferCleanup(func() { api.Close(); s.Close() })
	return s
}
