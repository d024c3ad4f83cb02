package emitter_test

import (
	"net"
	"time"

	"google.golang.org/protobuf/proto"

	"diego/deploy/clock/fakeclock"
	"diego/metron/emitter"
	"diego/metron/events"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/ginkgomon_v2"
)

var _ = Describe("Emitter", func() {
	var (
		metron  *net.UDPConn
		clock   *fakeclock.FakeClock
		e       *emitter.Emitter
		process ifrit.Process
	)

	// receive reads one datagram as an Envelope; proto2 required fields
	// make an incomplete envelope fail to decode.
	receive := func() *events.Envelope {
		GinkgoHelper()
		buf := make([]byte, 65536)
		Expect(metron.SetReadDeadline(time.Now().Add(2 * time.Second))).To(Succeed())
		n, err := metron.Read(buf)
		Expect(err).NotTo(HaveOccurred())
		env := &events.Envelope{}
		Expect(proto.Unmarshal(buf[:n], env)).To(Succeed())
		return env
	}

	BeforeEach(func() {
		var err error
		metron, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(metron.Close)
		clock = fakeclock.NewFakeClock(time.Unix(1000, 0))
		e, err = emitter.New(metron.LocalAddr().String(), "bbs", clock)
		Expect(err).NotTo(HaveOccurred())
		process = ginkgomon_v2.Invoke(e)
		DeferCleanup(func() { ginkgomon_v2.Interrupt(process, 5*time.Second) })
	})

	It("sends a value metric as one valid envelope per datagram", func() {
		e.SendValue("LRPsRunning", 42, emitter.UnitMetric)
		env := receive()
		Expect(env.GetOrigin()).To(Equal("bbs"))
		Expect(env.GetEventType()).To(Equal(events.Envelope_ValueMetric))
		Expect(env.GetTimestamp()).To(Equal(time.Unix(1000, 0).UnixNano()))
		Expect(env.GetValueMetric().GetName()).To(Equal("LRPsRunning"))
		Expect(env.GetValueMetric().GetValue()).To(Equal(42.0))
		Expect(env.GetValueMetric().GetUnit()).To(Equal("Metric"))
	})

	It("sends durations in nanos", func() {
		e.SendDuration("ConvergenceLRPDuration", 1500*time.Millisecond)
		env := receive()
		Expect(env.GetValueMetric().GetValue()).To(Equal(1.5e9))
		Expect(env.GetValueMetric().GetUnit()).To(Equal("nanos"))
	})

	It("sums counters and sends them every five seconds", func() {
		e.IncrementCounter("RequestCount")
		e.AddToCounter("RequestCount", 4)
		Eventually(clock.WatcherCount).Should(Equal(1))
		clock.Increment(emitter.CounterInterval)
		env := receive()
		Expect(env.GetEventType()).To(Equal(events.Envelope_CounterEvent))
		Expect(env.GetCounterEvent().GetName()).To(Equal("RequestCount"))
		Expect(env.GetCounterEvent().GetDelta()).To(Equal(uint64(5)))
	})

	It("sends app logs with their source", func() {
		e.SendAppErrorLog("log-guid", "boom", "APP/PROC/WEB", "0")
		env := receive()
		Expect(env.GetLogMessage().GetMessage()).To(Equal([]byte("boom")))
		Expect(env.GetLogMessage().GetMessageType()).To(Equal(events.LogMessage_ERR))
		Expect(env.GetLogMessage().GetAppId()).To(Equal("log-guid"))
		Expect(env.GetLogMessage().GetSourceType()).To(Equal("APP/PROC/WEB"))
		Expect(env.GetLogMessage().GetSourceInstance()).To(Equal("0"))
	})

	It("sends container metrics", func() {
		e.SendContainerMetric(emitter.ContainerMetric{ApplicationID: "m", InstanceIndex: 2, CPUPercentage: 3.5, MemoryBytes: 10, DiskBytes: 20})
		env := receive()
		Expect(env.GetContainerMetric().GetInstanceIndex()).To(Equal(int32(2)))
		Expect(env.GetContainerMetric().GetCpuPercentage()).To(Equal(3.5))
	})

	It("never blocks its caller, dropping what the queue cannot hold", func() {
		ginkgomon_v2.Interrupt(process, 5*time.Second) // nobody sends now
		stuck, err := emitter.New(metron.LocalAddr().String(), "bbs", clock)
		Expect(err).NotTo(HaveOccurred())
		done := make(chan struct{})
		go func() {
			for i := 0; i < 10000; i++ {
				stuck.SendValue("x", 1, emitter.UnitMetric)
			}
			close(done)
		}()
		Eventually(done).Should(BeClosed())
		Expect(stuck.Dropped()).To(BeNumerically(">", 0))
	})
})
