package main_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/ginkgomon_v2"

	convergerconfig "diego/converger/config"
	"diego/deploy/cluster"
	"diego/deploy/config"
	"diego/test/daemontest"
	"diego/test/etcdrunner"
)

func TestConverger(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Converger Binary Suite")
}

var (
	convergerPath string
	etcd          *etcdrunner.Runner
	etcdProc      ifrit.Process
)

var _ = SynchronizedBeforeSuite(func() []byte {
	path, err := gexec.Build("diego/cmd/converger")
	Expect(err).NotTo(HaveOccurred())
	return []byte(path)
}, func(path []byte) {
	convergerPath = string(path)
	etcd = etcdrunner.New(etcdrunner.Config{LogWriter: GinkgoWriter})
	etcdProc = ginkgomon_v2.Invoke(etcd)
})

var _ = SynchronizedAfterSuite(func() {
	ginkgomon_v2.Interrupt(etcdProc, 10*time.Second)
	_ = etcd.Cleanup()
}, func() {
	gexec.CleanupBuildArtifacts()
})

// fakeBBS answers the two converge routes with empty protobuf responses
// and counts the passes it was asked for.
func fakeBBS() (url string, passes *atomic.Int32) {
	passes = &atomic.Int32{}
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/lrps/converge" {
			passes.Add(1)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	DeferCleanup(server.Close)
	return server.URL, passes
}

// startConverger runs the binary against the suite's etcd and bbsURL.
func startConverger(id, bbsURL string, mods ...func(*convergerconfig.Config)) *gexec.Session {
	GinkgoHelper()
	m := cluster.Maker{ETCD: config.ETCD{Endpoints: []string{etcd.ClientURL()}}, BBSURL: bbsURL}
	cfg := m.Converger(id, append([]func(*convergerconfig.Config){func(c *convergerconfig.Config) {
		c.LockTTL = config.Duration(3 * time.Second)
		c.LockRetryInterval = config.Duration(500 * time.Millisecond)
		c.ConvergeRepeatInterval = config.Duration(200 * time.Millisecond)
		c.CommunicationTimeout = config.Duration(2 * time.Second)
	}}, mods...)...)
	return daemontest.Start(convergerPath, cfg, "")
}

// startConvergerWithRaw runs the binary with the given config file contents.
func startConvergerWithRaw(contents string) *gexec.Session {
	path := filepath.Join(GinkgoT().TempDir(), "converger.json")
	Expect(os.WriteFile(path, []byte(contents), 0o644)).To(Succeed())
	session, err := gexec.Start(exec.Command(convergerPath, "-config", path), GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	return session
}
