package main_test

import (
	"encoding/json"
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
func startConverger(id, bbsURL string) *gexec.Session {
	cfg, _ := json.Marshal(map[string]any{
		"id": id, "bbs_address": bbsURL, "etcd": map[string]any{"endpoints": []string{etcd.ClientURL()}},
		"lock_ttl": "3s", "lock_retry_interval": "500ms", "converge_repeat_interval": "200ms",
		"communication_timeout": "2s",
	})
	path := filepath.Join(GinkgoT().TempDir(), "converger.json")
	Expect(os.WriteFile(path, cfg, 0o644)).To(Succeed())
	session, err := gexec.Start(exec.Command(convergerPath, "-config", path), GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { session.Kill().Wait(5 * time.Second) })
	return session
}

// startConvergerWithRaw runs the binary with the given config file contents.
func startConvergerWithRaw(contents string) *gexec.Session {
	path := filepath.Join(GinkgoT().TempDir(), "converger.json")
	Expect(os.WriteFile(path, []byte(contents), 0o644)).To(Succeed())
	session, err := gexec.Start(exec.Command(convergerPath, "-config", path), GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	return session
}
