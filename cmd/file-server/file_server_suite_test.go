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

	"diego/ccbridge/fileserver/config"
	dconfig "diego/deploy/config"
	"diego/test/ports"
)

func TestFileServer(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "File-server Binary Suite")
}

var fileServerPath string

var _ = SynchronizedBeforeSuite(func() []byte {
	path, err := gexec.Build("diego/cmd/file-server")
	Expect(err).NotTo(HaveOccurred())
	return []byte(path)
}, func(path []byte) {
	fileServerPath = string(path)
})

var _ = SynchronizedAfterSuite(func() {}, func() { gexec.CleanupBuildArtifacts() })

// startFileServer runs the binary on a free port serving staticDir, and
// returns its URL.
func startFileServer(staticDir string) string {
	GinkgoHelper()
	cfg := config.DefaultConfig()
	cfg.ListenAddr = ports.Addr()
	cfg.StaticDirectory = staticDir
	cfg.CCJobPollingInterval = dconfig.Duration(50 * time.Millisecond)
	cfg.CommunicationTimeout = dconfig.Duration(2 * time.Second)
	cfg.LogLevel = "debug"
	session := startWith(cfg)
	Eventually(session.Out, 20*time.Second).Should(gbytes.Say(`"msg":"ready"`))
	return "http://" + cfg.ListenAddr
}

func startWith(cfg any) *gexec.Session {
	GinkgoHelper()
	body, err := json.Marshal(cfg)
	Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(GinkgoT().TempDir(), "file-server.json")
	Expect(os.WriteFile(path, body, 0o644)).To(Succeed())
	session, err := gexec.Start(exec.Command(fileServerPath, "-config", path), GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { session.Interrupt().Wait(10 * time.Second) })
	return session
}
