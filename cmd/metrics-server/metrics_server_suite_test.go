package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	"github.com/tedsuo/ifrit/ginkgomon_v2"
	"google.golang.org/protobuf/proto"

	bbsclient "diego/bbs/client"
	"diego/bbs/metricsserver"
	"diego/deploy/cluster"
	"diego/deploy/config"
	"diego/metron/events"
	"diego/models"
	"diego/test/daemontest"
	"diego/test/etcdrunner"
	"diego/test/ports"
)

func TestMetricsServer(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Metrics-server Binary Suite")
}

var paths map[string]string

var _ = SynchronizedBeforeSuite(func() []byte {
	bbs, err := gexec.Build("diego/cmd/bbs")
	Expect(err).NotTo(HaveOccurred())
	ms, err := gexec.Build("diego/cmd/metrics-server")
	Expect(err).NotTo(HaveOccurred())
	b, _ := json.Marshal(map[string]string{"bbs": bbs, "metrics-server": ms})
	return b
}, func(b []byte) {
	Expect(json.Unmarshal(b, &paths)).To(Succeed())
})

var _ = SynchronizedAfterSuite(func() {}, func() { gexec.CleanupBuildArtifacts() })

var _ = Describe("The metrics-server binary", func() {
	It("publishes the BBS's figures as dropsonde gauges and as JSON", func() {
		etcd := etcdrunner.New(etcdrunner.Config{LogWriter: GinkgoWriter})
		proc := ginkgomon_v2.Invoke(etcd)
		DeferCleanup(func() { ginkgomon_v2.Interrupt(proc, 10*time.Second); _ = etcd.Cleanup() })

		bbsAddr := ports.Addr()
		m := cluster.Maker{ETCD: config.ETCD{Endpoints: []string{etcd.ClientURL()}}, BBSURL: "http://" + bbsAddr}
		daemontest.Start(paths["bbs"], m.BBS(bbsAddr, ports.Addr()), daemontest.Ready)
		client, err := bbsclient.New(bbsclient.Config{URL: "http://" + bbsAddr})
		Expect(err).NotTo(HaveOccurred())
		def := &models.TaskDefinition{RootFs: "preloaded:x", Action: models.WrapAction(&models.RunAction{Path: "/bin/true", User: "vcap"})}
		Expect(client.DesireTask(context.Background(), "t1", "d", def)).To(Succeed())
		Expect(client.UpsertDomain(context.Background(), "cf-apps", 0)).To(Succeed())

		metron, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(metron.Close)
		listen := ports.Addr()
		daemontest.Start(paths["metrics-server"], m.MetricsServer(listen, func(c *metricsserver.Config) {
			c.ReportInterval = config.Duration(200 * time.Millisecond)
			c.DropsondePort = metron.LocalAddr().(*net.UDPAddr).Port
		}), daemontest.Ready)

		Eventually(func() map[string]float64 {
			resp, err := http.Get(fmt.Sprintf("http://%s/v1/metrics", listen))
			if err != nil {
				return nil
			}
			defer resp.Body.Close()
			var figures map[string]float64
			_ = json.NewDecoder(resp.Body).Decode(&figures)
			return figures
		}, 10*time.Second).Should(And(HaveKeyWithValue("TasksPending", 1.0), HaveKeyWithValue("Domain.cf-apps", 1.0),
			HaveKeyWithValue("PresentCells", 0.0)))

		buf := make([]byte, 65536)
		seen := map[string]bool{}
		for !seen["TasksPending"] {
			Expect(metron.SetReadDeadline(time.Now().Add(5 * time.Second))).To(Succeed())
			n, err := metron.Read(buf)
			Expect(err).NotTo(HaveOccurred())
			env := &events.Envelope{}
			Expect(proto.Unmarshal(buf[:n], env)).To(Succeed())
			Expect(env.GetOrigin()).To(Equal("metrics-server"))
			seen[env.GetValueMetric().GetName()] = true
		}
	})
})
