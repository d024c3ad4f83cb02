package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit/ginkgomon_v2"

	"diego/deploy/config"
	"diego/models"
	"diego/receptor"
	receptorclient "diego/receptor/client"
	receptorconfig "diego/receptor/config"
	emitterconfig "diego/routeemitter/config"
	routerconfig "diego/routeemitter/router/config"
	"diego/test/natsrunner"
	"diego/test/ports"
)

var _ = Describe("Routing through the real router", func() {
	const pruneInterval = time.Second
	var (
		api       *receptorclient.Client
		routerURL string
		ctx       = context.Background()
	)

	BeforeEach(func() {
		b := startBrain()
		startCell(b, 1)

		rc := receptorconfig.DefaultConfig()
		rc.ListenAddr, rc.BBSAddress = ports.Addr(), b.bbsURL
		run("receptor", rc, `"msg":"ready"`)
		var err error
		api, err = receptorclient.New(receptorclient.Config{URL: "http://" + rc.ListenAddr})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() ([]receptor.CellResponse, error) { return api.Cells(ctx) }, 20*time.Second).Should(HaveLen(1))
		Expect(api.UpsertDomain(ctx, "apps", 0)).To(Succeed())

		n := natsrunner.New(0)
		proc := ginkgomon_v2.Invoke(n)
		DeferCleanup(func() { ginkgomon_v2.Interrupt(proc, 5*time.Second) })
		natsAddr := "127.0.0.1:" + strconv.Itoa(int(n.Port()))

		r := routerconfig.DefaultConfig()
		r.ListenAddr, r.StatusAddress, r.NATSAddresses = ports.Addr(), ports.Addr(), natsAddr
		r.StartResponseDelayInterval = config.Duration(time.Second)
		r.DropletStaleThreshold = config.Duration(3 * time.Second)
		r.PruneStaleDropletsInterval = config.Duration(pruneInterval)
		run("router", r, `"msg":"ready"`)
		routerURL = "http://" + r.ListenAddr

		e := emitterconfig.DefaultConfig()
		e.ID, e.ReceptorURL, e.NATSAddresses = "it", "http://"+rc.ListenAddr, natsAddr
		e.ETCD = config.ETCD{Endpoints: []string{b.etcd.ClientURL()}}
		e.LockTTL, e.LockRetryInterval = config.Duration(3*time.Second), config.Duration(500*time.Millisecond)
		e.SyncInterval = config.Duration(5 * time.Second)
		e.HealthcheckAddress = ports.Addr()
		run("route-emitter", e, `"msg":"ready"`)
	})

	// get asks the router for host; it returns the status, the body and
	// the router's error header.
	get := func(host string) (int, string, string) {
		req, _ := http.NewRequest("GET", routerURL+"/index.html", nil)
		req.Host = host
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			return 0, err.Error(), ""
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(body)), resp.Header.Get("X-Cf-Routererror")
	}

	// desire asks for instances of pg at host, each serving its index; an
	// instance lives lifetime(index) seconds, then crashes (0: forever).
	desire := func(pg, host string, instances int32, lifetime string) {
		GinkgoHelper()
		script := "mkdir -p /tmp/www && echo instance-$INSTANCE_INDEX > /tmp/www/index.html && "
		if lifetime == "" {
			script += "exec httpd -f -p 8080 -h /tmp/www"
		} else {
			script += "httpd -p 8080 -h /tmp/www && sleep " + lifetime + " && exit 3"
		}
		routes, _ := json.Marshal([]map[string]any{{"hostnames": []string{host}, "port": 8080}})
		Expect(api.CreateDesiredLRP(ctx, receptor.DesiredLRPCreateRequest{
			ProcessGuid: pg, Domain: "apps", RootFS: "preloaded:cflinuxfs3", Instances: instances,
			MemoryMB: 64, DiskMB: 64, Ports: []uint16{8080}, LogGuid: pg, LogSource: "APP",
			Routes: receptor.RoutingInfo{"cf-router": routes},
			Action: &models.Action{RunAction: &models.RunAction{Path: "sh", Args: []string{"-c", script}, User: "vcap"}},
		})).To(Succeed())
	}

	It("reaches every instance by its route, and answers unknown_route once the LRP is deleted", func() {
		desire("web", "web.apps.localhost", 2, "")
		seen := map[string]bool{}
		Eventually(func() map[string]bool {
			if code, body, _ := get("web.apps.localhost"); code == http.StatusOK {
				seen[body] = true
			}
			return seen
		}, 90*time.Second, 100*time.Millisecond).Should(Equal(map[string]bool{"instance-0": true, "instance-1": true}))

		Expect(api.DeleteDesiredLRP(ctx, "web")).To(Succeed())
		Eventually(func() []string {
			code, _, routerErr := get("web.apps.localhost")
			return []string{strconv.Itoa(code), routerErr}
		}, 10*time.Second, 100*time.Millisecond).Should(Equal([]string{"404", "unknown_route"}))
	})

	It("sends no request to a dead instance for longer than one prune interval during a rolling crash", func() {
		// Instances live 8, 11 and 14 seconds, crash, restart, and so on.
		desire("crashy", "crashy.apps.localhost", 3, "$((8 + 3 * INSTANCE_INDEX))")
		Eventually(func() int { code, _, _ := get("crashy.apps.localhost"); return code }, 90*time.Second, 100*time.Millisecond).
			Should(Equal(http.StatusOK))

		deadline := time.Now().Add(25 * time.Second)
		var failingSince time.Time
		var longest time.Duration
		var failures, requests int
		for time.Now().Before(deadline) {
			code, body, _ := get("crashy.apps.localhost")
			requests++
			now := time.Now()
			if code == http.StatusOK && strings.HasPrefix(body, "instance-") {
				if !failingSince.IsZero() {
					longest = max(longest, now.Sub(failingSince))
				}
				failingSince = time.Time{}
			} else {
				failures++
				if failingSince.IsZero() {
					failingSince = now
				}
			}
			time.Sleep(50 * time.Millisecond) // a steady request rate, not a wait for a condition
		}
		if !failingSince.IsZero() {
			longest = max(longest, time.Since(failingSince))
		}
		crashes := int32(0)
		lrps, err := api.ActualLRPsByProcessGuid(ctx, "crashy")
		Expect(err).NotTo(HaveOccurred())
		for _, l := range lrps {
			crashes += l.CrashCount
		}
		AddReportEntry("rolling crash", fmt.Sprintf("%d requests, %d failed, longest failure streak %s, %d crashes", requests, failures, longest, crashes))
		Expect(crashes).To(BeNumerically(">=", 2), "the instances crashed while requests ran")
		Expect(longest).To(BeNumerically("<", pruneInterval))
	})
})
