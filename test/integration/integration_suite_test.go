package integration_test

import (
	"encoding/json"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	"github.com/tedsuo/ifrit/ginkgomon_v2"

	auctioneerconfig "diego/auctioneer/config"
	bbsconfig "diego/bbs/config"
	convergerconfig "diego/converger/config"
	"diego/deploy/cluster"
	"diego/deploy/config"
	"diego/test/daemontest"
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

// run starts a daemon's binary with its typed cfg and waits for readyLine
// in its log.
func run(name string, cfg any, readyLine string) *gexec.Session {
	GinkgoHelper()
	return daemontest.Start(binaries[name], cfg, readyLine)
}

// brain is a BBS, an auctioneer and a converger against one etcd.
type brain struct {
	etcd    *etcdrunner.Runner
	bbsURL  string
	lockTTL time.Duration
	// maker builds every daemon's config against this brain.
	maker cluster.Maker

	bbs         *gexec.Session
	bbsConfig   bbsconfig.Config
	auctioneers []*gexec.Session
	convergers  []*gexec.Session
}

func startBrain() *brain {
	GinkgoHelper()
	etcd := startEtcd()
	listen := ports.Addr()
	b := &brain{etcd: etcd, bbsURL: "http://" + listen, lockTTL: 3 * time.Second}
	b.maker = cluster.Maker{ETCD: config.ETCD{Endpoints: []string{etcd.ClientURL()}}, BBSURL: b.bbsURL, LogLevel: "info"}
	b.bbsConfig = b.maker.BBS(listen, ports.Addr())
	b.bbs = run("bbs", b.bbsConfig, daemontest.Ready)
	b.startAuctioneer(daemontest.Ready)
	b.startConverger(`"msg":"started"`)
	return b
}

// startAuctioneer adds an auctioneer; readyLine "" starts a standby
// without waiting for it to hold the lock.
func (b *brain) startAuctioneer(readyLine string) *gexec.Session {
	GinkgoHelper()
	addr := ports.Addr()
	s := run("auctioneer", b.maker.Auctioneer(addr, addr, func(c *auctioneerconfig.Config) {
		c.LockTTL = config.Duration(b.lockTTL)
		c.LockRetryInterval = config.Duration(500 * time.Millisecond)
	}), readyLine)
	b.auctioneers = append(b.auctioneers, s)
	return s
}

// startConverger adds a converger, like startAuctioneer.
func (b *brain) startConverger(readyLine string, mods ...func(*convergerconfig.Config)) *gexec.Session {
	GinkgoHelper()
	s := run("converger", b.maker.Converger(ports.Addr(), append([]func(*convergerconfig.Config){
		func(c *convergerconfig.Config) {
			c.LockTTL = config.Duration(b.lockTTL)
			c.LockRetryInterval = config.Duration(500 * time.Millisecond)
		}}, mods...)...), readyLine)
	b.convergers = append(b.convergers, s)
	return s
}

// restartBBS kills the BBS and starts a new one on the same address.
func (b *brain) restartBBS() {
	GinkgoHelper()
	b.bbs.Kill()
	Eventually(b.bbs, 10*time.Second).Should(gexec.Exit())
	b.bbs = run("bbs", b.bbsConfig, daemontest.Ready)
}
