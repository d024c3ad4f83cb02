package integration_test

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
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

// suitePackages are every binary the suites run: the daemons and CLIs
// under cmd/, and the buildpack lifecycle's builder and launcher (its
// healthcheck is cmd/healthcheck).
var suitePackages = []string{
	"bbs", "auctioneer", "converger", "garden", "executor", "rep", "receptor", "router", "route-emitter",
	"nsync", "tps", "healthcheck", "stager", "file-server", "metron", "doppler", "cloud-controller", "diego",
	"diego/ccbridge/lifecycle/cmd/builder", "diego/ccbridge/lifecycle/cmd/launcher",
}

var (
	// binaries are the suite's binaries by name (cmd/<name>, builder,
	// launcher), built once per suite run: the first process builds them
	// all in one go build, the others are given the directory.
	binaries map[string]string
	// binDir holds them; it is also the lifecycle bundle's source, the
	// builder, launcher and healthcheck that bundle.Write packs.
	binDir string
)

var _ = SynchronizedBeforeSuite(func() []byte {
	dir, err := os.MkdirTemp("", "integration-bin-")
	Expect(err).NotTo(HaveOccurred())
	args := []string{"build", "-o", dir + "/"}
	for _, p := range suitePackages {
		if !strings.Contains(p, "/") {
			p = "diego/cmd/" + p
		}
		args = append(args, p)
	}
	cmd := exec.Command("go", args...)
	// Static: garden re-executes itself inside containers, and the
	// lifecycle binaries run in the containers' rootfs.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), string(out))
	return []byte(dir)
}, func(dir []byte) {
	binDir = string(dir)
	binaries = map[string]string{}
	for _, p := range suitePackages {
		name := path.Base(p)
		binaries[name] = filepath.Join(binDir, name)
		Expect(binaries[name]).To(BeAnExistingFile())
	}
})

var _ = SynchronizedAfterSuite(func() {}, func() { Expect(os.RemoveAll(binDir)).To(Succeed()) })

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
