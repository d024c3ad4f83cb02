package linux

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/garden"
)

var _ = Describe("the OCI bundle", func() {
	base := func() bundleSpec {
		return bundleSpec{Handle: "h", RootFS: "/run/root", DepotDir: "/depot/h", InitBin: "/usr/bin/garden",
			CgroupPath: "/garden-t/h"}
	}
	mount := func(s *specs.Spec, dst string) specs.Mount {
		GinkgoHelper()
		for _, m := range s.Mounts {
			if m.Destination == dst {
				return m
			}
		}
		Fail("no mount at " + dst)
		return specs.Mount{}
	}
	namespaces := func(s *specs.Spec) []specs.LinuxNamespaceType {
		var out []specs.LinuxNamespaceType
		for _, ns := range s.Linux.Namespaces {
			out = append(out, ns.Type)
		}
		return out
	}

	It("isolates an unprivileged container: user namespace, Docker's capabilities, seccomp, masked paths", func() {
		s := ociSpec(base())
		Expect(namespaces(s)).To(ConsistOf(specs.MountNamespace, specs.NetworkNamespace, specs.PIDNamespace,
			specs.UTSNamespace, specs.IPCNamespace, specs.UserNamespace))
		Expect(s.Linux.UIDMappings).To(Equal([]specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000000000, Size: 65536}}))
		Expect(s.Linux.GIDMappings).To(Equal(s.Linux.UIDMappings))
		Expect(s.Process.Capabilities.Bounding).To(ConsistOf(unprivilegedCaps))
		Expect(s.Process.Capabilities.Bounding).NotTo(ContainElement("CAP_SYS_ADMIN"))
		Expect(s.Linux.Seccomp.DefaultAction).To(Equal(specs.ActErrno))
		Expect(*s.Linux.Seccomp.DefaultErrnoRet).To(BeEquivalentTo(1))
		Expect(s.Linux.MaskedPaths).To(ContainElements("/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"))
		Expect(s.Linux.ReadonlyPaths).To(ContainElements("/proc/sys", "/proc/sysrq-trigger"))
		Expect(s.Process.Args).To(Equal([]string{"/dev/garden-init", "listen"}), "the init serves the process socket")
		Expect(s.Hostname).To(Equal("h"))
		Expect(s.Linux.CgroupsPath).To(Equal("/garden-t/h"))
		Expect(mount(s, "/dev/garden-init")).To(Equal(specs.Mount{Destination: "/dev/garden-init", Type: "bind",
			Source: "/usr/bin/garden", Options: []string{"bind", "ro", "nosuid", "nodev"}}))
		Expect(mount(s, "/dev/shm").Options).To(ContainElements("rw", "nosuid", "nodev", "noexec"))
		Expect(mount(s, "/dev/pts").Options).To(ContainElement("gid=5"))
		Expect(mount(s, "/sys").Options).To(ContainElement("ro"))
		Expect(mount(s, "/sys/fs/cgroup").Options).To(ContainElement("ro"))
		Expect(mount(s, "/etc/hosts").Source).To(Equal("/depot/h/hosts"))
		Expect(s.Linux.Devices).To(BeEmpty())
	})

	It("leaves a privileged container without those, and gives it /dev/fuse", func() {
		b := base()
		b.Privileged = true
		s := ociSpec(b)
		Expect(namespaces(s)).NotTo(ContainElement(specs.UserNamespace))
		Expect(s.Linux.UIDMappings).To(BeEmpty())
		Expect(s.Linux.Seccomp).To(BeNil())
		Expect(s.Linux.MaskedPaths).To(BeEmpty())
		Expect(s.Process.Capabilities.Bounding).To(Equal(allCaps()))
		Expect(s.Linux.Devices).To(HaveLen(1))
		Expect(s.Linux.Devices[0].Path).To(Equal("/dev/fuse"))
		Expect(s.Linux.Resources.Devices).To(ContainElement(HaveField("Allow", true)))
	})

	It("carries the limits and the spec's bind mounts", func() {
		b := base()
		b.Limits = garden.Limits{Memory: garden.MemoryLimits{LimitInBytes: 64 << 20}, CPU: garden.CPULimits{Weight: 1}}
		b.BindMounts = []garden.BindMount{{SrcPath: "/host/ro", DstPath: "in/ro", Mode: garden.BindMountModeRO},
			{SrcPath: "/host/rw", DstPath: "/in/rw", Mode: garden.BindMountModeRW}}
		s := ociSpec(b)
		Expect(*s.Linux.Resources.Memory.Limit).To(BeEquivalentTo(64 << 20))
		Expect(s.Linux.Resources.Memory.Swap).To(BeNil(), "no swap accounting")
		Expect(*s.Linux.Resources.CPU.Shares).To(BeEquivalentTo(2), "raised to the kernel's minimum")
		Expect(mount(s, "/in/ro").Options).To(ContainElements("ro", "rbind"))
		Expect(mount(s, "/in/rw").Options).To(ContainElements("rw", "rbind"))

		b.SwapLimit = true
		Expect(*ociSpec(b).Linux.Resources.Memory.Swap).To(BeEquivalentTo(64 << 20))
		Expect(ociSpec(base()).Linux.Resources.Memory).To(BeNil())
	})

	It("mounts tmpfs on a read-only root's /tmp and /home only where they exist, and its /etc files likewise", func() {
		root := GinkgoT().TempDir()
		Expect(os.MkdirAll(filepath.Join(root, "tmp"), 0o755)).To(Succeed())
		writeTree(root, map[string]string{"etc/hosts": ""})
		b := base()
		b.RootFS, b.ReadOnly = root, true
		s := ociSpec(b)
		Expect(s.Root.Readonly).To(BeTrue())
		Expect(mount(s, "/tmp").Type).To(Equal("tmpfs"))
		var dsts []string
		for _, m := range s.Mounts {
			dsts = append(dsts, m.Destination)
		}
		Expect(dsts).NotTo(ContainElements("/home", "/etc/resolv.conf"))
		Expect(dsts).To(ContainElement("/etc/hosts"))
	})

	It("filters with an allow-list that keeps namespace creation and mounting out", func() {
		p := seccompProfile()
		var allowed []string
		for _, sc := range p.Syscalls {
			if sc.Action == specs.ActAllow && len(sc.Args) == 0 {
				allowed = append(allowed, sc.Names...)
			}
		}
		Expect(allowed).To(ContainElements("read", "write", "execve", "openat2", "setuid", "chroot"))
		Expect(allowed).NotTo(ContainElements("mount", "umount2", "unshare", "setns", "pivot_root", "bpf",
			"kexec_load", "init_module", "reboot", "keyctl", "userfaultfd", "clone", "clone3", "socket"))
		Expect(p.Syscalls).To(ContainElement(specs.LinuxSyscall{Names: []string{"clone"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: cloneNamespaceFlags, Op: specs.OpMaskedEqual}}}))
	})

	It("filters every architecture this kernel runs system calls of", func() {
		if runtime.GOARCH != "amd64" {
			Skip("the architectures are amd64's")
		}
		arches := seccompProfile().Architectures
		Expect(arches).To(ContainElements(specs.ArchX86_64, specs.ArchX86))
		status, err := os.ReadFile("/proc/self/status")
		Expect(err).NotTo(HaveOccurred())
		if !strings.Contains(string(status), "\nSeccomp:\t0\n") {
			// Under a filter of its own garden does not probe, and keeps x32.
			Expect(arches).To(ContainElement(specs.ArchX32))
			return
		}
		_, _, errno := unix.RawSyscall(x32SyscallBit|unix.SYS_GETPID, 0, 0, 0)
		if errno == unix.ENOSYS {
			Expect(arches).NotTo(ContainElement(specs.ArchX32))
		} else {
			Expect(arches).To(ContainElement(specs.ArchX32))
		}
	})

	It("reads a process's start time as runc records it", func() {
		stat, err := os.ReadFile("/proc/self/stat")
		Expect(err).NotTo(HaveOccurred())
		// The test binary's name has no spaces: field 22 counts plainly.
		start, err := procStartTime(os.Getpid())
		Expect(err).NotTo(HaveOccurred())
		Expect(strconv.FormatUint(start, 10)).To(Equal(strings.Fields(string(stat))[21]))
		_, err = procStartTime(-1)
		Expect(err).To(HaveOccurred())
	})

	It("names runc containers by a hash of the handle, in runc's alphabet", func() {
		Expect(runcID(`we"ird\handle`)).To(MatchRegexp(`^g[0-9a-f]{32}$`))
		Expect(runcID("a")).NotTo(Equal(runcID("b")))
	})
})
