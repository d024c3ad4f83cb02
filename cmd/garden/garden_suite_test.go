package main_test

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"diego/deploy/cluster"
	"diego/garden"
	"diego/garden/client"
	gardenconfig "diego/garden/config"
	"diego/test/daemontest"
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
	config  gardenconfig.Config
	depot   string
	tag     string
}

// gardenConfig gives each ginkgo process its own tag, network pool, port
// pool and depot, so parallel gardens never meet; mods change it further.
func gardenConfig(mods ...func(*gardenconfig.Config)) gardenconfig.Config {
	proc := GinkgoParallelProcess()
	cell := cluster.Cell{GardenAddr: ports.Addr(), Dir: GinkgoT().TempDir(), Tag: fmt.Sprintf("t%d", proc),
		NetworkPool: fmt.Sprintf("10.253.%d.0/22", (proc-1)*4), PortPoolStart: uint32(40000 + proc*1000), PortPoolSize: 500}
	m := cluster.Maker{RootFS: rootfsDir, Stacks: map[string]string{"cflinuxfs3": rootfsDir}, LogLevel: "debug"}
	return m.Garden(cell, append([]func(*gardenconfig.Config){func(c *gardenconfig.Config) {
		c.RootFSMap["docker:///busybox"] = rootfsDir
	}}, mods...)...)
}

// startGarden runs the binary with cfg and waits until it serves (or
// says it exited).
func startGarden(cfg gardenconfig.Config) *gardenProcess {
	GinkgoHelper()
	session := daemontest.Start(gardenPath, cfg, `"msg":"ready"|"msg":"exited"`)
	g := &gardenProcess{session: session, client: client.New("tcp", cfg.ListenAddr), addr: cfg.ListenAddr, config: cfg,
		depot: cfg.DepotDir, tag: cfg.Tag}
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
func runningGarden(mods ...func(*gardenconfig.Config)) *gardenProcess {
	GinkgoHelper()
	g := startGarden(gardenConfig(mods...))
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
