package natsrunner_test

import (
	"net"
	"os"
	"strconv"

	"github.com/nats-io/nats.go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/ginkgomon_v2"

	"diego/test/natsrunner"
	"diego/test/ports"
)

var _ = Describe("Runner", func() {
	var (
		runner  *natsrunner.Runner
		process ifrit.Process
	)

	BeforeEach(func() {
		runner = natsrunner.New(0)
		process = ginkgomon_v2.Invoke(runner)
	})

	AfterEach(func() {
		ginkgomon_v2.Interrupt(process, "5s")
	})

	It("serves on a loopback URL with an allocated port", func() {
		Expect(runner.Port()).NotTo(BeZero())
		Expect(runner.URL()).To(Equal("nats://127.0.0.1:" + strconv.Itoa(int(runner.Port()))))
	})

	It("delivers messages, and closes connections when stopped", func() {
		closed := make(chan struct{})
		conn, err := nats.Connect(runner.URL(),
			nats.NoReconnect(),
			nats.ClosedHandler(func(*nats.Conn) { close(closed) }),
		)
		Expect(err).NotTo(HaveOccurred())
		defer conn.Close()

		messages := make(chan *nats.Msg, 1)
		_, err = conn.ChanSubscribe("router.register", messages)
		Expect(err).NotTo(HaveOccurred())
		Expect(conn.Flush()).To(Succeed())

		Expect(conn.Publish("router.register", []byte(`{"host":"10.0.0.1"}`))).To(Succeed())
		var msg *nats.Msg
		Eventually(messages).Should(Receive(&msg))
		Expect(string(msg.Data)).To(Equal(`{"host":"10.0.0.1"}`))

		ginkgomon_v2.Interrupt(process, "5s")
		Eventually(closed, "5s").Should(BeClosed())
		Expect(conn.IsClosed()).To(BeTrue())
	})

	It("returns nil when signalled, and can run again on the same port", func() {
		process.Signal(os.Interrupt)
		Eventually(process.Wait(), "5s").Should(Receive(BeNil()))

		process = ginkgomon_v2.Invoke(runner)
		conn, err := nats.Connect(runner.URL())
		Expect(err).NotTo(HaveOccurred())
		conn.Close()
	})
})

var _ = Describe("a runner on a port that is taken", func() {
	It("fails instead of becoming ready", func() {
		port := ports.Next()
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
		Expect(err).NotTo(HaveOccurred())
		defer l.Close()

		process := ifrit.Background(natsrunner.New(port))
		Eventually(process.Wait(), "5s").Should(Receive(MatchError(ContainSubstring("address already in use"))))
		Expect(process.Ready()).NotTo(BeClosed())
	})
})
