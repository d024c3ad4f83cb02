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

	bbsconfig "diego/bbs/config"
	"diego/deploy/cluster"
	"diego/deploy/config"
	receptorconfig "diego/receptor/config"
	"diego/test/daemontest"
	"diego/test/etcdrunner"
	"diego/test/ports"
)

func TestReceptor(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Receptor Binary Suite")
}

var (
	binaries map[string]string
	etcd     *etcdrunner.Runner
	etcdProc ifrit.Process
	ctx      = context.Background()
)

var _ = SynchronizedBeforeSuite(func() []byte {
	built := map[string]string{}
	for _, name := range []string{"bbs", "receptor"} {
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

// startBBSAndReceptor runs a BBS on the suite's etcd and a receptor in
// front of it; it returns the receptor's URL and the BBS's.
func startBBSAndReceptor(mods ...func(*receptorconfig.Config)) (receptorURL, bbsURL string) {
	GinkgoHelper()
	bbsAddr := ports.Addr()
	m := cluster.Maker{ETCD: config.ETCD{Endpoints: []string{etcd.ClientURL()}}, BBSURL: "http://" + bbsAddr,
		LogLevel: "debug"}
	daemontest.Start(binaries["bbs"], m.BBS(bbsAddr, ports.Addr(), func(c *bbsconfig.Config) {
		c.CommunicationTimeout = config.Duration(2 * time.Second)
		c.TaskCallbackWorkers = 2
	}), daemontest.Ready)
	addr := ports.Addr()
	daemontest.Start(binaries["receptor"], m.Receptor(addr, mods...), daemontest.Ready)
	return "http://" + addr, m.BBSURL
}

func putKey(key, value string) {
	GinkgoHelper()
	c, err := etcd.Client()
	Expect(err).NotTo(HaveOccurred())
	defer c.Close()
	_, err = c.Put(ctx, key, value)
	Expect(err).NotTo(HaveOccurred())
}
