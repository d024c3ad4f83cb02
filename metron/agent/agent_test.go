package agent_test

import (
	"log/slog"
	"net"
	"time"

	"google.golang.org/protobuf/proto"

	"diego/deploy/clock/fakeclock"
	"diego/metron"
	"diego/metron/agent"
	"diego/metron/events"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/ginkgomon_v2"
)

const secret = "shh"

var _ = Describe("Agent", func() {
	var (
		dopplerConn *net.UDPConn
		clock       *fakeclock.FakeClock
		a           *agent.Agent
		process     ifrit.Process
		producer    net.Conn
		cfg         agent.Config
	)

	// receive reads one datagram at the fake doppler, checks its signature
	// and decodes it.
	receive := func() *events.Envelope {
		GinkgoHelper()
		buf := make([]byte, 65536)
		Expect(dopplerConn.SetReadDeadline(time.Now().Add(5 * time.Second))).To(Succeed())
		n, err := dopplerConn.Read(buf)
		Expect(err).NotTo(HaveOccurred())
		msg, err := metron.Verify([]byte(secret), buf[:n])
		Expect(err).NotTo(HaveOccurred())
		env, err := metron.DecodeEnvelope(msg)
		Expect(err).NotTo(HaveOccurred())
		return env
	}
	send := func(env *events.Envelope) {
		GinkgoHelper()
		b, err := proto.Marshal(env)
		Expect(err).NotTo(HaveOccurred())
		_, err = producer.Write(b)
		Expect(err).NotTo(HaveOccurred())
	}
	counter := func(origin, name string, delta uint64) *events.Envelope {
		return &events.Envelope{Origin: proto.String(origin), EventType: events.Envelope_CounterEvent.Enum(),
			CounterEvent: &events.CounterEvent{Name: proto.String(name), Delta: proto.Uint64(delta)}}
	}

	BeforeEach(func() {
		var err error
		dopplerConn, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(dopplerConn.Close)
		clock = fakeclock.NewFakeClock(time.Unix(1000, 0))
		cfg = agent.Config{
			ListenAddr: "127.0.0.1:0", DopplerAddr: dopplerConn.LocalAddr().String(), SharedSecret: secret,
			Deployment: "diego", Job: "cell", Index: "1", IP: "10.0.0.5", ReportInterval: time.Minute,
		}
	})

	JustBeforeEach(func() {
		a = agent.New(cfg, agent.Deps{Logger: slog.New(slog.NewTextHandler(GinkgoWriter, nil)), Clock: clock})
		process = ginkgomon_v2.Invoke(a)
		DeferCleanup(func() { ginkgomon_v2.Interrupt(process) })
		var err error
		producer, err = net.Dial("udp", a.Addr().String())
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(producer.Close)
	})

	It("tags what the producer left empty and forwards it signed", func() {
		send(&events.Envelope{Origin: proto.String("rep"), EventType: events.Envelope_ValueMetric.Enum(), Job: proto.String("own-job"),
			ValueMetric: &events.ValueMetric{Name: proto.String("RepBulkSyncDuration"), Value: proto.Float64(5), Unit: proto.String("nanos")}})
		env := receive()
		Expect(env.GetOrigin()).To(Equal("rep"))
		Expect(env.GetDeployment()).To(Equal("diego"))
		Expect(env.GetJob()).To(Equal("own-job"))
		Expect(env.GetIndex()).To(Equal("1"))
		Expect(env.GetIp()).To(Equal("10.0.0.5"))
		Expect(env.GetValueMetric().GetName()).To(Equal("RepBulkSyncDuration"))
	})

	It("keeps counter totals per origin and name", func() {
		send(counter("bbs", "RequestCount", 3))
		send(counter("bbs", "RequestCount", 4))
		send(counter("rep", "RequestCount", 1))
		Expect(receive().GetCounterEvent().GetTotal()).To(BeEquivalentTo(3))
		Expect(receive().GetCounterEvent().GetTotal()).To(BeEquivalentTo(7))
		Expect(receive().GetCounterEvent().GetTotal()).To(BeEquivalentTo(1))
	})

	It("merges a 2015 HttpStart and HttpStop into one HttpStartStop", func() {
		id := &events.UUID{Low: proto.Uint64(1), High: proto.Uint64(2)}
		app := &events.UUID{Low: proto.Uint64(3), High: proto.Uint64(4)}
		send(&events.Envelope{Origin: proto.String("router"), EventType: events.Envelope_HttpStart.Enum(),
			HttpStart: &events.HttpStart{Timestamp: proto.Int64(10), RequestId: id, PeerType: events.PeerType_Server.Enum(),
				Method: events.Method_GET.Enum(), Uri: proto.String("http://a/b"), RemoteAddress: proto.String("1.2.3.4"),
				UserAgent: proto.String("curl"), ApplicationId: app, InstanceIndex: proto.Int32(2)}})
		send(&events.Envelope{Origin: proto.String("router"), EventType: events.Envelope_HttpStop.Enum(),
			HttpStop: &events.HttpStop{Timestamp: proto.Int64(25), Uri: proto.String("http://a/b"), RequestId: id,
				PeerType: events.PeerType_Server.Enum(), StatusCode: proto.Int32(200), ContentLength: proto.Int64(42)}})
		env := receive()
		Expect(env.GetEventType()).To(Equal(events.Envelope_HttpStartStop))
		ss := env.GetHttpStartStop()
		Expect(ss.GetStartTimestamp()).To(BeEquivalentTo(10))
		Expect(ss.GetStopTimestamp()).To(BeEquivalentTo(25))
		Expect(ss.GetMethod()).To(Equal(events.Method_GET))
		Expect(ss.GetStatusCode()).To(BeEquivalentTo(200))
		Expect(ss.GetContentLength()).To(BeEquivalentTo(42))
		Expect(proto.Equal(ss.GetApplicationId(), app)).To(BeTrue())
		Expect(ss.GetInstanceIndex()).To(BeEquivalentTo(2))
		Expect(env.GetIp()).To(Equal("10.0.0.5"))
	})

	It("counts and drops malformed and truncated datagrams, and keeps reading", func() {
		_, err := producer.Write([]byte("not a protobuf"))
		Expect(err).NotTo(HaveOccurred())
		good, _ := proto.Marshal(counter("bbs", "X", 1))
		_, err = producer.Write(good[:len(good)-2])
		Expect(err).NotTo(HaveOccurred())
		send(counter("bbs", "X", 1))
		Expect(receive().GetCounterEvent().GetName()).To(Equal("X"))
		Expect(a.Stats().UnmarshalErrors).To(BeEquivalentTo(2))
		Expect(a.Stats().Received).To(BeEquivalentTo(3))
	})

	It("reports its own counters, tagged, on its interval", func() {
		send(counter("bbs", "X", 1))
		receive()
		clock.Increment(time.Minute)
		names := map[string]uint64{}
		for range 6 {
			env := receive()
			Expect(env.GetOrigin()).To(Equal(agent.Origin))
			Expect(env.GetJob()).To(Equal("cell"))
			names[env.GetCounterEvent().GetName()] = env.GetCounterEvent().GetTotal()
		}
		Expect(names).To(HaveKeyWithValue(agent.ReceivedMessageCount, BeEquivalentTo(1)))
		Expect(names).To(HaveKeyWithValue(agent.SentMessageCount, BeEquivalentTo(1)))
		Expect(names).To(HaveKey(agent.DroppedMessageCount))
	})

	Context("when the doppler is absent", func() {
		BeforeEach(func() {
			l, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			Expect(err).NotTo(HaveOccurred())
			cfg.DopplerAddr = l.LocalAddr().String()
			l.Close() // nothing listens there: the kernel refuses
		})

		It("counts what it cannot send, and keeps reading", func() {
			for range 50 {
				send(counter("bbs", "X", 1))
			}
			Eventually(func() uint64 { s := a.Stats(); return s.Sent + s.SendErrors + s.Dropped }).Should(BeEquivalentTo(50))
			Expect(a.Stats().SendErrors).To(BeNumerically(">", 0))
		})
	})
})
