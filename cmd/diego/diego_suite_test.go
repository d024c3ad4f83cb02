package main_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	"github.com/tedsuo/ifrit/ginkgomon_v2"

	"diego/deploy/cluster"
	"diego/deploy/config"
	receptorconfig "diego/receptor/config"
	"diego/test/daemontest"
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
	bbsURL = "http://" + bbs
	m := cluster.Maker{ETCD: config.ETCD{Endpoints: []string{etcd.ClientURL()}}, BBSURL: bbsURL}
	daemontest.Start(binaries["bbs"], m.BBS(bbs, ports.Addr()), daemontest.Ready)
	receptor := ports.Addr()
	daemontest.Start(binaries["receptor"], m.Receptor(receptor, func(c *receptorconfig.Config) {
		c.Username, c.Password = "user", "secret"
	}), daemontest.Ready)
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
