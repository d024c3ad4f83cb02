package main_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/ginkgomon_v2"

	bbsconfig "diego/bbs/config"
	"diego/ccbridge/nsync/config"
	"diego/ccbridge/standincc"
	deployconfig "diego/deploy/config"
	receptorclient "diego/receptor/client"
	receptorconfig "diego/receptor/config"
	"diego/test/etcdrunner"
	"diego/test/ports"
)

func TestNsync(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Nsync Binary Suite")
}

var (
	binaries map[string]string
	etcd     *etcdrunner.Runner
	etcdProc ifrit.Process
	ctx      = context.Background()
)

var _ = SynchronizedBeforeSuite(func() []byte {
	built := map[string]string{}
	for _, name := range []string{"bbs", "receptor", "nsync"} {
		path, err := gexec.Build("diego/cmd/" + name)
		Expect(err).NotTo(HaveOccurred())
		built[name] = path
	}
	b, _ := json.Marshal(built)
	return b
}, func(b []byte) {
	Expect(json.Unmarshal(b, &binaries)).To(Succeed())
	etcd = etcdrunner.New(etcdrunner.Config{LogWriter: GinkgoWriter})
	etcdProc = ginkgomon_v2.Invoke(etcd)
})

var _ = SynchronizedAfterSuite(func() {
	ginkgomon_v2.Interrupt(etcdProc, 10*time.Second)
	_ = etcd.Cleanup()
}, func() {
	gexec.CleanupBuildArtifacts()
})

// run starts a binary with its typed config and waits until it logs "ready".
func run(name string, cfg any) *gexec.Session {
	GinkgoHelper()
	body, err := json.Marshal(cfg)
	Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(GinkgoT().TempDir(), name+".json")
	Expect(os.WriteFile(path, body, 0o644)).To(Succeed())
	s, err := gexec.Start(exec.Command(binaries[name], "-config", path), GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { s.Interrupt().Wait(10 * time.Second) })
	Eventually(s.Out, 20*time.Second).Should(gbytes.Say(`"msg":"ready"`))
	return s
}

// cluster is a BBS under its own etcd root, a receptor in front of it and
// a stand-in CC; nsync is started by each spec.
type cluster struct {
	root        string
	receptorURL string
	receptor    *receptorclient.Client
	cc          *standincc.CC
	ccURL       string
}

func startCluster() *cluster {
	GinkgoHelper()
	root := "/nsync-test-" + time.Now().Format("150405.000000")
	bbsAddr := ports.Addr()
	bbs := bbsconfig.DefaultConfig()
	bbs.ListenAddr, bbs.HealthAddress = bbsAddr, ports.Addr()
	bbs.ETCD = deployconfig.ETCD{Endpoints: []string{etcd.ClientURL()}}
	bbs.Root = root
	bbs.CommunicationTimeout = deployconfig.Duration(2 * time.Second)
	bbs.TaskCallbackWorkers = 2
	run("bbs", bbs)

	rAddr := ports.Addr()
	r := receptorconfig.DefaultConfig()
	r.ListenAddr = rAddr
	r.BBSAddress = "http://" + bbsAddr
	run("receptor", r)

	rc, err := receptorclient.New(receptorclient.Config{URL: "http://" + rAddr})
	Expect(err).NotTo(HaveOccurred())
	cc := standincc.New("internal_user", "internal_password")
	server := httptest.NewServer(cc.Handler())
	DeferCleanup(server.Close)
	return &cluster{root: root, receptorURL: "http://" + rAddr, receptor: rc, cc: cc, ccURL: server.URL}
}

// nsyncConfig is nsync's config against c, with a bulker that polls every
// pollInterval.
func (c *cluster) nsyncConfig(pollInterval time.Duration) config.Config {
	cfg := config.DefaultConfig()
	cfg.ListenAddr = ports.Addr()
	cfg.ReceptorURL = c.receptorURL
	cfg.CCBaseURL = c.ccURL
	cfg.CCBasicAuthUsername, cfg.CCBasicAuthPassword = "internal_user", "internal_password"
	cfg.CCPollingInterval = deployconfig.Duration(pollInterval)
	cfg.DomainTTL = deployconfig.Duration(3 * pollInterval)
	cfg.CCBulkBatchSize = 2
	cfg.CommunicationTimeout = deployconfig.Duration(5 * time.Second)
	cfg.FileServerURL = "http://file-server.example.com:8080"
	cfg.Lifecycles = []string{"buildpack/cflinuxfs3:buildpack_app_lifecycle/buildpack_app_lifecycle.tgz"}
	cfg.ETCD = deployconfig.ETCD{Endpoints: []string{etcd.ClientURL()}}
	cfg.Root = c.root
	cfg.LockTTL = deployconfig.Duration(5 * time.Second)
	cfg.LockRetryInterval = deployconfig.Duration(time.Second)
	cfg.LogLevel = "debug"
	return cfg
}

// portWithNothing is a free loopback address nothing listens on.
func portWithNothing() string { return ports.Addr() }
