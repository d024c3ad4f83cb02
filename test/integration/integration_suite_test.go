package integration_test

import (
	"encoding/json"
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

	"diego/test/etcdrunner"
	"diego/test/ports"
)

// The integration suites run the real binaries together (DESIGN.md §4.8).
func TestIntegration(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Integration Suite")
}

var binaries map[string]string

var _ = SynchronizedBeforeSuite(func() []byte {
	built := map[string]string{}
	// Static: garden re-executes itself inside containers.
	for _, name := range []string{"bbs", "auctioneer", "converger", "garden", "executor", "rep", "receptor", "router", "route-emitter"} {
		path, err := gexec.BuildWithEnvironment("diego/cmd/"+name, []string{"CGO_ENABLED=0"})
		Expect(err).NotTo(HaveOccurred())
		built[name] = path
	}
	b, _ := json.Marshal(built)
	return b
}, func(b []byte) {
	Expect(json.Unmarshal(b, &binaries)).To(Succeed())
})

var _ = SynchronizedAfterSuite(func() {}, func() { gexec.CleanupBuildArtifacts() })

// startEtcd runs an embedded etcd for one spec.
func startEtcd() *etcdrunner.Runner {
	GinkgoHelper()
	r := etcdrunner.New(etcdrunner.Config{LogWriter: GinkgoWriter})
	p := ginkgomon_v2.Invoke(r)
	DeferCleanup(func() { ginkgomon_v2.Interrupt(p, 10*time.Second); _ = r.Cleanup() })
	return r
}

// run starts a binary with cfg and waits for readyLine in its log.
func run(name string, cfg map[string]any, readyLine string) *gexec.Session {
	GinkgoHelper()
	body, _ := json.Marshal(cfg)
	path := filepath.Join(GinkgoT().TempDir(), name+".json")
	Expect(os.WriteFile(path, body, 0o644)).To(Succeed())
	s, err := gexec.Start(exec.Command(binaries[name], "-config", path), GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { s.Interrupt().Wait(10 * time.Second) })
	if readyLine != "" {
		Eventually(s.Out, 20*time.Second).Should(gbytes.Say(readyLine))
	}
	return s
}

// brain is a BBS, an auctioneer and a converger against one etcd.
type brain struct {
	etcd    *etcdrunner.Runner
	bbsURL  string
	lockTTL time.Duration

	bbs         *gexec.Session
	bbsConfig   map[string]any
	auctioneers []*gexec.Session
	convergers  []*gexec.Session
}

func startBrain() *brain {
	GinkgoHelper()
	etcd := startEtcd()
	b := &brain{etcd: etcd, bbsURL: "http://" + ports.Addr(), lockTTL: 3 * time.Second}
	b.bbsConfig = map[string]any{
		"listen_addr": b.bbsURL[len("http://"):], "health_address": ports.Addr(),
		"etcd": map[string]any{"endpoints": []string{etcd.ClientURL()}},
	}
	b.bbs = run("bbs", b.bbsConfig, `"msg":"ready"`)
	b.startAuctioneer(`"msg":"ready"`)
	b.startConverger(`"msg":"started"`)
	return b
}

// startAuctioneer adds an auctioneer; readyLine "" starts a standby
// without waiting for it to hold the lock.
func (b *brain) startAuctioneer(readyLine string) *gexec.Session {
	GinkgoHelper()
	addr := ports.Addr()
	s := run("auctioneer", map[string]any{
		"listen_addr": addr, "advertise_address": "http://" + addr, "id": addr,
		"bbs_address": b.bbsURL, "etcd": map[string]any{"endpoints": []string{b.etcd.ClientURL()}}, "lock_ttl": "3s", "lock_retry_interval": "500ms",
	}, readyLine)
	b.auctioneers = append(b.auctioneers, s)
	return s
}

// startConverger adds a converger, like startAuctioneer.
func (b *brain) startConverger(readyLine string) *gexec.Session {
	GinkgoHelper()
	s := run("converger", map[string]any{
		"bbs_address": b.bbsURL, "etcd": map[string]any{"endpoints": []string{b.etcd.ClientURL()}}, "lock_ttl": "3s",
		"lock_retry_interval": "500ms", "id": ports.Addr(),
	}, readyLine)
	b.convergers = append(b.convergers, s)
	return s
}

// restartBBS kills the BBS and starts a new one on the same address.
func (b *brain) restartBBS() {
	GinkgoHelper()
	b.bbs.Kill()
	Eventually(b.bbs, 10*time.Second).Should(gexec.Exit())
	b.bbs = run("bbs", b.bbsConfig, `"msg":"ready"`)
}
