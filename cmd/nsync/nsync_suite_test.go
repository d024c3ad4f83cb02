package main_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/ginkgomon_v2"

	"diego/ccbridge/nsync/config"
	deployconfig "diego/deploy/config"
	"diego/test/bridgetest"
	"diego/test/daemontest"
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
	return daemontest.Start(binaries[name], cfg, daemontest.Ready)
}

// cluster is bridgetest's BBS, receptor and stand-in CC; nsync is started by each spec.
type cluster struct{ *bridgetest.Cluster }

func startCluster() *cluster {
	GinkgoHelper()
	return &cluster{bridgetest.Start(etcd.ClientURL(), binaries["bbs"], binaries["receptor"], "nsync-test")}
}

// nsyncConfig is nsync's config against c, with a bulker that polls every
// pollInterval.
func (c *cluster) nsyncConfig(pollInterval time.Duration) config.Config {
	cfg := config.DefaultConfig()
	cfg.ListenAddr = ports.Addr()
	cfg.ReceptorURL = c.ReceptorURL
	cfg.CCBaseURL = c.CCURL
	cfg.CCBasicAuthUsername, cfg.CCBasicAuthPassword = bridgetest.CCUser, bridgetest.CCPassword
	cfg.CCPollingInterval = deployconfig.Duration(pollInterval)
	cfg.DomainTTL = deployconfig.Duration(3 * pollInterval)
	cfg.CCBulkBatchSize = 2
	cfg.CommunicationTimeout = deployconfig.Duration(5 * time.Second)
	cfg.FileServerURL = "http://file-server.example.com:8080"
	cfg.Lifecycles = []string{"buildpack/cflinuxfs3:buildpack_app_lifecycle/buildpack_app_lifecycle.tgz"}
	cfg.ETCD = deployconfig.ETCD{Endpoints: []string{etcd.ClientURL()}}
	cfg.Root = c.Root
	cfg.LockTTL = deployconfig.Duration(5 * time.Second)
	cfg.LockRetryInterval = deployconfig.Duration(time.Second)
	cfg.LogLevel = "debug"
	return cfg
}

// portWithNothing is a free loopback address nothing listens on.
func portWithNothing() string { return ports.Addr() }
