package main_test

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"diego/garden"
	gardenconfig "diego/garden/config"
)

// mountOptions is the options field of the container's /proc/mounts line
// for a mount point.
func mountOptions(c garden.Container, target string) string {
	GinkgoHelper()
	r := sh(c, "cat /proc/mounts")
	for _, line := range strings.Split(r.stdout, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[1] == target {
			return f[3]
		}
	}
	Fail(fmt.Sprintf("%s is not mounted in the container:\n%s", target, r.stdout))
	return ""
}

// statusField is a field of /proc/self/status as a process in c sees it.
func statusField(c garden.Container, field string) string {
	GinkgoHelper()
	r := sh(c, "grep '^"+field+":' /proc/self/status")
	Expect(r.status).To(BeZero(), r.stderr)
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(r.stdout), field+":"))
}

var _ = Describe("container isolation (runc)", func() {
	var g *gardenProcess
	BeforeEach(func() { g = runningGarden() })

	Describe("an unprivileged container", func() {
		var c garden.Container
		BeforeEach(func() {
			var err error
			c, err = g.client.Create(garden.ContainerSpec{Handle: "unpriv"})
			Expect(err).NotTo(HaveOccurred())
		})

		It("maps its root to an unprivileged host uid range in a user namespace", func() {
			Expect(strings.Fields(sh(c, "cat /proc/self/uid_map").stdout)).To(Equal([]string{"0", "1000000000", "65536"}))
			Expect(strings.Fields(sh(c, "cat /proc/self/gid_map").stdout)).To(Equal([]string{"0", "1000000000", "65536"}))
			// The rootfs is the shifted copy: root owns its files inside.
			Expect(sh(c, "stat -c %u:%g /bin/busybox /etc/passwd /").stdout).To(Equal("0:0\n0:0\n0:0\n"))
			Expect(sh(c, "touch /new-file && stat -c %u /new-file").stdout).To(Equal("0\n"))
		})

		It("bounds its capabilities to Docker's default set", func() {
			// chown dac_override fowner fsetid kill setgid setuid setpcap
			// net_bind_service net_raw sys_chroot mknod audit_write setfcap
			Expect(statusField(c, "CapBnd")).To(Equal("00000000a80425fb"))
			Expect(statusField(c, "CapEff")).To(Equal("00000000a80425fb"))
			vcap := run(c, garden.ProcessSpec{Path: "sh", Args: []string{"-c", "grep CapEff /proc/self/status"}, User: "vcap"}, "")
			Expect(vcap.stdout).To(ContainSubstring("0000000000000000"))
		})

		It("filters system calls with seccomp", func() {
			Expect(statusField(c, "Seccomp")).To(Equal("2"))
			r := sh(c, "mkdir -p /mnt/t && mount -t tmpfs none /mnt/t")
			Expect(r.status).NotTo(BeZero())
		})

		It("masks and write-protects /proc, /sys and the cgroup fs", func() {
			// The host has both (this kernel has no /proc/kcore).
			Expect(os.ReadFile("/proc/timer_list")).NotTo(BeEmpty())
			Expect(sh(c, "wc -c < /proc/timer_list; wc -c < /proc/keys").stdout).To(Equal("0\n0\n"), "masked by /dev/null")
			Expect(sh(c, "ls /proc/acpi | wc -l").stdout).To(Equal("0\n"), "masked by an empty tmpfs")
			Expect(mountOptions(c, "/proc/sys")).To(HavePrefix("ro,"))
			Expect(mountOptions(c, "/sys/fs/cgroup/memory")).To(HavePrefix("ro,"))
			Expect(mountOptions(c, "/sys")).To(HavePrefix("ro,"))
			Expect(sh(c, "echo 1 > /proc/sys/vm/drop_caches").status).NotTo(BeZero())
			Expect(sh(c, "mkdir /sys/fs/cgroup/memory/escape").status).NotTo(BeZero())
		})

		It("mounts /dev/shm and /dev/pts as guardian does, with garden-init as pid 1", func() {
			shm := strings.Split(mountOptions(c, "/dev/shm"), ",")
			Expect(shm).To(ContainElements("rw", "nosuid", "nodev", "noexec"))
			// gid 5 of the container, which /proc/mounts shows as the host's
			// id it maps to.
			Expect(strings.Split(mountOptions(c, "/dev/pts"), ",")).To(ContainElement("gid=1000000005"))
			Expect(sh(c, "cat /proc/1/comm").stdout).To(Equal("garden-init\n"))
		})
	})

	It("leaves a privileged container root, unfiltered, with /dev/fuse", func() {
		c, err := g.client.Create(garden.ContainerSpec{Privileged: true})
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.Fields(sh(c, "cat /proc/self/uid_map").stdout)).To(Equal([]string{"0", "0", "4294967295"}))
		Expect(statusField(c, "Seccomp")).To(Equal("0"))
		Expect(statusField(c, "CapBnd")).NotTo(Equal("00000000a80425fb"))
		Expect(sh(c, "test -c /dev/fuse").status).To(BeZero())
		Expect(strings.Split(mountOptions(c, "/dev/pts"), ",")).To(ContainElement("gid=5"))
		r := sh(c, "mkdir -p /mnt/t && mount -t tmpfs none /mnt/t && echo mounted")
		Expect(r.stdout).To(Equal("mounted\n"), r.stderr)
	})

	Describe("out of memory", func() {
		It("kills the hog, never the init, whose container keeps running", func() {
			c, err := g.client.Create(garden.ContainerSpec{Limits: garden.Limits{Memory: garden.MemoryLimits{LimitInBytes: 32 << 20}}})
			Expect(err).NotTo(HaveOccurred())
			// The init is out of the OOM killer's reach: oom_score_adj
			// -1000, or (without CAP_SYS_RESOURCE) outside the container's
			// memory cgroup.
			r := sh(c, "cat /proc/1/oom_score_adj; grep -E '^[0-9]+:memory:' /proc/1/cgroup; grep -E '^[0-9]+:memory:' /proc/self/cgroup")
			lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
			Expect(lines).To(HaveLen(3), r.stderr)
			Expect(lines[0] == "-1000" || lines[1] != lines[2]).To(BeTrue(), "init is protected: %q", lines)

			Expect(sh(c, "dd if=/dev/zero of=/dev/null bs=64M count=1").status).To(Equal(128 + int(syscall.SIGKILL)))
			Expect(sh(c, "cat /proc/1/comm").stdout).To(Equal("garden-init\n"))
		})

		It("gives a process whose container was destroyed exit status 137", func() {
			c, err := g.client.Create(garden.ContainerSpec{})
			Expect(err).NotTo(HaveOccurred())
			p, err := c.Run(garden.ProcessSpec{Path: "sleep", Args: []string{"100"}}, garden.ProcessIO{})
			Expect(err).NotTo(HaveOccurred())
			Expect(g.client.Destroy(c.Handle())).To(Succeed())
			Expect(p.Wait()).To(Equal(137))
		})
	})

	Describe("processes", func() {
		var c garden.Container
		BeforeEach(func() {
			var err error
			c, err = g.client.Create(garden.ContainerSpec{Env: []string{"FOO=container", "KEEP=1"}})
			Expect(err).NotTo(HaveOccurred())
		})

		It("runs numeric uid:gid users without a passwd entry, with supplementary groups from /etc/group", func() {
			r := run(c, garden.ProcessSpec{Path: "id", User: "1234:5678"}, "")
			Expect(r.status).To(BeZero(), r.stderr)
			Expect(r.stdout).To(ContainSubstring("uid=1234 gid=5678"))

			Expect(sh(c, "echo extra:x:3333:vcap >> /etc/group").status).To(BeZero())
			r = run(c, garden.ProcessSpec{Path: "id", Args: []string{"-G"}, User: "vcap"}, "")
			Expect(strings.Fields(r.stdout)).To(ContainElement("3333"))
		})

		It("resolves relative stream paths against the user's home", func() {
			Expect(c.StreamIn(garden.StreamInSpec{Path: ".", User: "vcap", TarStream: tarOf(map[string]string{"here.txt": "home"})})).To(Succeed())
			Expect(c.StreamIn(garden.StreamInSpec{Path: "dir/", User: "vcap", TarStream: tarOf(map[string]string{"in.txt": "sub"})})).To(Succeed())
			r := run(c, garden.ProcessSpec{Path: "cat", Args: []string{"/home/vcap/here.txt", "/home/vcap/dir/in.txt"}, User: "vcap"}, "")
			Expect(r.stdout).To(Equal("homesub"))

			out, err := c.StreamOut(garden.StreamOutSpec{Path: "dir/in.txt", User: "vcap"})
			Expect(err).NotTo(HaveOccurred())
			defer out.Close()
			tr := tar.NewReader(out)
			hdr, err := tr.Next()
			Expect(err).NotTo(HaveOccurred())
			Expect(hdr.Name).To(Equal("in.txt"))
		})

		It("creates a missing working directory owned by the user", func() {
			r := run(c, garden.ProcessSpec{Path: "sh", Args: []string{"-c", "pwd; stat -c %U . ..; touch mine"}, Dir: "/home/vcap/new/deeper", User: "vcap"}, "")
			Expect(r.status).To(BeZero(), r.stderr)
			Expect(r.stdout).To(Equal("/home/vcap/new/deeper\nvcap\nvcap\n"))
		})

		It("lets the process's env override the container's, each key once", func() {
			r := run(c, garden.ProcessSpec{Path: "sh", Args: []string{"-c", "env | grep -E '^(FOO|KEEP)=' | sort"}, Env: []string{"FOO=process"}}, "")
			Expect(r.stdout).To(Equal("FOO=process\nKEEP=1\n"))
		})

		It("refuses process bind mounts clearly", func() {
			_, err := c.Run(garden.ProcessSpec{Path: "true", BindMounts: []garden.BindMount{{SrcPath: "/etc", DstPath: "/mnt"}}}, garden.ProcessIO{})
			Expect(err).To(MatchError(ContainSubstring("bind_mounts are not supported")))
		})

		It("lets a non-root user open /dev/stdin, /dev/stdout and /dev/stderr", func() {
			r := run(c, garden.ProcessSpec{Path: "sh", Args: []string{"-c", "echo out > /dev/stdout; echo err > /dev/stderr; cat /dev/stdin"}, User: "vcap"}, "in\n")
			Expect(r.status).To(BeZero(), r.stderr)
			Expect(r.stdout).To(Equal("out\nin\n"))
			Expect(r.stderr).To(Equal("err\n"))
		})

		It("starts each process from the container's init, set up as runc exec would set it up", func() {
			// cat is the process garden started: every "self" is its own.
			r := run(c, garden.ProcessSpec{Path: "cat", Args: []string{"/proc/self/status", "/proc/self/stat",
				"/proc/self/oom_score_adj", "/proc/self/cgroup", "/proc/1/cgroup"}}, "")
			Expect(r.status).To(BeZero(), r.stderr)
			field := func(name string) string {
				GinkgoHelper()
				m := regexp.MustCompile(`(?m)^` + name + `:\s+(\S+)$`).FindStringSubmatch(r.stdout)
				Expect(m).NotTo(BeNil(), "%s in\n%s", name, r.stdout)
				return m[1]
			}
			Expect(field("PPid")).To(Equal("1"), "the init forked it (runc exec's processes have no parent in the container)")
			Expect(field("SigIgn")).To(MatchRegexp(`^0+$`), "the init's dispositions do not reach the process")
			Expect(field("SigBlk")).To(MatchRegexp(`^0+$`))
			stat := regexp.MustCompile(`(?m)^(\d+) \(cat\) \S+ \d+ \d+ (\d+) `).FindStringSubmatch(r.stdout)
			Expect(stat).NotTo(BeNil(), r.stdout)
			Expect(stat[2]).To(Equal(stat[1]), "a session of its own")
			own, err := os.ReadFile("/proc/self/oom_score_adj")
			Expect(err).NotTo(HaveOccurred())
			Expect(r.stdout).To(MatchRegexp(`(?m)^`+strings.TrimSpace(string(own))+`$`), "garden's oom_score_adj, not the init's -1000")
			pids := regexp.MustCompile(`(?m)^\d+:pids:(\S+)$`).FindAllStringSubmatch(r.stdout, -1)
			if len(pids) > 0 {
				Expect(pids).To(HaveLen(2))
				Expect(pids[0][1]).To(Equal(pids[1][1]+"/processes"), "the pids sub-group, beside the init's group")
			}
		})

		It("starts processes through runc exec in a container without the process socket, as an older garden made them", func() {
			info, err := c.Info()
			Expect(err).NotTo(HaveOccurred())
			Expect(os.Remove(filepath.Join(info.ContainerPath, "init.sock"))).To(Succeed())
			r := run(c, garden.ProcessSpec{Path: "sh", Args: []string{"-c", "grep '^PPid:' /proc/$$/status; echo $FOO; exit 4"}}, "")
			Expect(r.status).To(Equal(4), r.stderr)
			Expect(r.stdout).To(MatchRegexp(`^PPid:\s+0\ncontainer\n$`), "runc exec's process has no parent in the container")
		})

		It("starts many processes at once, each with its own output and exit status", func() {
			const n = 40
			var wg sync.WaitGroup
			results := make([]result, n)
			errs := make([]error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer GinkgoRecover()
					var stdout, stderr bytes.Buffer
					p, err := c.Run(garden.ProcessSpec{Path: "sh", Args: []string{"-c", fmt.Sprintf("echo out-%d; echo err-%d >&2; exit %d", i, i, i%7)}},
						garden.ProcessIO{Stdout: &stdout, Stderr: &stderr})
					if err != nil {
						errs[i] = err
						return
					}
					status, err := p.Wait()
					errs[i] = err
					results[i] = result{status: status, stdout: stdout.String(), stderr: stderr.String()}
				}()
			}
			wg.Wait()
			for i := range n {
				Expect(errs[i]).NotTo(HaveOccurred(), "process %d", i)
				Expect(results[i]).To(Equal(result{status: i % 7, stdout: fmt.Sprintf("out-%d\n", i), stderr: fmt.Sprintf("err-%d\n", i)}))
			}
		})

		It("leaks no host file descriptors into processes", func() {
			// ls runs as a child (the ':' keeps sh from exec'ing it), so
			// the listing is sh's own table.
			r := run(c, garden.ProcessSpec{Path: "sh", Args: []string{"-c", "ls /proc/$$/fd; :"}}, "")
			Expect(strings.Fields(r.stdout)).To(Equal([]string{"0", "1", "2"}))
		})

		It("sets rlimits before dropping privileges, raising the hard limit from the host", func() {
			var own syscall.Rlimit
			Expect(syscall.Getrlimit(syscall.RLIMIT_NOFILE, &own)).To(Succeed())
			hard := own.Max
			r := run(c, garden.ProcessSpec{Path: "sh", Args: []string{"-c", "ulimit -n; ulimit -Hn"}, User: "vcap",
				Limits: garden.ResourceLimits{Nofile: &hard}}, "")
			Expect(r.status).To(BeZero(), r.stderr)
			Expect(r.stdout).To(Equal(fmt.Sprintf("%d\n%d\n", hard, hard)))

			// Above garden's own hard limit: garden (which has the test's
			// capabilities) raises it where it holds CAP_SYS_RESOURCE, and
			// says why not where it does not (this sandbox).
			above := hard + 1000
			status, err := os.ReadFile("/proc/self/status")
			Expect(err).NotTo(HaveOccurred())
			var capEff uint64
			for _, line := range strings.Split(string(status), "\n") {
				if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
					_, err := fmt.Sscanf(strings.TrimSpace(v), "%x", &capEff)
					Expect(err).NotTo(HaveOccurred())
				}
			}
			p, err := c.Run(garden.ProcessSpec{Path: "sh", Args: []string{"-c", "ulimit -Hn"}, User: "vcap",
				Limits: garden.ResourceLimits{Nofile: &above}}, garden.ProcessIO{})
			if capEff&(1<<24) == 0 {
				Expect(err).To(MatchError(ContainSubstring("needs CAP_SYS_RESOURCE")))
				return
			}
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Wait()).To(BeZero())
		})

		It("gives a TTY without a window size 80x24, and many TTYs at once all work", func() {
			stdout := gbytes.NewBuffer()
			p, err := c.Run(garden.ProcessSpec{Path: "stty", Args: []string{"size"}, TTY: &garden.TTYSpec{}},
				garden.ProcessIO{Stdout: stdout, Stderr: stdout})
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Wait()).To(BeZero())
			Expect(stdout).To(gbytes.Say("24 80"))

			var wg sync.WaitGroup
			outputs := make([]*bytes.Buffer, 12)
			statuses := make([]int, 12)
			for i := range outputs {
				outputs[i] = &bytes.Buffer{}
				wg.Add(1)
				go func() {
					defer GinkgoRecover()
					defer wg.Done()
					p, err := c.Run(garden.ProcessSpec{Path: "sh", Args: []string{"-c", "stty size; tty"}, User: "vcap",
						TTY: &garden.TTYSpec{WindowSize: &garden.WindowSize{Columns: 100, Rows: 30}}},
						garden.ProcessIO{Stdout: outputs[i], Stderr: outputs[i]})
					Expect(err).NotTo(HaveOccurred())
					statuses[i], err = p.Wait()
					Expect(err).NotTo(HaveOccurred())
				}()
			}
			wg.Wait()
			for i, out := range outputs {
				Expect(statuses[i]).To(BeZero(), out.String())
				Expect(out.String()).To(MatchRegexp(`^30 100\r?\n/dev/pts/\d+\r?\n$`))
			}
		})
	})
})

var _ = Describe("processes across a garden restart", func() {
	It("keep running under their reaper, and Attach after the restart gets their later output and exit status", func() {
		cfg := gardenConfig(func(c *gardenconfig.Config) { c.DestroyContainersOnStartup = false })
		g := startGarden(cfg)
		c, err := g.client.Create(garden.ContainerSpec{Handle: "survivor-box"})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { _ = g.client.Destroy("survivor-box") })
		early := gbytes.NewBuffer()
		_, err = c.Run(garden.ProcessSpec{ID: "survivor", Path: "sh", Args: []string{"-c", "echo early; sleep 4; echo late; echo late-err >&2; exit 3"}},
			garden.ProcessIO{Stdout: early})
		Expect(err).NotTo(HaveOccurred())
		Eventually(early).Should(gbytes.Say("early"))
		Expect(err).NotTo(HaveOccurred())
		g.stop()

		g = startGarden(cfg)
		c, err = g.client.Lookup("survivor-box")
		Expect(err).NotTo(HaveOccurred())
		stdout, stderr := gbytes.NewBuffer(), gbytes.NewBuffer()
		p, err := c.Attach("survivor", garden.ProcessIO{Stdout: stdout, Stderr: stderr})
		Expect(err).NotTo(HaveOccurred())
		Expect(p.Wait()).To(Equal(3))
		Expect(stdout.Contents()).To(Equal([]byte("late\n")))
		Expect(stderr.Contents()).To(Equal([]byte("late-err\n")))
		_, err = c.Attach("never-ran", garden.ProcessIO{})
		Expect(err).To(MatchError(garden.ProcessNotFoundError{ProcessID: "never-ran"}))
		Expect(g.client.Destroy("survivor-box")).To(Succeed())
		g.stop()
	})
})
