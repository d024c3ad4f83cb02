package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"
	"github.com/tedsuo/ifrit/ginkgomon_v2"
	"google.golang.org/protobuf/proto"

	bbsclient "diego/bbs/client"
	"diego/metron/events"
	"diego/models"
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

func start(binary string, cfg map[string]any) *gexec.Session {
	GinkgoHelper()
	body, _ := json.Marshal(cfg)
	path := filepath.Join(GinkgoT().TempDir(), binary+".json")
	Expect(os.WriteFile(path, body, 0o644)).To(Succeed())
	s, err := gexec.Start(exec.Command(paths[binary], "-config", path), GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { s.Interrupt().Wait(10 * time.Second) })
	return s
}

var _ = Describe("The metrics-server binary", func() {
	It("publishes the BBS's figures as dropsonde gauges and as JSON", func() {
		etcd := etcdrunner.New(etcdrunner.Config{LogWriter: GinkgoWriter})
		proc := ginkgomon_v2.Invoke(etcd)
		DeferCleanup(func() { ginkgomon_v2.Interrupt(proc, 10*time.Second); _ = etcd.Cleanup() })

		bbsAddr := ports.Addr()
		bbs := start("bbs", map[string]any{"listen_addr": bbsAddr, "health_address": ports.Addr(),
			"etcd": map[string]any{"endpoints": []string{etcd.ClientURL()}}})
		Eventually(bbs.Out, 20*time.Second).Should(gbytes.Say(`"msg":"ready"`))
		client, err := bbsclient.New(bbsclient.Config{URL: "http://" + bbsAddr})
		Expect(err).NotTo(HaveOccurred())
		def := &models.TaskDefinition{RootFs: "preloaded:x", Action: models.WrapAction(&models.RunAction{Path: "/bin/true", User: "vcap"})}
		Expect(client.DesireTask(context.Background(), "t1", "d", def)).To(Succeed())
		Expect(client.UpsertDomain(context.Background(), "cf-apps", 0)).To(Succeed())

		metron, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(metron.Close)
		listen := ports.Addr()
		start("metrics-server", map[string]any{"listen_addr": listen, "bbs_address": "http://" + bbsAddr,
			"report_interval": "200ms", "dropsonde_port": metron.LocalAddr().(*net.UDPAddr).Port})

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
