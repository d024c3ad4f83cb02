package main_test

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
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/ginkgomon_v2"

	bbsconfig "diego/bbs/config"
	dconfig "diego/deploy/config"
	receptorconfig "diego/receptor/config"
	"diego/test/etcdrunner"
	"diego/test/ports"
)

func TestStager(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Stager Binary Suite")
}

var (
	binaries map[string]string
	etcd     *etcdrunner.Runner
	etcdProc ifrit.Process
)

var _ = SynchronizedBeforeSuite(func() []byte {
	built := map[string]string{}
	for _, name := range []string{"bbs", "receptor", "stager"} {
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

// start runs a binary with its typed config; ready waits for "ready".
func start(name string, cfg any, ready bool) *gexec.Session {
	GinkgoHelper()
	body, err := json.Marshal(cfg)
	Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(GinkgoT().TempDir(), name+".json")
	Expect(os.WriteFile(path, body, 0o644)).To(Succeed())
	s, err := gexec.Start(exec.Command(binaries[name], "-config", path), GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { s.Interrupt().Wait(10 * time.Second) })
	if ready {
		Eventually(s.Out, 20*time.Second).Should(gbytes.Say(`"msg":"ready"`))
	}
	return s
}

// startBBSAndReceptor runs a BBS on a fresh key root of the suite's etcd
// and a receptor in front of it; it returns the receptor's URL.
func startBBSAndReceptor() string {
	GinkgoHelper()
	Expect(etcd.Reset()).To(Succeed())
	bbs := bbsconfig.DefaultConfig()
	bbs.ListenAddr = ports.Addr()
	bbs.HealthAddress = ports.Addr()
	bbs.ETCD = dconfig.ETCD{Endpoints: []string{etcd.ClientURL()}}
	bbs.CommunicationTimeout = dconfig.Duration(2 * time.Second)
	bbs.TaskCallbackWorkers = 2
	start("bbs", bbs, true)
	rc := receptorconfig.DefaultConfig()
	rc.ListenAddr = ports.Addr()
	rc.BBSAddress = "http://" + bbs.ListenAddr
	start("receptor", rc, true)
	return "http://" + rc.ListenAddr
}
