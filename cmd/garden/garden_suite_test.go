package main_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"diego/garden"
	"diego/garden/client"
	"diego/test/ports"
	"diego/test/rootfs"
)

func TestGarden(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Garden Binary Suite")
}

var (
	gardenPath string
	rootfsDir  string
)

var _ = SynchronizedBeforeSuite(func() []byte {
	Expect(os.Geteuid()).To(BeZero(), "the garden binary tests run real containers and need root")
	dir, err := rootfs.Path()
	Expect(err).NotTo(HaveOccurred())
	// garden re-executes itself inside containers: it must be static.
	path, err := gexec.BuildWithEnvironment("diego/cmd/garden", []string{"CGO_ENABLED=0"})
	Expect(err).NotTo(HaveOccurred())
	paths, _ := json.Marshal([]string{path, dir})
	return paths
}, func(data []byte) {
	var paths []string
	Expect(json.Unmarshal(data, &paths)).To(Succeed())
	gardenPath, rootfsDir = paths[0], paths[1]
})

var _ = SynchronizedAfterSuite(func() {}, func() {
	gexec.CleanupBuildArtifacts()
})

// gardenProcess is one running garden binary and what it was given.
type gardenProcess struct {
	session *gexec.Session
	client  garden.Client
	addr    string
	config  map[string]any
	depot   string
	tag     string
}

// gardenConfig gives each ginkgo process its own tag, network pool, port
// pool and depot, so parallel gardens never meet.
func gardenConfig(extra map[string]any) map[string]any {
	proc := GinkgoParallelProcess()
	cfg := map[string]any{
		"listen_addr":     ports.Addr(),
		"depot_dir":       filepath.Join(GinkgoT().TempDir(), "depot"),
		"default_rootfs":  rootfsDir,
		"rootfs_map":      map[string]string{"docker:///busybox": rootfsDir, "preloaded:cflinuxfs3": rootfsDir},
		"network_pool":    fmt.Sprintf("10.253.%d.0/22", (proc-1)*4),
		"port_pool_start": 40000 + proc*1000,
		"port_pool_size":  500,
		"tag":             fmt.Sprintf("t%d", proc),
		"log_level":       "debug",
	}
	for k, v := range extra {
		cfg[k] = v
	}
	return cfg
}

func writeConfig(cfg map[string]any) string {
	GinkgoHelper()
	body, err := json.Marshal(cfg)
	Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(GinkgoT().TempDir(), "garden.json")
	Expect(os.WriteFile(path, body, 0o644)).To(Succeed())
	return path
}

// startGarden runs the binary with cfg and waits until it serves.
func startGarden(cfg map[string]any) *gardenProcess {
	GinkgoHelper()
	session, err := gexec.Start(exec.Command(gardenPath, "-config", writeConfig(cfg)), GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	// Whatever happens next, no garden outlives the spec.
	DeferCleanup(func() { session.Kill().Wait(10 * time.Second) })
	Eventually(session.Out, 20*time.Second).Should(gbytes.Say(`"msg":"ready"|"msg":"exited"`))
	addr := cfg["listen_addr"].(string)
	g := &gardenProcess{session: session, client: client.New("tcp", addr), addr: addr, config: cfg,
		depot: cfg["depot_dir"].(string), tag: cfg["tag"].(string)}
	Expect(g.client.Ping()).To(Succeed())
	return g
}

func (g *gardenProcess) stop() {
	g.session.Interrupt()
	Eventually(g.session, 20*time.Second).Should(gexec.Exit(0))
}

func (g *gardenProcess) kill() {
	g.session.Kill()
	Eventually(g.session, 10*time.Second).Should(gexec.Exit())
}

// runningGarden starts a garden for one spec and stops it (destroying what
// the spec left) afterwards.
func runningGarden(extra map[string]any) *gardenProcess {
	GinkgoHelper()
	g := startGarden(gardenConfig(extra))
	DeferCleanup(func() {
		if g.session.ExitCode() == -1 {
			containers, err := g.client.Containers(garden.Properties{garden.StateProperty: garden.StateAll})
			if err == nil {
				for _, c := range containers {
					_ = g.client.Destroy(c.Handle())
				}
			}
			g.stop()
		}
	})
	return g
}
