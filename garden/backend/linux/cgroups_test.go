package linux

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/garden"
)

// writeTree writes files (path relative to root → content), creating
// directories as needed.
func writeTree(root string, files map[string]string) {
	GinkgoHelper()
	for rel, content := range files {
		path := filepath.Join(root, rel)
		Expect(os.MkdirAll(filepath.Dir(path), 0o755)).To(Succeed())
		Expect(os.WriteFile(path, []byte(content), 0o644)).To(Succeed())
	}
}

func readTrimmed(path string) string {
	GinkgoHelper()
	b, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	return strings.TrimSpace(string(b))
}

func writeMountinfo(lines ...string) string {
	GinkgoHelper()
	path := filepath.Join(GinkgoT().TempDir(), "mountinfo")
	Expect(os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644)).To(Succeed())
	return path
}

const (
	tmpfsLine    = "25 1 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755"
	memoryLine   = "26 25 0:24 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,memory"
	cpuLine      = "27 25 0:25 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,cpu,cpuacct"
	pidsLine     = "28 25 0:26 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,pids"
	freezerLine  = "29 25 0:27 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer"
	systemdLine  = "30 25 0:28 / /sys/fs/cgroup/systemd rw,nosuid shared:6 - cgroup cgroup rw,xattr,name=systemd"
	unifiedLine  = "31 25 0:29 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:5 - cgroup2 cgroup2 rw,nsdelegate"
	procLine     = "22 1 0:5 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw"
	truncatedLn  = "99 1 0:99 / /broken"
	noSeparator  = "98 1 0:98 / /odd rw cgroup cgroup rw,memory"
	cpuOnlyLine  = "27 25 0:25 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu"
	acctOnlyLine = "33 25 0:31 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct"
)

var _ = Describe("cgroups", func() {
	Describe("cgroupMounts", func() {
		It("maps each v1 controller to its mount, joined mounts included, and ignores the rest", func() {
			t, err := cgroupMounts(writeMountinfo(procLine, tmpfsLine, memoryLine, cpuLine, pidsLine, freezerLine, systemdLine, truncatedLn, noSeparator))
			Expect(err).NotTo(HaveOccurred())
			Expect(t.v1).To(Equal(map[string]string{
				"memory":  "/sys/fs/cgroup/memory",
				"cpu":     "/sys/fs/cgroup/cpu,cpuacct",
				"cpuacct": "/sys/fs/cgroup/cpu,cpuacct",
				"pids":    "/sys/fs/cgroup/pids",
			}), "the freezer is not used")
			Expect(t.v2).To(BeEmpty())
		})

		It("keeps the first mount of a controller mounted twice", func() {
			again := "40 1 0:24 / /mnt/memory rw - cgroup cgroup rw,memory"
			t, err := cgroupMounts(writeMountinfo(memoryLine, again))
			Expect(err).NotTo(HaveOccurred())
			Expect(t.v1["memory"]).To(Equal("/sys/fs/cgroup/memory"))
		})

		It("finds the unified hierarchy, preferring /sys/fs/cgroup", func() {
			other := "41 1 0:40 / /mnt/cg2 rw - cgroup2 cgroup2 rw"
			main := "42 1 0:41 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate"
			t, err := cgroupMounts(writeMountinfo(other, main, "43 1 0:42 / /mnt/later rw - cgroup2 cgroup2 rw"))
			Expect(err).NotTo(HaveOccurred())
			Expect(t.v2).To(Equal("/sys/fs/cgroup"))
			Expect(t.v1).To(BeEmpty())

			t, err = cgroupMounts(writeMountinfo(other, "43 1 0:42 / /mnt/later rw - cgroup2 cgroup2 rw"))
			Expect(err).NotTo(HaveOccurred())
			Expect(t.v2).To(Equal("/mnt/cg2"))
		})

		It("fails clearly when mountinfo cannot be read", func() {
			_, err := cgroupMounts(filepath.Join(GinkgoT().TempDir(), "missing"))
			Expect(err).To(MatchError(ContainSubstring("reading mounts")))
		})
	})

	Describe("detectCgroups", func() {
		It("picks v1 when memory and cpu are mounted, under garden-<tag>", func() {
			d, err := detectCgroups(writeMountinfo(tmpfsLine, memoryLine, cpuLine, pidsLine), "b")
			Expect(err).NotTo(HaveOccurred())
			v1, ok := d.(*cgroupsV1)
			Expect(ok).To(BeTrue())
			Expect(v1.parent).To(Equal("garden-b"))
			Expect(v1.mounts).To(HaveKeyWithValue("memory", "/sys/fs/cgroup/memory"))
			Expect(v1.mounts).To(HaveKeyWithValue("cpu", "/sys/fs/cgroup/cpu,cpuacct"))
		})

		It("uses guardian's parent \"garden\" without a tag", func() {
			d, err := detectCgroups(writeMountinfo(memoryLine, cpuOnlyLine, acctOnlyLine), "")
			Expect(err).NotTo(HaveOccurred())
			Expect(d.(*cgroupsV1).parent).To(Equal("garden"))
			Expect(cgroupParentFor("t1")).To(Equal("garden-t1"))
		})

		It("fails clearly when the cpu controller is missing", func() {
			_, err := detectCgroups(writeMountinfo(tmpfsLine, memoryLine, pidsLine, acctOnlyLine), "b")
			Expect(err).To(MatchError(ContainSubstring("cgroup v1 controller(s) cpu not mounted")))
			Expect(err).To(MatchError(ContainSubstring("garden needs memory and cpu")))
		})

		It("names both controllers when memory and cpu are missing", func() {
			_, err := detectCgroups(writeMountinfo(pidsLine, freezerLine), "b")
			Expect(err).To(MatchError(ContainSubstring("controller(s) memory, cpu not mounted")))
		})

		It("fails clearly when no cgroup filesystem is mounted", func() {
			_, err := detectCgroups(writeMountinfo(procLine, tmpfsLine, systemdLine), "b")
			Expect(err).To(MatchError(ContainSubstring("no cgroup filesystem is mounted")))
		})

		It("prefers v1 controllers on a hybrid host, whose unified tree is empty", func() {
			d, err := detectCgroups(writeMountinfo(tmpfsLine, memoryLine, cpuLine, pidsLine, systemdLine, unifiedLine), "b")
			Expect(err).NotTo(HaveOccurred())
			Expect(d).To(BeAssignableToTypeOf(&cgroupsV1{}))
		})

		Context("on a v2-only host", func() {
			var root string

			BeforeEach(func() {
				root = GinkgoT().TempDir()
			})

			mountinfo := func() string {
				return writeMountinfo(procLine, "25 1 0:23 / "+root+" rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate")
			}

			It("enables memory, cpu and pids for garden-<tag>'s children", func() {
				writeTree(root, map[string]string{"cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma misc\n"})
				d, err := detectCgroups(mountinfo(), "b")
				Expect(err).NotTo(HaveOccurred())
				v2, ok := d.(*cgroupsV2)
				Expect(ok).To(BeTrue())
				Expect(v2.root).To(Equal(root))
				Expect(v2.parent).To(Equal("garden-b"))
				Expect(readTrimmed(filepath.Join(root, "cgroup.subtree_control"))).To(Equal("+memory +cpu +pids"))
				Expect(readTrimmed(filepath.Join(root, "garden-b", "cgroup.subtree_control"))).To(Equal("+memory +cpu +pids"))
			})

			It("leaves pids out when the kernel has no pids controller", func() {
				writeTree(root, map[string]string{"cgroup.controllers": "cpu memory\n"})
				_, err := detectCgroups(mountinfo(), "b")
				Expect(err).NotTo(HaveOccurred())
				Expect(readTrimmed(filepath.Join(root, "garden-b", "cgroup.subtree_control"))).To(Equal("+memory +cpu"))
			})

			It("fails clearly when memory is not available", func() {
				writeTree(root, map[string]string{"cgroup.controllers": "cpu io pids\n"})
				_, err := detectCgroups(mountinfo(), "b")
				Expect(err).To(MatchError(ContainSubstring("cgroup v2 controller(s) memory not available in " + root)))
			})

			It("fails clearly when cgroup.controllers cannot be read", func() {
				_, err := detectCgroups(mountinfo(), "b")
				Expect(err).To(MatchError(ContainSubstring("reading cgroup v2 controllers")))
			})
		})
	})

	Describe("cgroup v2", func() {
		var (
			root string
			d    *cgroupsV2
		)

		BeforeEach(func() {
			root = GinkgoT().TempDir()
			d = &cgroupsV2{root: root, parent: "garden-b"}
		})

		It("names garden-<tag>/<handle> for the bundle and adds the pids limit to runc's group", func() {
			Expect(d.Path("h1")).To(Equal("/garden-b/h1"))
			Expect(d.ExecCgroup()).To(BeEmpty(), "v2 processes share the container's group")
			writeTree(root, map[string]string{"garden-b/h1/pids.max": "max\n"})
			cg, err := d.Create("h1", garden.Limits{Pid: garden.PidLimits{Max: 100}})
			Expect(err).NotTo(HaveOccurred())
			dir := filepath.Join(root, "garden-b", "h1")
			Expect(cg.(*cgroupV2).dir).To(Equal(dir))
			Expect(readTrimmed(filepath.Join(dir, "pids.max"))).To(Equal("100"))
			Expect(d.Handles()).To(ConsistOf("h1"))
		})

		It("limits swap only where the kernel accounts it", func() {
			Expect(d.SwapLimit()).To(BeFalse())
			writeTree(root, map[string]string{"garden-b/memory.swap.max": "max\n"})
			Expect(d.SwapLimit()).To(BeTrue())
		})

		It("writes no pids limit where the file is absent, and cannot move the init out of memory", func() {
			Expect(os.MkdirAll(filepath.Join(root, "garden-b", "h3"), 0o755)).To(Succeed())
			cg, err := d.Create("h3", garden.Limits{Pid: garden.PidLimits{Max: 5}})
			Expect(err).NotTo(HaveOccurred())
			Expect(filepath.Join(root, "garden-b", "h3", "pids.max")).NotTo(BeAnExistingFile())
			Expect(cg.MoveOutOfMemory(1)).To(HaveOccurred())
			Expect(cg.ProcessJoins(false)).To(BeEmpty(), "processes share the init's group")
		})

		It("lists the group's procs", func() {
			cg := d.Open("h1")
			writeTree(root, map[string]string{"garden-b/h1/cgroup.procs": "4242\n4250\n"})
			Expect(cg.Procs()).To(Equal([]int{4242, 4250}))
		})

		It("reads an OOM kill from memory.events", func() {
			cg := d.Open("h1")
			Expect(cg.OOMKilled()).To(BeFalse())
			writeTree(root, map[string]string{"garden-b/h1/memory.events": "low 0\nhigh 0\nmax 12\noom 1\noom_kill 0\n"})
			Expect(cg.OOMKilled()).To(BeFalse())
			writeTree(root, map[string]string{"garden-b/h1/memory.events": "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n"})
			Expect(cg.OOMKilled()).To(BeTrue())
		})

		It("reports stats in the API's v1 terms", func() {
			writeTree(root, map[string]string{
				"garden-b/h1/memory.stat": "anon 4096\nfile 8192\nkernel 100\nfile_mapped 512\nactive_anon 3000\ninactive_anon 1096\n" +
					"active_file 7168\ninactive_file 1024\nunevictable 7\npgfault 10\npgmajfault 1\n",
				"garden-b/h1/memory.swap.current": "2048\n",
				"garden-b/h1/cpu.stat":            "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 0\n",
				"garden-b/h1/pids.current":        "3\n",
				"garden-b/h1/pids.max":            "max\n",
			})
			mem, cpu, pids := d.Open("h1").Stats()
			Expect(mem.Rss).To(BeEquivalentTo(4096))
			Expect(mem.TotalRss).To(BeEquivalentTo(4096))
			Expect(mem.Cache).To(BeEquivalentTo(8192))
			Expect(mem.TotalCache).To(BeEquivalentTo(8192))
			Expect(mem.MappedFile).To(BeEquivalentTo(512))
			Expect(mem.TotalActiveAnon).To(BeEquivalentTo(3000))
			Expect(mem.TotalInactiveAnon).To(BeEquivalentTo(1096))
			Expect(mem.TotalActiveFile).To(BeEquivalentTo(7168))
			Expect(mem.TotalInactiveFile).To(BeEquivalentTo(1024))
			Expect(mem.TotalUnevictable).To(BeEquivalentTo(7))
			Expect(mem.TotalPgfault).To(BeEquivalentTo(10))
			Expect(mem.TotalPgmajfault).To(BeEquivalentTo(1))
			Expect(mem.Swap).To(BeEquivalentTo(2048))
			Expect(mem.TotalSwap).To(BeEquivalentTo(2048))
			Expect(mem.TotalUsageTowardLimit).To(BeEquivalentTo(4096 + 8192 + 2048 - 1024))
			Expect(cpu).To(Equal(garden.ContainerCPUStat{Usage: 1500_000, User: 1000_000, System: 500_000}))
			Expect(pids).To(Equal(garden.ContainerPidStat{Current: 3, Max: 0}))

			writeTree(root, map[string]string{"garden-b/h1/pids.max": "64\n"})
			_, _, pids = d.Open("h1").Stats()
			Expect(pids.Max).To(BeEquivalentTo(64))
		})

		It("reports zeros for a group with no files", func() {
			mem, cpu, pids := d.Open("gone").Stats()
			Expect(mem).To(Equal(garden.ContainerMemoryStat{}))
			Expect(cpu).To(Equal(garden.ContainerCPUStat{}))
			Expect(pids).To(Equal(garden.ContainerPidStat{}))
		})

		It("destroys the group, and a missing one is already destroyed", func() {
			cg, err := d.Create("h1", garden.Limits{})
			Expect(err).NotTo(HaveOccurred())
			Expect(cg.Destroy()).To(Succeed())
			Expect(filepath.Join(root, "garden-b", "h1")).NotTo(BeADirectory())
			Expect(cg.Destroy()).To(Succeed())
		})
	})

	Describe("cgroup v1", func() {
		var (
			root string
			d    *cgroupsV1
		)

		BeforeEach(func() {
			root = GinkgoT().TempDir()
			d = &cgroupsV1{parent: "garden-b", mounts: map[string]string{
				"memory":  filepath.Join(root, "memory"),
				"cpu":     filepath.Join(root, "cpu,cpuacct"),
				"cpuacct": filepath.Join(root, "cpu,cpuacct"),
				"pids":    filepath.Join(root, "pids"),
			}}
		})

		dir := func(controller, handle string) string {
			return filepath.Join(d.mounts[controller], "garden-b", handle)
		}

		It("names garden-<tag>/<handle> for the bundle and runs processes in a pids sub-group with the limit", func() {
			Expect(d.Path("h1")).To(Equal("/garden-b/h1"))
			Expect(d.ExecCgroup()).To(Equal("pids:processes"))
			cg, err := d.Create("h1", garden.Limits{Pid: garden.PidLimits{Max: 50}})
			Expect(err).NotTo(HaveOccurred())
			Expect(readTrimmed(filepath.Join(dir("pids", "h1"), "processes", "pids.max"))).To(Equal("50"))
			Expect(filepath.Join(dir("pids", "h1"), "pids.max")).NotTo(BeAnExistingFile(), "the init's threads do not count")
			Expect(d.Handles()).To(BeEmpty(), "runc makes the memory group, not the driver")
			Expect(cg.(*cgroupV1).dirs["pids"]).To(Equal(dir("pids", "h1")))
			Expect(cg.ProcessJoins(false)).To(Equal([]string{filepath.Join(dir("pids", "h1"), "processes", "cgroup.procs")}),
				"a process the init started joins the pids sub-group")
			Expect(cg.ProcessJoins(true)).To(Equal([]string{filepath.Join(dir("pids", "h1"), "processes", "cgroup.procs"),
				filepath.Join(dir("memory", "h1"), "cgroup.procs")}), "and the memory group the init left")
		})

		It("knows whether swap can be limited", func() {
			Expect(d.SwapLimit()).To(BeFalse())
			writeTree(root, map[string]string{"memory/memory.memsw.limit_in_bytes": "9223372036854771712\n"})
			Expect(d.SwapLimit()).To(BeTrue())
		})

		It("skips the pids limit and the pids cgroup without a pids controller", func() {
			delete(d.mounts, "pids")
			Expect(d.ExecCgroup()).To(BeEmpty())
			cg, err := d.Create("h1", garden.Limits{Pid: garden.PidLimits{Max: 10}})
			Expect(err).NotTo(HaveOccurred())
			Expect(cg.ProcessJoins(false)).To(BeEmpty())
			Expect(filepath.Join(root, "pids")).NotTo(BeADirectory())
		})

		It("moves the init to the parent memory group, and lists the container's procs", func() {
			Expect(os.MkdirAll(dir("memory", "h1"), 0o755)).To(Succeed())
			cg := d.Open("h1")
			Expect(cg.MoveOutOfMemory(777)).To(Succeed())
			Expect(readTrimmed(filepath.Join(root, "memory", "garden-b", "cgroup.procs"))).To(Equal("777"))
			writeTree(root, map[string]string{"memory/garden-b/h1/cgroup.procs": "778\n780\n"})
			Expect(cg.Procs()).To(Equal([]int{778, 780}))
		})

		It("reads an OOM kill from memory.oom_control", func() {
			cg := d.Open("h1")
			Expect(cg.OOMKilled()).To(BeFalse())
			writeTree(root, map[string]string{"memory/garden-b/h1/memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"})
			Expect(cg.OOMKilled()).To(BeFalse())
			writeTree(root, map[string]string{"memory/garden-b/h1/memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"})
			Expect(cg.OOMKilled()).To(BeTrue())
		})

		It("parses memory.stat, cpuacct and pids", func() {
			writeTree(root, map[string]string{
				"memory/garden-b/h1/memory.stat": "cache 100\nrss 200\nmapped_file 30\nswap 5\npgpgin 7\npgpgout 8\npgfault 9\npgmajfault 1\n" +
					"inactive_anon 11\nactive_anon 12\ninactive_file 13\nactive_file 14\nunevictable 15\n" +
					"hierarchical_memory_limit 134217728\nhierarchical_memsw_limit 134217728\n" +
					"total_cache 1000\ntotal_rss 2000\ntotal_mapped_file 300\ntotal_swap 300\ntotal_pgpgin 70\ntotal_pgpgout 80\n" +
					"total_pgfault 90\ntotal_pgmajfault 10\ntotal_inactive_anon 110\ntotal_active_anon 120\n" +
					"total_inactive_file 500\ntotal_active_file 140\ntotal_unevictable 150\nnot a stat line\n",
				"cpu,cpuacct/garden-b/h1/cpuacct.usage":   "123456789\n",
				"cpu,cpuacct/garden-b/h1/cpuacct.stat":    "user 5\nsystem 7\n",
				"pids/garden-b/h1/processes/pids.current": "4\n",
				"pids/garden-b/h1/processes/pids.max":     "max\n",
			})
			mem, cpu, pids := d.Open("h1").Stats()
			Expect(mem).To(Equal(garden.ContainerMemoryStat{
				Cache: 100, Rss: 200, MappedFile: 30, Swap: 5, Pgpgin: 7, Pgpgout: 8, Pgfault: 9, Pgmajfault: 1,
				InactiveAnon: 11, ActiveAnon: 12, InactiveFile: 13, ActiveFile: 14, Unevictable: 15,
				HierarchicalMemoryLimit: 134217728, HierarchicalMemswLimit: 134217728,
				TotalCache: 1000, TotalRss: 2000, TotalMappedFile: 300, TotalSwap: 300, TotalPgpgin: 70, TotalPgpgout: 80,
				TotalPgfault: 90, TotalPgmajfault: 10, TotalInactiveAnon: 110, TotalActiveAnon: 120,
				TotalInactiveFile: 500, TotalActiveFile: 140, TotalUnevictable: 150,
				TotalUsageTowardLimit: 2000 + 1000 + 300 - 500,
			}))
			Expect(cpu).To(Equal(garden.ContainerCPUStat{
				Usage: 123456789, User: uint64(50 * time.Millisecond), System: uint64(70 * time.Millisecond),
			}))
			Expect(pids).To(Equal(garden.ContainerPidStat{Current: 4}))
		})

		It("floors TotalUsageTowardLimit at 0", func() {
			writeTree(root, map[string]string{"memory/garden-b/h1/memory.stat": "total_rss 10\ntotal_cache 20\ntotal_swap 0\ntotal_inactive_file 31\n"})
			mem, _, _ := d.Open("h1").Stats()
			Expect(mem.TotalUsageTowardLimit).To(BeZero())
			Expect(memoryTowardLimit(10, 20, 1, 31)).To(BeZero())
			Expect(memoryTowardLimit(10, 20, 1, 30)).To(BeEquivalentTo(1))
		})

		It("reports no cpu or pid stats without those controllers", func() {
			delete(d.mounts, "cpuacct")
			delete(d.mounts, "pids")
			_, cpu, pids := d.Open("h1").Stats()
			Expect(cpu).To(Equal(garden.ContainerCPUStat{}))
			Expect(pids).To(Equal(garden.ContainerPidStat{}))
		})

		It("destroys every hierarchy's directory, sub-groups first", func() {
			d.all = []string{filepath.Join(root, "freezer")}
			for _, c := range []string{"memory", "cpu", "pids"} {
				Expect(os.MkdirAll(dir(c, "h1"), 0o755)).To(Succeed())
			}
			Expect(os.MkdirAll(filepath.Join(root, "freezer", "garden-b", "h1", "sub"), 0o755)).To(Succeed())
			cg, err := d.Create("h1", garden.Limits{})
			Expect(err).NotTo(HaveOccurred())
			Expect(cg.Destroy()).To(Succeed())
			Expect(filepath.Join(root, "freezer", "garden-b", "h1")).NotTo(BeADirectory())
			for _, c := range []string{"memory", "cpu", "pids"} {
				Expect(dir(c, "h1")).NotTo(BeADirectory())
			}
			Expect(d.Handles()).To(BeEmpty())
		})
	})

	Describe("cpu weights", func() {
		It("lets a weight win over shares", func() {
			Expect(cpuShares(garden.CPULimits{LimitInShares: 10, Weight: 20})).To(BeEquivalentTo(20))
			Expect(cpuShares(garden.CPULimits{LimitInShares: 10})).To(BeEquivalentTo(10))
			Expect(cpuShares(garden.CPULimits{})).To(BeZero())
		})

		DescribeTable("maps v1 shares onto v2 weights within [1, 10000]",
			func(shares, weight uint64) { Expect(sharesToWeight(shares)).To(Equal(weight)) },
			Entry("below the minimum", uint64(0), uint64(1)),
			Entry("the minimum", uint64(2), uint64(1)),
			Entry("the default 1024", uint64(1024), uint64(39)),
			Entry("the maximum", uint64(262144), uint64(10000)),
			Entry("above the maximum", uint64(1<<40), uint64(10000)),
		)

		It("is monotonic", func() {
			prev := uint64(0)
			for s := uint64(0); s <= 262144+100; s += 97 {
				w := sharesToWeight(s)
				Expect(w).To(BeNumerically(">=", prev))
				Expect(w).To(BeNumerically(">=", 1))
				Expect(w).To(BeNumerically("<=", 10000))
				prev = w
			}
		})
	})
})
