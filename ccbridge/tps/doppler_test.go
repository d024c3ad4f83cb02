package tps_test

import (
	"bytes"
	"context"
	"errors"
	"mime/multipart"
	"net/http"
	"net/http/httptest"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"

	"diego/ccbridge/tps"
	metronclient "diego/metron/client"
	"diego/metron/events"
)

func metricEnvelope(index int32, ts int64, cpu float64, mem, disk uint64) []byte {
	GinkgoHelper()
	b, err := proto.Marshal(&events.Envelope{
		Origin: proto.String("rep"), EventType: events.Envelope_ContainerMetric.Enum(), Timestamp: proto.Int64(ts),
		ContainerMetric: &events.ContainerMetric{
			ApplicationId: proto.String("app-1"), InstanceIndex: proto.Int32(index),
			CpuPercentage: proto.Float64(cpu), MemoryBytes: proto.Uint64(mem), DiskBytes: proto.Uint64(disk),
		},
	})
	Expect(err).NotTo(HaveOccurred())
	return b
}

func multipartBody(parts ...[]byte) (string, []byte) {
	GinkgoHelper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, p := range parts {
		pw, err := w.CreatePart(nil)
		Expect(err).NotTo(HaveOccurred())
		_, err = pw.Write(p)
		Expect(err).NotTo(HaveOccurred())
	}
	Expect(w.Close()).To(Succeed())
	return "multipart/x-protobuf; boundary=" + w.Boundary(), buf.Bytes()
}

var _ = Describe("The doppler container-metrics client (spec cell §7.5)", func() {
	var (
		server     *httptest.Server
		gotAuth    string
		gotPath    string
		status     int
		bodyParts  [][]byte
		contentTyp string
	)
	BeforeEach(func() {
		status, bodyParts, contentTyp = http.StatusOK, nil, ""
		server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			gotAuth, gotPath = r.Header.Get("Authorization"), r.URL.Path
			ct, body := multipartBody(bodyParts...)
			if contentTyp != "" {
				ct = contentTyp
			}
			w.Header().Set("Content-Type", ct)
			w.WriteHeader(status)
			_, _ = w.Write(body)
		}))
		DeferCleanup(server.Close)
	})

	It("reads the newest metric per index from the multipart answer, passing the Authorization header", func() {
		bodyParts = [][]byte{
			metricEnvelope(0, 100, 10, 1000, 2000),
			metricEnvelope(1, 100, 20, 3000, 4000),
			metricEnvelope(0, 200, 11, 1100, 2100),
			metricEnvelope(0, 150, 99, 9, 9),
		}
		c, err := tps.NewDopplerClient(server.URL, 0)
		Expect(err).NotTo(HaveOccurred())
		metrics, err := c.ContainerMetrics(context.Background(), "app-1", "bearer token")
		Expect(err).NotTo(HaveOccurred())
		Expect(gotPath).To(Equal("/apps/app-1/containermetrics"))
		Expect(gotAuth).To(Equal("bearer token"))
		Expect(metrics).To(Equal(map[int32]tps.ContainerMetric{
			0: {CPUPercentage: 11, MemoryBytes: 1100, DiskBytes: 2100},
			1: {CPUPercentage: 20, MemoryBytes: 3000, DiskBytes: 4000},
		}))
	})

	It("skips envelopes that are not container metrics", func() {
		b, err := proto.Marshal(&events.Envelope{Origin: proto.String("x"), EventType: events.Envelope_LogMessage.Enum(),
			LogMessage: &events.LogMessage{Message: []byte("hi"), MessageType: events.LogMessage_OUT.Enum(),
				Timestamp: proto.Int64(1), AppId: proto.String("app-1")}})
		Expect(err).NotTo(HaveOccurred())
		bodyParts = [][]byte{b}
		c, _ := tps.NewDopplerClient(server.URL, 0)
		metrics, err := c.ContainerMetrics(context.Background(), "app-1", "bearer token")
		Expect(err).NotTo(HaveOccurred())
		Expect(metrics).To(BeEmpty())
	})

	It("fails on a refusal, a content type without a boundary and a part that is not an envelope", func() {
		c, _ := tps.NewDopplerClient(server.URL, 0)
		status = http.StatusUnauthorized
		_, err := c.ContainerMetrics(context.Background(), "app-1", "bearer bad")
		var refusal *metronclient.Error
		Expect(errors.As(err, &refusal)).To(BeTrue(), "%v", err)
		Expect(refusal.StatusCode).To(Equal(http.StatusUnauthorized))
		Expect(gotAuth).To(Equal("bearer bad"))

		status, contentTyp = http.StatusOK, "multipart/x-protobuf"
		_, err = c.ContainerMetrics(context.Background(), "app-1", "bearer token")
		Expect(err).To(MatchError(ContainSubstring(`unexpected content type "multipart/x-protobuf"`)))

		contentTyp, bodyParts = "", [][]byte{{0xff, 0xff, 0xff}}
		_, err = c.ContainerMetrics(context.Background(), "app-1", "bearer token")
		Expect(err).To(MatchError(ContainSubstring("decoding envelope")))
	})
})
