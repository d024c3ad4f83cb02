package main_test

import (
	"net/http/httptest"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"diego/routeemitter"
	"diego/routeemitter/router"
)

var _ = Describe("diego routes", func() {
	var statusURL string

	BeforeEach(func() {
		registry := router.NewRegistry(time.Minute)
		Expect(registry.Register(routeemitter.RegistryMessage{Host: "10.0.0.5", Port: 61001, URIs: []string{"hello-lrp.apps.localhost"},
			App: "hello-lrp", PrivateInstanceID: "ig-0", PrivateInstanceIndex: "0"}, time.Now())).To(Succeed())
		health := &router.Health{}
		health.MarkReady()
		server := httptest.NewServer(router.StatusHandler(registry, health, "admin", "secret"))
		DeferCleanup(server.Close)
		statusURL = strings.Replace(server.URL, "http://", "http://admin:secret@", 1)
	})

	It("lists the router's table", func() {
		s := diego([]string{"DIEGO_ROUTER_STATUS=" + statusURL}, "", "routes")
		Eventually(s, 10*time.Second).Should(gexec.Exit(0))
		Expect(s.Out).To(gbytes.Say(`ROUTE\s+ADDRESS\s+INDEX\s+INSTANCE GUID\s+APP`))
		Expect(s.Out).To(gbytes.Say(`hello-lrp.apps.localhost\s+10.0.0.5:61001\s+0\s+ig-0\s+hello-lrp`))
	})

	It("says when the credentials are wrong or nothing listens", func() {
		s := diego(nil, "", "routes", "--router", strings.Replace(statusURL, "secret", "wrong", 1))
		Eventually(s, 10*time.Second).Should(gexec.Exit(1))
		Expect(s.Err).To(gbytes.Say(`refused the status credentials`))
		s = diego(nil, "", "routes", "--router", "http://127.0.0.1:1")
		Eventually(s, 10*time.Second).Should(gexec.Exit(1))
		Expect(s.Err).To(gbytes.Say(`cannot reach the router's status port at http://127.0.0.1:1/routes: nothing listens there`))
	})
})
