package main_test

import (
	"os"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/garden"
)

var _ = Describe("peas (processes with their own image)", func() {
	var (
		g *gardenProcess
		c garden.Container
	)
	BeforeEach(func() {
		g = runningGarden()
		var err error
		c, err = g.client.Create(garden.ContainerSpec{Handle: "sandbox", Limits: garden.Limits{Memory: garden.MemoryLimits{LimitInBytes: 64 << 20}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(sh(c, "echo sandbox > /tmp/sandbox-only").status).To(BeZero())
	})

	pea := func(script string, limits *garden.ProcessLimits) result {
		GinkgoHelper()
		return run(c, garden.ProcessSpec{Path: "sh", Args: []string{"-c", script}, Image: garden.ImageRef{URI: "docker:///busybox"},
			OverrideContainerLimits: limits}, "")
	}

	It("has its own root, pid namespace and cgroup with its own limits, on the sandbox's network", func() {
		r := pea("cat /tmp/sandbox-only; echo pid=$$; grep -E '^[0-9]+:memory:' /proc/self/cgroup; cat /sys/fs/cgroup/memory/memory.limit_in_bytes",
			&garden.ProcessLimits{Memory: garden.MemoryLimits{LimitInBytes: 16 << 20}})
		Expect(r.stderr).To(ContainSubstring("No such file"), "the sandbox's files are not in the pea's root")
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		Expect(lines).To(HaveLen(3))
		Expect(lines[0]).To(Equal("pid=1"))
		Expect(lines[1]).To(ContainSubstring("/garden-" + g.tag + "/sandbox.pea-"))
		Expect(lines[2]).To(Equal("16777216"))

		interfaces := func(out string) []string {
			var names []string
			for _, line := range strings.Split(out, "\n")[2:] {
				if name, _, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
					names = append(names, name)
				}
			}
			return names
		}
		Expect(interfaces(pea("cat /proc/net/dev", nil).stdout)).To(Equal(interfaces(sh(c, "cat /proc/net/dev").stdout)))
		Expect(sh(c, "cat /tmp/sandbox-only").stdout).To(Equal("sandbox\n"))
	})

	It("reports metrics per pea and is killed and removed with its sandbox", func() {
		p, err := c.Run(garden.ProcessSpec{ID: "the-pea", Path: "sh", Args: []string{"-c", "i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done; sleep 100"},
			Image: garden.ImageRef{URI: "docker:///busybox"}}, garden.ProcessIO{})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() uint64 {
			m, err := g.client.BulkMetrics([]string{"the-pea"})
			Expect(err).NotTo(HaveOccurred())
			Expect(m["the-pea"].Err).To(BeNil())
			return m["the-pea"].Metrics.CPUStat.Usage
		}).Should(BeNumerically(">", 0))

		Expect(g.client.Destroy("sandbox")).To(Succeed())
		Expect(p.Wait()).To(Equal(137))
		mountinfo, err := os.ReadFile("/proc/self/mountinfo")
		Expect(err).NotTo(HaveOccurred())
		Expect(string(mountinfo)).NotTo(ContainSubstring(g.depot))
		m, err := g.client.BulkMetrics([]string{"the-pea"})
		Expect(err).NotTo(HaveOccurred())
		Expect(m["the-pea"].Err).NotTo(BeNil())
	})
})
