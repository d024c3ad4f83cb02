package router_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/logging"

	"diego/routeemitter"
	"diego/routeemitter/router"
)

// backend is an app instance that names itself and echoes what the
// router added.
func backend(name string) (*httptest.Server, routeemitter.RegistryMessage) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", name)
		for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Vcap-Request-Id", "X-Cf-Instanceindex", "X-Cf-Applicationid", "X-Cf-Instanceid"} {
			w.Header().Set("Echo-"+h, r.Header.Get(h))
		}
		_, _ = io.WriteString(w, name+" "+r.Host+r.URL.Path)
	}))
	DeferCleanup(s.Close)
	host, port, _ := net.SplitHostPort(s.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	return s, routeemitter.RegistryMessage{Host: host, Port: uint32(p), App: "app-" + name,
		PrivateInstanceID: "ig-" + name, PrivateInstanceIndex: "3"}
}

func with(m routeemitter.RegistryMessage, uris ...string) routeemitter.RegistryMessage {
	m.URIs = uris
	return m
}

var _ = Describe("The router", func() {
	var (
		registry *router.Registry
		proxy    *httptest.Server
		now      time.Time
	)

	BeforeEach(func() {
		now = time.Unix(1000, 0)
		registry = router.NewRegistry(10 * time.Second)
		proxy = httptest.NewServer(router.NewProxy(logging.New(GinkgoWriter, -4, "router"), registry, time.Second))
		DeferCleanup(proxy.Close)
	})

	get := func(host, path string) *http.Response {
		GinkgoHelper()
		req, err := http.NewRequest("GET", proxy.URL+path, nil)
		Expect(err).NotTo(HaveOccurred())
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(resp.Body.Close)
		return resp
	}
	body := func(r *http.Response) string {
		b, _ := io.ReadAll(r.Body)
		return string(b)
	}

	It("answers 404 unknown_route for a host nobody registered", func() {
		resp := get("nobody.example.com:8081", "/")
		Expect(resp.StatusCode).To(Equal(http.StatusNotFound))
		Expect(resp.Header.Get("X-Cf-Routererror")).To(Equal("unknown_route"))
		Expect(body(resp)).To(ContainSubstring("Requested route ('nobody.example.com') does not exist."))
	})

	It("routes by Host header, whatever its case and port, round-robin, with gorouter's headers", func() {
		_, a := backend("a")
		_, b := backend("b")
		Expect(registry.Register(with(a, "app.example.com"), now)).To(Succeed())
		Expect(registry.Register(with(b, "app.example.com"), now)).To(Succeed())
		seen := map[string]int{}
		for range 4 {
			resp := get("App.Example.com:8081", "/x")
			Expect(resp.StatusCode).To(Equal(http.StatusOK))
			seen[resp.Header.Get("X-Backend")]++
			Expect(resp.Header.Get("Echo-X-Forwarded-For")).To(Equal("127.0.0.1"))
			Expect(resp.Header.Get("Echo-X-Forwarded-Proto")).To(Equal("http"))
			Expect(resp.Header.Get("Echo-X-Vcap-Request-Id")).To(MatchRegexp(`^[0-9a-f-]{36}$`))
			Expect(resp.Header.Get("Echo-X-Cf-Instanceindex")).To(Equal("3"))
			Expect(resp.Header.Get("Echo-X-Cf-Applicationid")).To(HavePrefix("app-"))
			Expect(resp.Header.Get("Echo-X-Cf-Instanceid")).To(HavePrefix("ig-"))
		}
		Expect(seen).To(Equal(map[string]int{"a": 2, "b": 2}))
	})

	It("prefers the longest registered path", func() {
		_, a := backend("a")
		_, b := backend("b")
		Expect(registry.Register(with(a, "app.example.com"), now)).To(Succeed())
		Expect(registry.Register(with(b, "app.example.com/api"), now)).To(Succeed())
		Expect(get("app.example.com", "/api/v1").Header.Get("X-Backend")).To(Equal("b"))
		Expect(get("app.example.com", "/apiary").Header.Get("X-Backend")).To(Equal("a"))
		Expect(get("app.example.com", "/").Header.Get("X-Backend")).To(Equal("a"))
	})

	It("tries the next endpoint when one refuses connections, and answers 502 when all fail", func() {
		dead, d := backend("dead")
		dead.Close()
		_, a := backend("a")
		Expect(registry.Register(with(d, "app.example.com"), now)).To(Succeed())
		Expect(registry.Register(with(a, "app.example.com"), now)).To(Succeed())
		for range 3 {
			Expect(get("app.example.com", "/").Header.Get("X-Backend")).To(Equal("a"))
		}
		Expect(registry.Unregister(with(a, "app.example.com"))).To(Succeed())
		resp := get("app.example.com", "/")
		Expect(resp.StatusCode).To(Equal(http.StatusBadGateway))
		Expect(resp.Header.Get("X-Cf-Routererror")).To(Equal("endpoint_failure"))
	})

	It("unregisters, and prunes endpoints not refreshed within their threshold", func() {
		_, a := backend("a")
		_, b := backend("b")
		Expect(registry.Register(with(a, "a.example.com"), now)).To(Succeed())
		short := with(b, "b.example.com")
		short.StaleThresholdInSeconds = 2
		Expect(registry.Register(short, now)).To(Succeed())
		Expect(registry.Prune(now.Add(3 * time.Second))).To(Equal(1))
		Expect(registry.Routes()).To(HaveKey("a.example.com"))
		Expect(registry.Routes()).NotTo(HaveKey("b.example.com"))
		Expect(registry.Register(with(a, "a.example.com"), now.Add(9*time.Second))).To(Succeed())
		Expect(registry.Prune(now.Add(15*time.Second))).To(BeZero(), "refreshed at 9s")
		Expect(registry.Unregister(with(a, "a.example.com"))).To(Succeed())
		Expect(get("a.example.com", "/").StatusCode).To(Equal(http.StatusNotFound))
	})

	It("refuses registrations without host, port or uris, or with a plain-http route service", func() {
		_, a := backend("a")
		Expect(registry.Register(with(a), now)).NotTo(Succeed())
		noHost := with(a, "x.example.com")
		noHost.Host = ""
		Expect(registry.Register(noHost, now)).NotTo(Succeed())
		rs := with(a, "x.example.com")
		rs.RouteServiceURL = "http://rs.example.com"
		Expect(registry.Register(rs, now)).NotTo(Succeed())
		Expect(registry.Routes()).To(BeEmpty())
	})

	It("proxies websockets", func() {
		upgrader := websocket.Upgrader{}
		echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := upgrader.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer c.Close()
			for {
				kind, msg, err := c.ReadMessage()
				if err != nil || c.WriteMessage(kind, msg) != nil {
					return
				}
			}
		}))
		DeferCleanup(echo.Close)
		host, port, _ := net.SplitHostPort(echo.Listener.Addr().String())
		p, _ := strconv.Atoi(port)
		Expect(registry.Register(routeemitter.RegistryMessage{Host: host, Port: uint32(p), URIs: []string{"ws.example.com"}}, now)).To(Succeed())

		ws, _, err := websocket.DefaultDialer.Dial("ws://"+strings.TrimPrefix(proxy.URL, "http://")+"/", http.Header{"Host": {"ws.example.com"}})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(ws.Close)
		Expect(ws.WriteMessage(websocket.TextMessage, []byte("hello"))).To(Succeed())
		_, got, err := ws.ReadMessage()
		Expect(err).NotTo(HaveOccurred())
		Expect(string(got)).To(Equal("hello"))
	})

	Describe("the status handler", func() {
		It("serves health without auth and the table behind basic auth", func() {
			_, a := backend("a")
			Expect(registry.Register(with(a, "a.example.com"), now)).To(Succeed())
			health := &router.Health{}
			status := httptest.NewServer(router.StatusHandler(registry, health, "admin", "secret"))
			DeferCleanup(status.Close)
			resp, err := http.Get(status.URL + "/health")
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.StatusCode).To(Equal(http.StatusServiceUnavailable), "unavailable during the start delay")
			health.MarkReady()
			resp, err = http.Get(status.URL + "/healthz")
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.StatusCode).To(Equal(http.StatusOK))
			resp, err = http.Get(status.URL + "/routes")
			Expect(err).NotTo(HaveOccurred())
			Expect(resp.StatusCode).To(Equal(http.StatusUnauthorized))
			req, _ := http.NewRequest("GET", status.URL+"/routes", nil)
			req.SetBasicAuth("admin", "secret")
			resp, err = http.DefaultClient.Do(req)
			Expect(err).NotTo(HaveOccurred())
			var routes map[string][]router.RouteJSON
			Expect(json.NewDecoder(resp.Body).Decode(&routes)).To(Succeed())
			Expect(routes["a.example.com"]).To(HaveLen(1))
			Expect(routes["a.example.com"][0].Address).To(Equal(a.Host + ":" + strconv.Itoa(int(a.Port))))
			Expect(routes["a.example.com"][0].PrivateInstanceID).To(Equal("ig-a"))
		})
	})
})
