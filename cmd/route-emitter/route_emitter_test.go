package main_test

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/ginkgomon_v2"

	bbsclient "diego/bbs/client"
	"diego/models"
	"diego/receptor"
	receptorclient "diego/receptor/client"
	"diego/test/natsrunner"
	"diego/test/ports"
)

// lrp is a desired LRP with cf-router routes on 8080.
func lrp(pg string, instances int32, hostnames ...string) receptor.DesiredLRPCreateRequest {
	routes, _ := json.Marshal([]map[string]any{{"hostnames": hostnames, "port": 8080}})
	return receptor.DesiredLRPCreateRequest{
		ProcessGuid: pg, Domain: "cf-apps", RootFS: "docker:///busybox", Instances: instances,
		MemoryMB: 64, DiskMB: 64, Ports: []uint16{8080}, LogGuid: "log-" + pg,
		Routes: receptor.RoutingInfo{"cf-router": routes},
		Action: &models.Action{RunAction: &models.RunAction{Path: "/bin/true", User: "vcap"}},
	}
}

func cfRoutes(port uint32, hostnames ...string) receptor.RoutingInfo {
	raw, _ := json.Marshal([]map[string]any{{"hostnames": hostnames, "port": port}})
	return receptor.RoutingInfo{"cf-router": raw}
}

var _ = Describe("The route-emitter binary", func() {
	var (
		bbsURL      string
		bbs         *bbsclient.Client
		receptorURL string
		receptorAt  string
		api         *receptorclient.Client
		natsPort    uint16
		natsProc    ifrit.Process
		fake        *fakeRouter
		receptorRun *gexec.Session
	)

	BeforeEach(func() {
		Expect(etcd.Reset()).To(Succeed())
		var err error
		bbsURL = startBBS()
		bbs, err = bbsclient.New(bbsclient.Config{URL: bbsURL})
		Expect(err).NotTo(HaveOccurred())
		receptorAt = ports.Addr()
		receptorRun = startReceptor(bbsURL, receptorAt)
		receptorURL = "http://" + receptorAt
		api, err = receptorclient.New(receptorclient.Config{URL: receptorURL})
		Expect(err).NotTo(HaveOccurred())
		Expect(api.UpsertDomain(ctx, "cf-apps", 0)).To(Succeed())
		var n *natsrunner.Runner
		n, natsProc = startNATS(0)
		natsPort = n.Port()
		fake = newFakeRouter(n.URL(), 1)
	})

	// run makes index i of pg RUNNING on 10.0.0.<i+1>:6100<i>, as a rep
	// would.
	run := func(pg string, i int32, ig string) {
		GinkgoHelper()
		key := &models.ActualLRPKey{ProcessGuid: pg, Index: i, Domain: "cf-apps"}
		ik := &models.ActualLRPInstanceKey{InstanceGuid: ig, CellId: "cell-1"}
		Expect(bbs.ClaimActualLRP(ctx, key, ik)).To(Succeed())
		Expect(bbs.StartActualLRP(ctx, &models.StartActualLRPRequest{ActualLrpKey: key, ActualLrpInstanceKey: ik,
			ActualLrpNetInfo: &models.ActualLRPNetInfo{Address: "10.0.0." + strconv.Itoa(int(i)+1),
				Ports: []*models.PortMapping{{ContainerPort: 8080, HostPort: 61000 + uint32(i)}}}})).To(Succeed())
	}
	addr := func(i int) string { return "10.0.0." + strconv.Itoa(i+1) + ":" + strconv.Itoa(61000+i) }
	addresses := func(uri string) func() []string { return func() []string { return fake.Addresses(uri) } }

	It("registers instances as they start and unregisters them as they crash, scale down, and go", func() {
		emitter := start("route-emitter", emitterConfig("a", receptorURL, natsPort), true)
		Expect(api.CreateDesiredLRP(ctx, lrp("pg", 2, "app.example.com"))).To(Succeed())
		Consistently(addresses("app.example.com"), time.Second).Should(BeEmpty(), "nothing runs yet")

		run("pg", 0, "ig-0")
		Eventually(addresses("app.example.com"), 5*time.Second).Should(Equal([]string{addr(0)}))
		run("pg", 1, "ig-1")
		Eventually(addresses("app.example.com"), 5*time.Second).Should(Equal([]string{addr(0), addr(1)}))

		By("the exact registration JSON")
		Eventually(fake.Raw).Should(ContainElement(MatchJSON(`{"host":"10.0.0.1","port":61000,"uris":["app.example.com"],` +
			`"app":"log-pg","private_instance_id":"ig-0","private_instance_index":"0","server_cert_domain_san":"ig-0",` +
			`"tags":{"component":"route-emitter"}}`)))

		By("a crash")
		Expect(bbs.CrashActualLRP(ctx, &models.ActualLRPKey{ProcessGuid: "pg", Index: 1, Domain: "cf-apps"},
			&models.ActualLRPInstanceKey{InstanceGuid: "ig-1", CellId: "cell-1"}, "boom")).To(Succeed())
		Eventually(addresses("app.example.com"), 5*time.Second).Should(Equal([]string{addr(0)}))

		By("a scale up, then down")
		three := int32(3)
		Expect(api.UpdateDesiredLRP(ctx, "pg", receptor.DesiredLRPUpdateRequest{Instances: &three})).To(Succeed())
		Eventually(func() error {
			return bbs.ClaimActualLRP(ctx, &models.ActualLRPKey{ProcessGuid: "pg", Index: 2, Domain: "cf-apps"}, &models.ActualLRPInstanceKey{InstanceGuid: "ig-2", CellId: "cell-1"})
		}, 5*time.Second).Should(Succeed())
		Expect(bbs.StartActualLRP(ctx, &models.StartActualLRPRequest{
			ActualLrpKey:         &models.ActualLRPKey{ProcessGuid: "pg", Index: 2, Domain: "cf-apps"},
			ActualLrpInstanceKey: &models.ActualLRPInstanceKey{InstanceGuid: "ig-2", CellId: "cell-1"},
			ActualLrpNetInfo:     &models.ActualLRPNetInfo{Address: "10.0.0.3", Ports: []*models.PortMapping{{ContainerPort: 8080, HostPort: 61002}}}})).To(Succeed())
		Eventually(addresses("app.example.com"), 5*time.Second).Should(Equal([]string{addr(0), addr(2)}))
		one := int32(1)
		Expect(api.UpdateDesiredLRP(ctx, "pg", receptor.DesiredLRPUpdateRequest{Instances: &one})).To(Succeed())
		Eventually(addresses("app.example.com"), 5*time.Second).Should(Equal([]string{addr(0)}))

		By("route changes: added, removed, port changed")
		Expect(api.UpdateDesiredLRP(ctx, "pg", receptor.DesiredLRPUpdateRequest{Routes: cfRoutes(8080, "app.example.com", "www.example.com")})).To(Succeed())
		Eventually(addresses("www.example.com"), 5*time.Second).Should(Equal([]string{addr(0)}))
		Expect(api.UpdateDesiredLRP(ctx, "pg", receptor.DesiredLRPUpdateRequest{Routes: cfRoutes(8080, "www.example.com")})).To(Succeed())
		Eventually(addresses("app.example.com"), 5*time.Second).Should(BeEmpty())
		Expect(api.UpdateDesiredLRP(ctx, "pg", receptor.DesiredLRPUpdateRequest{Routes: cfRoutes(9999, "www.example.com")})).To(Succeed())
		Eventually(addresses("www.example.com"), 5*time.Second).Should(BeEmpty(), "no host port maps 9999")

		By("the LRP's removal")
		Expect(api.UpdateDesiredLRP(ctx, "pg", receptor.DesiredLRPUpdateRequest{Routes: cfRoutes(8080, "app.example.com")})).To(Succeed())
		Eventually(addresses("app.example.com"), 5*time.Second).Should(Equal([]string{addr(0)}))
		Expect(api.DeleteDesiredLRP(ctx, "pg")).To(Succeed())
		Eventually(addresses("app.example.com"), 5*time.Second).Should(BeEmpty())
		Expect(emitter).NotTo(gexec.Exit())
	})

	It("keeps an evacuating instance routed until its replacement runs", func() {
		start("route-emitter", emitterConfig("a", receptorURL, natsPort), true)
		Expect(api.CreateDesiredLRP(ctx, lrp("pg", 1, "app.example.com"))).To(Succeed())
		run("pg", 0, "ig-0")
		Eventually(addresses("app.example.com"), 5*time.Second).Should(Equal([]string{addr(0)}))
		unregistersBefore := fake.Unregisters()

		key := &models.ActualLRPKey{ProcessGuid: "pg", Index: 0, Domain: "cf-apps"}
		oldInstance := &models.ActualLRPInstanceKey{InstanceGuid: "ig-0", CellId: "cell-1"}
		_, err := bbs.EvacuateRunningActualLRP(ctx, &models.EvacuateRunningActualLRPRequest{ActualLrpKey: key,
			ActualLrpInstanceKey: oldInstance, Ttl: 60,
			ActualLrpNetInfo: &models.ActualLRPNetInfo{Address: "10.0.0.1", Ports: []*models.PortMapping{{ContainerPort: 8080, HostPort: 61000}}}})
		Expect(err).NotTo(HaveOccurred())
		Consistently(addresses("app.example.com"), time.Second).Should(Equal([]string{addr(0)}), "still routed while it evacuates")
		Expect(fake.Unregisters()).To(Equal(unregistersBefore))

		newInstance := &models.ActualLRPInstanceKey{InstanceGuid: "ig-new", CellId: "cell-2"}
		Expect(bbs.ClaimActualLRP(ctx, key, newInstance)).To(Succeed())
		Expect(bbs.StartActualLRP(ctx, &models.StartActualLRPRequest{ActualLrpKey: key, ActualLrpInstanceKey: newInstance,
			ActualLrpNetInfo: &models.ActualLRPNetInfo{Address: "10.0.0.9", Ports: []*models.PortMapping{{ContainerPort: 8080, HostPort: 61009}}}})).To(Succeed())
		Eventually(addresses("app.example.com"), 5*time.Second).Should(ContainElement("10.0.0.9:61009"))
		Expect(bbs.RemoveEvacuatingActualLRP(ctx, key, oldInstance)).To(Succeed())
		Eventually(addresses("app.example.com"), 5*time.Second).Should(Equal([]string{"10.0.0.9:61009"}))
	})

	It("re-emits every registration each interval the router's greet reply gives", func() {
		start("route-emitter", emitterConfig("a", receptorURL, natsPort), true)
		Expect(api.CreateDesiredLRP(ctx, lrp("pg", 1, "app.example.com"))).To(Succeed())
		run("pg", 0, "ig-0")
		Eventually(addresses("app.example.com"), 5*time.Second).ShouldNot(BeEmpty())
		before := fake.Registers()
		Eventually(fake.Registers, 5*time.Second).Should(BeNumerically(">=", before+3), "one a second")
	})

	It("re-registers everything after a NATS restart", func() {
		emitter := start("route-emitter", emitterConfig("a", receptorURL, natsPort), true)
		Expect(api.CreateDesiredLRP(ctx, lrp("pg", 1, "app.example.com"))).To(Succeed())
		run("pg", 0, "ig-0")
		Eventually(addresses("app.example.com"), 5*time.Second).ShouldNot(BeEmpty())

		ginkgomon_v2.Interrupt(natsProc, 5*time.Second)
		Eventually(emitter.Out, 5*time.Second).Should(gbytes.Say(`nats-disconnected`))
		startNATS(natsPort)
		// A router that lost everything with the server: a fresh one.
		fresh := newFakeRouter("nats://127.0.0.1:"+strconv.Itoa(int(natsPort)), 0)
		Eventually(emitter.Out, 10*time.Second).Should(gbytes.Say(`nats-reconnected`))
		Eventually(func() []string { return fresh.Addresses("app.example.com") }, 5*time.Second).Should(Equal([]string{addr(0)}))
	})

	It("recovers from a receptor restart: resubscribes and syncs what it missed", func() {
		emitter := start("route-emitter", emitterConfig("a", receptorURL, natsPort), true)
		Expect(api.CreateDesiredLRP(ctx, lrp("pg", 2, "app.example.com"))).To(Succeed())
		run("pg", 0, "ig-0")
		Eventually(addresses("app.example.com"), 5*time.Second).Should(Equal([]string{addr(0)}))

		receptorRun.Kill().Wait(5 * time.Second)
		Eventually(emitter.Out, 5*time.Second).Should(gbytes.Say(`event-stream-ended`))
		// Changed while the receptor was away: only a sync can tell.
		run("pg", 1, "ig-1")
		startReceptor(bbsURL, receptorAt)
		Eventually(addresses("app.example.com"), 10*time.Second).Should(Equal([]string{addr(0), addr(1)}))
		Expect(emitter).NotTo(gexec.Exit())
	})

	It("emits only while it holds the lock; a standby takes over", func() {
		a := start("route-emitter", emitterConfig("a", receptorURL, natsPort), true)
		b := start("route-emitter", emitterConfig("b", receptorURL, natsPort), false)
		Consistently(b.Out, 2*time.Second).ShouldNot(gbytes.Say(`"msg":"ready"`), "the standby waits for the lock")
		Expect(b.Out.Contents()).NotTo(ContainSubstring(`"synced"`))

		a.Kill().Wait(5 * time.Second)
		Eventually(b.Out, 10*time.Second).Should(gbytes.Say(`"msg":"ready"`))
		Expect(api.CreateDesiredLRP(ctx, lrp("pg", 1, "app.example.com"))).To(Succeed())
		run("pg", 0, "ig-0")
		Eventually(addresses("app.example.com"), 5*time.Second).Should(Equal([]string{addr(0)}))
	})

	It("logs and ignores malformed router.start messages and greet replies", func() {
		// A second router answers greet with garbage.
		_, err := fake.conn.Subscribe("router.greet", func(m *nats.Msg) { _ = fake.conn.Publish(m.Reply, []byte(`{not json`)) })
		Expect(err).NotTo(HaveOccurred())
		Expect(fake.conn.Flush()).To(Succeed())
		emitter := start("route-emitter", emitterConfig("a", receptorURL, natsPort), true)
		Expect(fake.conn.Publish("router.start", []byte(`{"id":"x","minimumRegisterIntervalInSeconds":"soon"}`))).To(Succeed())
		Expect(fake.conn.Publish("router.start", []byte(`{"id":"x"}`))).To(Succeed())
		Eventually(emitter.Out, 5*time.Second).Should(gbytes.Say(`malformed-router-start`))
		Expect(fake.conn.Publish("router.start", []byte(`{not json`))).To(Succeed())
		Eventually(emitter.Out, 5*time.Second).Should(gbytes.Say(`router-start-without-interval`))
		Expect(api.CreateDesiredLRP(ctx, lrp("pg", 1, "app.example.com"))).To(Succeed())
		run("pg", 0, "ig-0")
		Eventually(addresses("app.example.com"), 5*time.Second).Should(Equal([]string{addr(0)}))
		Expect(emitter).NotTo(gexec.Exit())
	})
})
