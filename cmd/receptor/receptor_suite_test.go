package main_test

import (
	"context"
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

// run starts a binary with cfg and waits until it logs "ready".
func run(name string, cfg map[string]any) *gexec.Session {
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

// startBBSAndReceptor runs a BBS on the suite's etcd and a receptor in
// front of it; it returns the receptor's URL.
func startBBSAndReceptor(extra map[string]any) string {
	GinkgoHelper()
	bbsAddr := ports.Addr()
	run("bbs", map[string]any{
		"listen_addr":           bbsAddr,
		"health_address":        ports.Addr(),
		"etcd":                  map[string]any{"endpoints": []string{etcd.ClientURL()}},
		"communication_timeout": "2s",
		"task_callback_workers": 2,
	})
	addr := ports.Addr()
	cfg := map[string]any{
		"listen_addr": addr,
		"bbs_address": "http://" + bbsAddr,
		"log_level":   "debug",
	}
	for k, v := range extra {
		cfg[k] = v
	}
	run("receptor", cfg)
	return "http://" + addr
}

func putKey(key, value string) {
	GinkgoHelper()
	c, err := etcd.Client()
	Expect(err).NotTo(HaveOccurred())
	defer c.Close()
	_, err = c.Put(ctx, key, value)
	Expect(err).NotTo(HaveOccurred())
}
