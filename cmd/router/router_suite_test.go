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

	"diego/routeemitter/router/config"
)

func TestRouter(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Router Binary Suite")
}

var routerPath string

var _ = SynchronizedBeforeSuite(func() []byte {
	path, err := gexec.Build("diego/cmd/router")
	Expect(err).NotTo(HaveOccurred())
	return []byte(path)
}, func(path []byte) {
	routerPath = string(path)
})

var _ = SynchronizedAfterSuite(func() {}, func() {
	gexec.CleanupBuildArtifacts()
})

// startRouter runs the binary with cfg and waits for "ready" when asked.
func startRouter(cfg config.Config, waitReady bool) *gexec.Session {
	GinkgoHelper()
	body, err := json.Marshal(cfg)
	Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(GinkgoT().TempDir(), "router.json")
	Expect(os.WriteFile(path, body, 0o644)).To(Succeed())
	s, err := gexec.Start(exec.Command(routerPath, "-config", path), GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { s.Kill().Wait(10 * time.Second) })
	if waitReady {
		Eventually(s.Out, 20*time.Second).Should(gbytes.Say(`"msg":"ready"`))
	}
	return s
}
