package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/garden"
	gardenconfig "diego/garden/config"
)

// mountedUnder says whether any mount point lies under dir.
func mountedUnder(dir string) bool {
	GinkgoHelper()
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	Expect(err).NotTo(HaveOccurred())
	for _, line := range strings.Split(string(mountinfo), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			return true
		}
	}
	return false
}

var _ = Describe("disk limits", func() {
	const mb = 1 << 20
	var g *gardenProcess

	BeforeEach(func() { g = runningGarden() })

	It("fails writes past byte_hard with No space left on device, and reports the usage", func() {
		limits := garden.DiskLimits{ByteHard: 20 * mb, Scope: garden.DiskLimitScopeExclusive}
		c, err := g.client.Create(garden.ContainerSpec{Handle: "disk-bytes", Limits: garden.Limits{Disk: limits}})
		Expect(err).NotTo(HaveOccurred())
		Expect(c.CurrentDiskLimits()).To(Equal(limits))
		Expect(mountedUnder(filepath.Join(g.depot, "disk-bytes"))).To(BeTrue(), "the limited layers' filesystem")

		r := sh(c, "dd if=/dev/zero of=/tmp/big bs=1M count=40")
		Expect(r.status).NotTo(BeZero())
		Expect(r.stderr).To(ContainSubstring("No space left on device"))
		r = sh(c, "rm /tmp/big && dd if=/dev/zero of=/tmp/fits bs=1M count=10 && echo ok")
		Expect(r.stdout).To(Equal("ok\n"), r.stderr)

		m, err := c.Metrics()
		Expect(err).NotTo(HaveOccurred())
		Expect(m.DiskStat.ExclusiveBytesUsed).To(BeNumerically(">=", 10*mb))
		Expect(m.DiskStat.ExclusiveBytesUsed).To(BeNumerically("<=", 20*mb))
		Expect(m.DiskStat.TotalBytesUsed).To(BeNumerically(">", m.DiskStat.ExclusiveBytesUsed), "total includes the image")
		Expect(m.DiskStat.TotalInodesUsed).To(BeNumerically(">", m.DiskStat.ExclusiveInodesUsed))

		Expect(g.client.Destroy("disk-bytes")).To(Succeed())
		Expect(leftovers(g, "disk-bytes", "")).To(BeEmpty())
	})

	It("counts the image against a scope-total limit, and refuses one the image alone exceeds", func() {
		image, err := g.client.Create(garden.ContainerSpec{})
		Expect(err).NotTo(HaveOccurred())
		m, err := image.Metrics()
		Expect(err).NotTo(HaveOccurred())
		imageBytes := m.DiskStat.TotalBytesUsed - m.DiskStat.ExclusiveBytesUsed
		Expect(imageBytes).To(BeNumerically(">", mb))

		c, err := g.client.Create(garden.ContainerSpec{Limits: garden.Limits{Disk: garden.DiskLimits{
			ByteHard: imageBytes + 20*mb, Scope: garden.DiskLimitScopeTotal}}})
		Expect(err).NotTo(HaveOccurred())
		r := sh(c, "dd if=/dev/zero of=/tmp/big bs=1M count=30")
		Expect(r.status).NotTo(BeZero())
		Expect(r.stderr).To(ContainSubstring("No space left on device"))

		_, err = g.client.Create(garden.ContainerSpec{Limits: garden.Limits{Disk: garden.DiskLimits{
			ByteHard: imageBytes / 2, Scope: garden.DiskLimitScopeTotal}}})
		Expect(err).To(MatchError(ContainSubstring("disk limit is smaller than volume size")))
	})

	It("enforces inode_hard", func() {
		c, err := g.client.Create(garden.ContainerSpec{Limits: garden.Limits{Disk: garden.DiskLimits{
			ByteHard: 50 * mb, InodeHard: 200, Scope: garden.DiskLimitScopeExclusive}}})
		Expect(err).NotTo(HaveOccurred())
		r := sh(c, "mkdir /tmp/many && i=0; while [ $i -lt 2000 ]; do touch /tmp/many/f$i || exit 1; i=$((i+1)); done")
		Expect(r.status).NotTo(BeZero())
		Expect(r.stderr).To(ContainSubstring("No space left on device"))
		m, err := c.Metrics()
		Expect(err).NotTo(HaveOccurred())
		Expect(m.DiskStat.ExclusiveInodesUsed).To(BeNumerically("<=", 2000))
	})

	It("takes the executor's limits: a small byte_hard plus the image, scope total, inode_hard 200000", func() {
		image, err := g.client.Create(garden.ContainerSpec{})
		Expect(err).NotTo(HaveOccurred())
		m, err := image.Metrics()
		Expect(err).NotTo(HaveOccurred())
		imageBytes := m.DiskStat.TotalBytesUsed - m.DiskStat.ExclusiveBytesUsed

		c, err := g.client.Create(garden.ContainerSpec{Limits: garden.Limits{Disk: garden.DiskLimits{
			ByteHard: 16*mb + imageBytes, InodeHard: 200000, Scope: garden.DiskLimitScopeTotal}}})
		Expect(err).NotTo(HaveOccurred())
		m, err = c.Metrics()
		Expect(err).NotTo(HaveOccurred())
		Expect(m.DiskStat.ExclusiveBytesUsed).To(BeNumerically("<", mb), "a new container has written next to nothing")
		Expect(m.DiskStat.ExclusiveInodesUsed).To(BeNumerically("<", 10))

		Expect(sh(c, "dd if=/dev/zero of=/tmp/fits bs=1M count=12 && echo ok").stdout).To(Equal("ok\n"))
		r := sh(c, "dd if=/dev/zero of=/tmp/more bs=1M count=8")
		Expect(r.status).NotTo(BeZero())
		Expect(r.stderr).To(ContainSubstring("No space left on device"))
	})

	It("keeps a limited container's disk across a restart, and shares a static subnet's bridge after it", func() {
		cfg := gardenConfig(func(c *gardenconfig.Config) { c.DestroyContainersOnStartup = false })
		g.stop()
		g = startGarden(cfg)
		DeferCleanup(func() {
			if g.session.ExitCode() == -1 {
				g.kill()
			}
		})
		c, err := g.client.Create(garden.ContainerSpec{Handle: "disk-keeper", Network: "10.253.250.0/29",
			Limits: garden.Limits{Disk: garden.DiskLimits{ByteHard: 20 * mb, Scope: garden.DiskLimitScopeExclusive}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(sh(c, "dd if=/dev/zero of=/tmp/kept bs=1M count=5 && echo ok").stdout).To(Equal("ok\n"))
		g.stop()

		g = startGarden(cfg)
		c, err = g.client.Lookup("disk-keeper")
		Expect(err).NotTo(HaveOccurred())
		m, err := c.Metrics()
		Expect(err).NotTo(HaveOccurred())
		Expect(m.DiskStat.ExclusiveBytesUsed).To(BeNumerically(">=", 5*mb))
		r := sh(c, "dd if=/dev/zero of=/tmp/big bs=1M count=40")
		Expect(r.stderr).To(ContainSubstring("No space left on device"))

		// The reloaded container still holds its place on the subnet.
		other, err := g.client.Create(garden.ContainerSpec{Handle: "disk-neighbour", Network: "10.253.250.0/29"})
		Expect(err).NotTo(HaveOccurred())
		info, err := other.Info()
		Expect(err).NotTo(HaveOccurred())
		Expect(info.ContainerIP).To(Equal("10.253.250.3"))
		serveWWW(c, "kept", 8080)
		Eventually(func() string { return fetch(other, "10.253.250.2", 8080) }, 10*time.Second).Should(Equal("kept"))

		Expect(g.client.Destroy("disk-keeper")).To(Succeed())
		Expect(g.client.Destroy("disk-neighbour")).To(Succeed())
		Expect(leftovers(g, "disk-keeper", "10.253.250.2")).To(BeEmpty())
		Expect(bridgesOf(g.tag)).To(BeEmpty())
		g.stop()
	})

	It("keeps a container without a limit on plain directories", func() {
		c, err := g.client.Create(garden.ContainerSpec{Handle: "disk-free"})
		Expect(err).NotTo(HaveOccurred())
		Expect(mountedUnder(filepath.Join(g.depot, "disk-free"))).To(BeFalse())
		Expect(sh(c, "dd if=/dev/zero of=/tmp/big bs=1M count=40 && echo ok").stdout).To(Equal("ok\n"))
		m, err := c.Metrics()
		Expect(err).NotTo(HaveOccurred())
		Expect(m.DiskStat.ExclusiveBytesUsed).To(BeNumerically(">=", 40*mb))
	})
})
