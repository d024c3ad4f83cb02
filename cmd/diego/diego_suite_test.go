package main_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

func TestDiego(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Diego CLI Suite")
}

var binaries map[string]string

var _ = SynchronizedBeforeSuite(func() []byte {
	built := map[string]string{}
	for _, name := range []string{"bbs", "receptor", "diego"} {
		path, err := gexec.Build("diego/cmd/" + name)
		Expect(err).NotTo(HaveOccurred())
		built[name] = path
	}
	b, _ := json.Marshal(built)
	return b
}, func(b []byte) {
	Expect(json.Unmarshal(b, &binaries)).To(Succeed())
})

var _ = SynchronizedAfterSuite(func() {}, func() { gexec.CleanupBuildArtifacts() })

// start runs a daemon with cfg and waits for its ready line.
func start(name string, cfg map[string]any, ready string) {
	GinkgoHelper()
	body, _ := json.Marshal(cfg)
	path := filepath.Join(GinkgoT().TempDir(), name+".json")
	Expect(os.WriteFile(path, body, 0o644)).To(Succeed())
	s, err := gexec.Start(exec.Command(binaries[name], "-config", path), GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { s.Interrupt().Wait(10 * time.Second) })
	Eventually(s.Out, 20*time.Second).Should(gbytes.Say(ready))
}

// bbsURL is the plain-HTTP BBS of the last startStack, for desire-lrp.
var bbsURL string

// startStack runs etcd, a BBS and a receptor with basic auth, returning the
// receptor URL.
func startStack() string {
	GinkgoHelper()
	etcd := etcdrunner.New(etcdrunner.Config{LogWriter: GinkgoWriter})
	p := ginkgomon_v2.Invoke(etcd)
	DeferCleanup(func() { ginkgomon_v2.Interrupt(p, 10*time.Second); _ = etcd.Cleanup() })
	bbs := ports.Addr()
	start("bbs", map[string]any{"listen_addr": bbs, "health_address": ports.Addr(),
		"etcd": map[string]any{"endpoints": []string{etcd.ClientURL()}}}, `"msg":"ready"`)
	bbsURL = "http://" + bbs
	receptor := ports.Addr()
	start("receptor", map[string]any{"listen_addr": receptor, "bbs_address": "http://" + bbs,
		"username": "user", "password": "secret"}, `"msg":"ready"`)
	return "http://" + receptor
}

// diego runs the CLI with the given environment and stdin.
func diego(env []string, stdin string, args ...string) *gexec.Session {
	GinkgoHelper()
	cmd := exec.Command(binaries["diego"], args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	return s
}
