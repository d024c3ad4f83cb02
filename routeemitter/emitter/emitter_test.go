package emitter_test

import (
	"encoding/json"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/ginkgomon_v2"

	"diego/deploy/logging"
	"diego/deploy/tlsconfig"
	"diego/routeemitter"
	"diego/routeemitter/config"
	"diego/routeemitter/emitter"
	"diego/routeemitter/routingtable"
	"diego/test/certauthority"
	"diego/test/natsrunner"
	"diego/test/ports"
)

var _ = Describe("The NATS emitter", func() {
	var (
		url  string
		port uint16
		peer *nats.Conn
	)

	BeforeEach(func() {
		n := natsrunner.New(0)
		proc := ginkgomon_v2.Invoke(n)
		DeferCleanup(func() { ginkgomon_v2.Interrupt(proc, 5*time.Second) })
		url, port = n.URL(), n.Port()
		var err error
		peer, err = nats.Connect(url)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(peer.Close)
	})

	connect := func(cfg config.NATS) *emitter.NATS {
		GinkgoHelper()
		em, err := emitter.Connect(logging.New(GinkgoWriter, -4, "route-emitter"), emitter.Config{NATS: cfg, Workers: 4,
			GreetInterval: 50 * time.Millisecond})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(em.Close)
		return em
	}
	plain := func() config.NATS { return config.NATS{NATSAddresses: "127.0.0.1:" + strconv.Itoa(int(port))} }

	It("publishes unregistrations then registrations as the spec's JSON, in parallel for a large batch", func() {
		em := connect(plain())
		got := make(chan *nats.Msg, 2000)
		_, err := peer.ChanSubscribe("router.*", got)
		Expect(err).NotTo(HaveOccurred())
		Expect(peer.Flush()).To(Succeed())
		var m routingtable.Messages
		m.Unregistrations = []routeemitter.RegistryMessage{{Host: "10.0.0.1", Port: 61000, URIs: []string{"old.example.com"}}}
		for i := range 1000 {
			m.Registrations = append(m.Registrations, routeemitter.RegistryMessage{Host: "10.0.0.1", Port: uint32(61001 + i),
				URIs: []string{"a.example.com"}, PrivateInstanceIndex: "0", Tags: routeemitter.ComponentTag})
		}
		em.Emit(m)
		Expect(em.Flush(5 * time.Second)).To(Succeed())
		var first *nats.Msg
		Eventually(got).Should(Receive(&first))
		Expect(first.Subject).To(Equal("router.unregister"))
		Expect(first.Data).To(MatchJSON(`{"host":"10.0.0.1","port":61000,"uris":["old.example.com"]}`))
		Eventually(func() int { return len(got) }).Should(Equal(1000))
	})

	It("greets until a router answers, reports each start, and ignores malformed ones", func() {
		greets := make(chan *nats.Msg, 100)
		_, err := peer.ChanSubscribe("router.greet", greets)
		Expect(err).NotTo(HaveOccurred())
		Expect(peer.Flush()).To(Succeed())
		em := connect(plain())
		proc := ifrit.Invoke(em)
		DeferCleanup(func() { proc.Signal(os.Interrupt); Eventually(proc.Wait()).Should(Receive(BeNil())) })

		var greet *nats.Msg
		Eventually(greets).Should(Receive(&greet))
		Eventually(greets).Should(Receive(), "greeted again while nobody answers")
		Expect(greet.Reply).NotTo(BeEmpty())
		Expect(peer.Publish(greet.Reply, []byte(`{garbage`))).To(Succeed())
		Expect(peer.Publish(greet.Reply, []byte(`{"id":"r","minimumRegisterIntervalInSeconds":0}`))).To(Succeed())
		Consistently(em.Starts(), 200*time.Millisecond).ShouldNot(Receive())
		Expect(peer.Publish(greet.Reply, []byte(`{"id":"r","minimumRegisterIntervalInSeconds":3,"pruneThresholdInSeconds":9}`))).To(Succeed())
		Eventually(em.Starts()).Should(Receive(Equal(routeemitter.RouterStart{ID: "r", MinimumRegisterIntervalInSeconds: 3, PruneThresholdInSeconds: 9})))
		// Answered: once the greets in flight are through, no more come.
		Eventually(func(g Gomega) {
			for len(greets) > 0 {
				<-greets
			}
			g.Consistently(greets, 300*time.Millisecond).ShouldNot(Receive())
		}).Should(Succeed())

		body, _ := json.Marshal(routeemitter.RouterStart{ID: "r2", MinimumRegisterIntervalInSeconds: 5})
		Expect(peer.Publish("router.start", []byte(`not json`))).To(Succeed())
		Expect(peer.Publish("router.start", body)).To(Succeed())
		Eventually(em.Starts()).Should(Receive(HaveField("ID", "r2")))
	})

	It("speaks TLS to a NATS server that requires a client certificate", func() {
		ca, err := certauthority.New(GinkgoT().TempDir())
		Expect(err).NotTo(HaveOccurred())
		serverCert, serverKey, err := ca.GenerateServer("nats", "127.0.0.1")
		Expect(err).NotTo(HaveOccurred())
		clientCert, clientKey, err := ca.GenerateClient("route-emitter")
		Expect(err).NotTo(HaveOccurred())
		tc, err := tlsconfig.ServerConfig(serverCert, serverKey, ca.CAFile())
		Expect(err).NotTo(HaveOccurred())
		tlsPort := ports.Next()
		s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: int(tlsPort), NoSigs: true, NoLog: true,
			TLS: true, TLSVerify: true, TLSConfig: tc})
		Expect(err).NotTo(HaveOccurred())
		s.Start()
		DeferCleanup(s.Shutdown)
		Expect(s.ReadyForConnections(10 * time.Second)).To(BeTrue())

		em := connect(config.NATS{NATSAddresses: "127.0.0.1:" + strconv.Itoa(int(tlsPort)), NATSCACertFile: ca.CAFile(),
			NATSClientCertFile: clientCert, NATSClientKeyFile: clientKey})
		Eventually(func() error { return em.Flush(time.Second) }, 5*time.Second).Should(Succeed())
	})
})
