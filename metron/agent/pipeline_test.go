package agent_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"diego/deploy/clock"
	"diego/metron/agent"
	"diego/metron/client"
	"diego/metron/doppler"
	"diego/metron/emitter"
	"diego/metron/events"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit/ginkgomon_v2"
)

// The whole path: a daemon's emitter → metron → doppler → the websocket and
// recentlogs consumers, every hop real and over UDP on loopback.
var _ = Describe("producer → metron → doppler → consumers", func() {
	var (
		producer *emitter.Emitter
		metron   *agent.Agent
		ingest   *doppler.Ingest
		store    *doppler.Store
		consumer *client.Client
	)

	BeforeEach(func() {
		logger := slog.New(slog.NewTextHandler(GinkgoWriter, &slog.HandlerOptions{Level: slog.LevelWarn}))
		clk := clock.NewClock()
		store = doppler.NewStore(clk, 100, 120*time.Second)
		ingest = doppler.NewIngest("127.0.0.1:0", secret, store, logger)
		p := ginkgomon_v2.Invoke(ingest)
		DeferCleanup(func() { ginkgomon_v2.Interrupt(p) })

		metron = agent.New(agent.Config{ListenAddr: "127.0.0.1:0", DopplerAddr: ingest.Addr().String(), SharedSecret: secret,
			Deployment: "diego", Job: "cell", Index: "0", IP: "127.0.0.1", ReportInterval: time.Hour}, agent.Deps{Logger: logger, Clock: clk})
		m := ginkgomon_v2.Invoke(metron)
		DeferCleanup(func() { ginkgomon_v2.Interrupt(m) })

		var err error
		producer, err = emitter.New(metron.Addr().String(), "executor", clk)
		Expect(err).NotTo(HaveOccurred())
		e := ginkgomon_v2.Invoke(producer)
		DeferCleanup(func() { ginkgomon_v2.Interrupt(e) })

		api, err := doppler.NewAPI(doppler.HandlerConfig{}, store, clk, logger)
		Expect(err).NotTo(HaveOccurred())
		server := httptest.NewServer(api)
		DeferCleanup(func() { api.Close(); server.Close() })
		consumer, err = client.New(client.Config{URL: server.URL})
		Expect(err).NotTo(HaveOccurred())
	})

	It("delivers every field of the spec to both consumers", func() {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		live, _, err := consumer.Stream(ctx, "log-guid")
		Expect(err).NotTo(HaveOccurred())

		producer.SendAppErrorLog("log-guid", "to stderr", "APP/PROC/WEB", "3")
		producer.SendContainerMetric(emitter.ContainerMetric{ApplicationID: "log-guid", InstanceIndex: 3, CPUPercentage: 12.5,
			MemoryBytes: 1 << 20, DiskBytes: 2 << 20, MemoryBytesQuota: 64 << 20, DiskBytesQuota: 128 << 20})

		var streamed *events.Envelope
		Eventually(live, 5*time.Second).Should(Receive(&streamed))
		Expect(streamed.GetOrigin()).To(Equal("executor"))
		Expect(streamed.GetEventType()).To(Equal(events.Envelope_LogMessage))
		Expect(streamed.GetDeployment()).To(Equal("diego"))
		Expect(streamed.GetJob()).To(Equal("cell"))
		Expect(streamed.GetIndex()).To(Equal("0"))
		Expect(streamed.GetIp()).To(Equal("127.0.0.1"))
		Expect(streamed.GetTimestamp()).To(BeNumerically(">", 0))
		lm := streamed.GetLogMessage()
		Expect(string(lm.GetMessage())).To(Equal("to stderr"))
		Expect(lm.GetMessageType()).To(Equal(events.LogMessage_ERR))
		Expect(lm.GetAppId()).To(Equal("log-guid"))
		Expect(lm.GetSourceType()).To(Equal("APP/PROC/WEB"))
		Expect(lm.GetSourceInstance()).To(Equal("3"))
		Expect(lm.GetTimestamp()).To(Equal(streamed.GetTimestamp()))
		Eventually(live, 5*time.Second).Should(Receive(WithTransform(func(e *events.Envelope) float64 {
			return e.GetContainerMetric().GetCpuPercentage()
		}, Equal(12.5))))

		recent, err := consumer.RecentLogs(ctx, "log-guid")
		Expect(err).NotTo(HaveOccurred())
		Expect(recent).To(HaveLen(1))
		Expect(proto.Equal(recent[0], streamed)).To(BeTrue(), "the same bytes on both routes")

		metrics, err := consumer.ContainerMetrics(ctx, "log-guid")
		Expect(err).NotTo(HaveOccurred())
		Expect(metrics).To(HaveLen(1))
		cm := metrics[0].GetContainerMetric()
		Expect(cm.GetInstanceIndex()).To(BeEquivalentTo(3))
		Expect(cm.GetMemoryBytes()).To(BeEquivalentTo(1 << 20))
		Expect(cm.GetDiskBytes()).To(BeEquivalentTo(2 << 20))
		Expect(cm.GetMemoryBytesQuota()).To(BeEquivalentTo(64 << 20))
		Expect(cm.GetDiskBytesQuota()).To(BeEquivalentTo(128 << 20))
	})

	It("takes a burst of 100k lines from one producer in under 2 s without blocking it, counting drops, in bounded memory", func() {
		const lines = 100_000
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)

		line := strings.Repeat("x", 100)
		start := time.Now()
		for i := range lines {
			producer.SendAppLog("burst", fmt.Sprintf("%06d %s", i, line), "APP", "0")
		}
		produced := time.Since(start)

		// Everything is accounted for at each hop: sent or dropped (and
		// counted) by the producer; what metron read was forwarded, queued
		// or dropped and counted.
		var last uint64
		Eventually(func() bool {
			s := metron.Stats()
			settled := s.Received == last && s.Sent+s.Dropped+s.SendErrors+s.UnmarshalErrors == s.Received
			last = s.Received
			return settled
		}, 10*time.Second, 200*time.Millisecond).Should(BeTrue())
		Eventually(func() []*events.Envelope {
			l, _ := consumer.RecentLogs(context.Background(), "burst")
			return l
		}, 10*time.Second).Should(HaveLen(100), "the doppler keeps the last 100")

		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		heapGrowth := int64(after.HeapInuse) - int64(before.HeapInuse)
		s := metron.Stats()
		kernelLost := lines - producer.Dropped() - s.Received
		AddReportEntry("burst", fmt.Sprintf("produced %d lines in %s; emitter dropped %d; metron received %d, forwarded %d, dropped %d; "+
			"lost in the socket buffer %d; doppler kept %d; heap in use grew by %.1f MiB (peak sys %.1f MiB)",
			lines, produced, producer.Dropped(), s.Received, s.Sent, s.Dropped, kernelLost, ingest.Stats().Kept,
			float64(heapGrowth)/(1<<20), float64(after.HeapSys)/(1<<20)))

		Expect(produced).To(BeNumerically("<", 2*time.Second), "the producer never waits on the network")
		Expect(producer.Dropped() + s.Received).To(BeNumerically("<=", lines))
		Expect(s.Received).To(BeNumerically(">", 0))
		Expect(heapGrowth).To(BeNumerically("<", 64<<20), "queues are bounded: 100k lines do not stay in memory")
	})
})
