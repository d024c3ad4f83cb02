package main_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"
	"github.com/tedsuo/ifrit/ginkgomon_v2"

	dconfig "diego/deploy/config"
	"diego/routeemitter"
	"diego/routeemitter/router/config"
	"diego/test/natsrunner"
	"diego/test/ports"
)

var _ = Describe("The router binary", func() {
	var (
		cfg     config.Config
		conn    *nats.Conn
		starts  chan routeemitter.RouterStart
		backend routeemitter.RegistryMessage
	)

	BeforeEach(func() {
		n := natsrunner.New(0)
		proc := ginkgomon_v2.Invoke(n)
		DeferCleanup(func() { ginkgomon_v2.Interrupt(proc, 5*time.Second) })
		var err error
		conn, err = nats.Connect(n.URL())
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(conn.Close)
		starts = make(chan routeemitter.RouterStart, 10)
		_, err = conn.Subscribe("router.start", func(m *nats.Msg) {
			var s routeemitter.RouterStart
			if json.Unmarshal(m.Data, &s) == nil {
				starts <- s
			}
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(conn.Flush()).To(Succeed())

		cfg = config.DefaultConfig()
		cfg.ListenAddr, cfg.StatusAddress = ports.Addr(), ports.Addr()
		cfg.NATSAddresses = "127.0.0.1:" + strconv.Itoa(int(n.Port()))
		cfg.StatusUsername, cfg.StatusPassword = "admin", "secret"
		cfg.StartResponseDelayInterval = dconfig.Duration(time.Second)
		cfg.DropletStaleThreshold = dconfig.Duration(2 * time.Second)
		cfg.PruneStaleDropletsInterval = dconfig.Duration(200 * time.Millisecond)
		cfg.LogLevel = "debug"

		app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "hello from "+r.Host)
		}))
		DeferCleanup(app.Close)
		host, port, _ := net.SplitHostPort(app.Listener.Addr().String())
		p, _ := strconv.Atoi(port)
		backend = routeemitter.RegistryMessage{Host: host, Port: uint32(p), URIs: []string{"app.apps.localhost"},
			PrivateInstanceID: "ig-0", PrivateInstanceIndex: "0", App: "app"}
	})

	publish := func(subject string, body any) {
		GinkgoHelper()
		var data []byte
		if b, ok := body.([]byte); ok {
			data = b
		} else {
			data, _ = json.Marshal(body)
		}
		Expect(conn.Publish(subject, data)).To(Succeed())
		Expect(conn.Flush()).To(Succeed())
	}
	get := func(host string) (int, string, http.Header) {
		req, _ := http.NewRequest("GET", "http://"+cfg.ListenAddr+"/", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error(), nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	status := func(host string) func() int { return func() int { c, _, _ := get(host); return c } }

	It("announces itself, answers greet, routes what is registered and forgets what is not refreshed", func() {
		startRouter(cfg, true)
		var start routeemitter.RouterStart
		Eventually(starts, 5*time.Second).Should(Receive(&start))
		Expect(start.ID).To(MatchRegexp(`^0-[0-9a-f-]{36}$`))
		Expect(start.Hosts).To(Equal([]string{"127.0.0.1"}))
		Expect(start.MinimumRegisterIntervalInSeconds).To(Equal(1))
		Expect(start.PruneThresholdInSeconds).To(Equal(2))

		reply, err := conn.Request("router.greet", nil, 5*time.Second)
		Expect(err).NotTo(HaveOccurred())
		Expect(reply.Data).To(MatchJSON(mustJSON(start)))

		code, body, header := get("app.apps.localhost:8081")
		Expect(code).To(Equal(http.StatusNotFound))
		Expect(header.Get("X-Cf-Routererror")).To(Equal("unknown_route"))
		Expect(body).To(ContainSubstring("does not exist"))

		publish("router.register", backend)
		Eventually(status("app.apps.localhost:8081")).Should(Equal(http.StatusOK))
		_, body, _ = get("APP.apps.localhost")
		Expect(body).To(Equal("hello from APP.apps.localhost"))

		By("the table on the status port")
		req, _ := http.NewRequest("GET", "http://"+cfg.StatusAddress+"/routes", nil)
		req.SetBasicAuth("admin", "secret")
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		var routes map[string][]map[string]any
		Expect(json.NewDecoder(resp.Body).Decode(&routes)).To(Succeed())
		resp.Body.Close()
		Expect(routes["app.apps.localhost"]).To(HaveLen(1))
		resp, err = http.Get("http://" + cfg.StatusAddress + "/healthz")
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.StatusCode).To(Equal(http.StatusOK))

		By("pruning once registrations stop")
		Eventually(status("app.apps.localhost"), 5*time.Second).Should(Equal(http.StatusNotFound))

		By("unregistering")
		publish("router.register", backend)
		Eventually(status("app.apps.localhost")).Should(Equal(http.StatusOK))
		publish("router.unregister", backend)
		Eventually(status("app.apps.localhost")).Should(Equal(http.StatusNotFound))
	})

	It("logs and ignores malformed messages and greets", func() {
		session := startRouter(cfg, true)
		publish("router.register", []byte(`{not json`))
		publish("router.register", []byte(`{"host":"127.0.0.1","port":"eighty","uris":["x"]}`))
		publish("router.register", []byte(`{"host":"","port":80,"uris":["x.apps.localhost"]}`))
		publish("router.unregister", []byte(`[]`))
		publish("router.greet", []byte(`hello`)) // no reply subject
		logs := func() string { return string(session.Out.Contents()) }
		Eventually(logs).Should(And(ContainSubstring(`malformed-message`), ContainSubstring(`bad-registration`),
			ContainSubstring(`greet-without-reply-subject`)))
		publish("router.register", backend)
		Eventually(status("app.apps.localhost")).Should(Equal(http.StatusOK))
		Expect(session).NotTo(gexec.Exit())
	})

	It("takes no request until the start delay has passed, and then routes what was registered meanwhile", func() {
		cfg.StartResponseDelayInterval = dconfig.Duration(3 * time.Second)
		session := startRouter(cfg, false)
		Eventually(starts, 10*time.Second).Should(Receive())
		// An emitter answers router.start by registering everything.
		publish("router.register", backend)
		startedAt := time.Now()
		health := func() int {
			resp, err := http.Get("http://" + cfg.StatusAddress + "/health")
			if err != nil {
				return 0
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		Eventually(health).Should(Equal(http.StatusServiceUnavailable))
		code, msg, _ := get("app.apps.localhost")
		Expect(code).To(Equal(0), "the proxy port is not open during the delay: %s", msg)
		Expect(time.Since(startedAt)).To(BeNumerically("<", 2*time.Second), "checked within the delay")
		Expect(string(session.Out.Contents())).To(ContainSubstring(`waiting-before-listening`))

		Eventually(session.Out, 10*time.Second).Should(gbytes.Say(`"msg":"ready"`))
		Expect(time.Since(startedAt)).To(BeNumerically(">=", 2*time.Second))
		code, body, _ := get("app.apps.localhost")
		Expect(code).To(Equal(http.StatusOK), "the first request after the delay is routed: %s", body)
		Expect(health()).To(Equal(http.StatusOK))
	})

	It("refuses a bad config, naming every problem", func() {
		cfg.NATSAddresses = "nohostport"
		cfg.StartResponseDelayInterval = 0
		session := startRouter(cfg, false)
		Eventually(session).Should(gexec.Exit(2))
		Expect(string(session.Err.Contents())).To(And(ContainSubstring("nats_addresses"), ContainSubstring("start_response_delay_interval")))
	})
})

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
