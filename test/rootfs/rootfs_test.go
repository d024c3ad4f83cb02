package rootfs_test

import (
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/test/rootfs"
)

// runScript runs the build script with args and returns its combined output.
func runScript(args ...string) (string, error) {
	script, err := rootfs.Script()
	Expect(err).NotTo(HaveOccurred())
	out, err := exec.Command(script, args...).CombinedOutput()
	return string(out), err
}

func build(dir string) string {
	out, err := runScript(dir)
	Expect(err).NotTo(HaveOccurred(), out)
	return out
}

func chroot(dir string, args ...string) string {
	out, err := exec.Command("chroot", append([]string{dir}, args...)...).CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), string(out))
	return string(out)
}

// manifest describes every entry under dir (mode, owner, mtime, link target,
// content hash), independently of the script's own manifest.
func manifest(dir string) []string {
	var lines []string
	err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := os.Lstat(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		st := info.Sys().(*syscall.Stat_t)
		line := fmt.Sprintf("%s %v %d:%d %d", rel, info.Mode(), st.Uid, st.Gid, info.ModTime().UnixNano())
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			line += " -> " + target
		case info.Mode().IsRegular():
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			h := sha256.New()
			if _, err := io.Copy(h, f); err != nil {
				return err
			}
			line += fmt.Sprintf(" %x", h.Sum(nil))
		}
		lines = append(lines, line)
		return nil
	})
	Expect(err).NotTo(HaveOccurred())
	return lines
}

// difference lists the lines of a that b lacks.
func difference(a, b []string) []string {
	in := map[string]bool{}
	for _, l := range b {
		in[l] = true
	}
	var missing []string
	for _, l := range a {
		if !in[l] {
			missing = append(missing, l)
		}
	}
	return missing
}

func setenv(key, value string, set bool) {
	old, had := os.LookupEnv(key)
	if set {
		Expect(os.Setenv(key, value)).To(Succeed())
	} else {
		Expect(os.Unsetenv(key)).To(Succeed())
	}
	DeferCleanup(func() {
		if had {
			os.Setenv(key, old)
		} else {
			os.Unsetenv(key)
		}
	})
}

var _ = Describe("the busybox rootfs", Ordered, func() {
	var base, dir string

	BeforeAll(func() {
		var err error
		base, err = os.MkdirTemp("", "diego-rootfs-test-")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(os.RemoveAll, base)
		dir = filepath.Join(base, "a")
		start := time.Now()
		out := build(dir)
		Expect(out).To(ContainSubstring("built " + dir))
		GinkgoWriter.Printf("first build took %s:\n%s", time.Since(start), out)
	})

	It("holds busybox with its applets and bash, executable", func() {
		for _, p := range []string{"bin/busybox", "bin/sh", "bin/bash", "usr/bin/nc", "bin/tar", "bin/ls",
			"bin/cat", "bin/sleep", "bin/ps", "usr/bin/id", "bin/hostname", "usr/bin/wget", "usr/bin/env", "sbin/ip"} {
			info, err := os.Stat(filepath.Join(dir, p))
			Expect(err).NotTo(HaveOccurred(), p)
			Expect(info.Mode().IsRegular()).To(BeTrue(), p)
			Expect(info.Mode().Perm()&0o111).To(Equal(fs.FileMode(0o111)), p)
		}
		target, err := os.Readlink(filepath.Join(dir, "usr/bin/nc"))
		Expect(err).NotTo(HaveOccurred())
		Expect(target).To(Equal("../../bin/busybox"), "applet links are relative, so they resolve on the host too")
		bash, err := os.Lstat(filepath.Join(dir, "bin/bash"))
		Expect(err).NotTo(HaveOccurred())
		Expect(bash.Mode().IsRegular()).To(BeTrue(), "bin/bash is bash-static, not a busybox link")
	})

	It("has root and vcap in passwd and group", func() {
		passwd, err := os.ReadFile(filepath.Join(dir, "etc/passwd"))
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.Split(string(passwd), "\n")).To(ContainElements(
			"root:x:0:0:root:/root:/bin/sh",
			"vcap:x:2000:2000::/home/vcap:/bin/bash",
		))
		group, err := os.ReadFile(filepath.Join(dir, "etc/group"))
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.Split(string(group), "\n")).To(ContainElements("root:x:0:", "vcap:x:2000:"))
	})

	It("has the directories, placeholders and os-release garden expects", func() {
		modes := map[string]fs.FileMode{
			"tmp": 0o777 | fs.ModeSticky, "var/tmp": 0o777 | fs.ModeSticky, "root": 0o700,
			"home/vcap": 0o755, "proc": 0o555, "sys": 0o555, "dev": 0o755, "usr/local/bin": 0o755,
			"usr/bin": 0o755, "usr/sbin": 0o755, "sbin": 0o755,
		}
		for p, mode := range modes {
			info, err := os.Stat(filepath.Join(dir, p))
			Expect(err).NotTo(HaveOccurred(), p)
			Expect(info.IsDir()).To(BeTrue(), p)
			Expect(info.Mode()&(fs.ModePerm|fs.ModeSticky)).To(Equal(mode), p)
		}
		home, err := os.Stat(filepath.Join(dir, "home/vcap"))
		Expect(err).NotTo(HaveOccurred())
		Expect(home.Sys().(*syscall.Stat_t).Uid).To(BeEquivalentTo(2000))
		Expect(home.Sys().(*syscall.Stat_t).Gid).To(BeEquivalentTo(2000))
		for _, p := range []string{"etc/hosts", "etc/resolv.conf"} {
			info, err := os.Stat(filepath.Join(dir, p))
			Expect(err).NotTo(HaveOccurred(), p)
			Expect(info.Size()).To(BeZero(), p)
		}
		Expect(filepath.Join(dir, "etc/nsswitch.conf")).To(BeARegularFile())
		Expect(filepath.Join(dir, "app")).NotTo(BeAnExistingFile())
		osRelease, err := os.ReadFile(filepath.Join(dir, "etc/os-release"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(osRelease)).To(ContainSubstring(`NAME="diego busybox rootfs"`))
	})

	It("records the packages and the manifest hash in its stamp", func() {
		stamp, err := rootfs.ReadStamp(dir)
		Expect(err).NotTo(HaveOccurred())
		Expect(stamp).To(HaveKey("script_version"))
		Expect(stamp["busybox-static"]).To(MatchRegexp(`^1:1\.`))
		Expect(stamp["bash-static"]).To(MatchRegexp(`^5\.`))
		Expect(stamp["manifest_sha256"]).To(MatchRegexp(`^[0-9a-f]{64}$`))
		out, err := runScript("--verify", dir)
		Expect(err).NotTo(HaveOccurred(), out)
	})

	It("runs busybox sh and bash under chroot", func() {
		out := chroot(dir, "/bin/sh", "-c", "echo ok; id vcap")
		Expect(out).To(HavePrefix("ok\n"))
		Expect(out).To(ContainSubstring("uid=2000(vcap) gid=2000(vcap)"))
		Expect(chroot(dir, "/bin/bash", "-c", "echo $BASH_VERSION")).To(MatchRegexp(`^5\.\d+\.\d+`))
		// Nothing here may write into the tree (no /dev/null: /dev is empty until garden mounts it).
		Expect(chroot(dir, "/bin/sh", "-c", "cd / && tar -c -f - etc/passwd | tar -t -f -; nc --help 2>&1 | head -n1")).
			To(MatchRegexp(`^etc/passwd\nBusyBox v1\.`))
	})

	It("skips a second build while the stamp matches", func() {
		before, err := os.ReadFile(filepath.Join(dir, rootfs.StampFile))
		Expect(err).NotTo(HaveOccurred())
		beforeInfo, err := os.Stat(filepath.Join(dir, rootfs.StampFile))
		Expect(err).NotTo(HaveOccurred())
		start := time.Now()
		out := build(dir)
		took := time.Since(start)
		GinkgoWriter.Printf("cached build took %s\n", took)
		Expect(out).To(ContainSubstring("is up to date"))
		Expect(took).To(BeNumerically("<", 10*time.Second))
		after, err := os.ReadFile(filepath.Join(dir, rootfs.StampFile))
		Expect(err).NotTo(HaveOccurred())
		Expect(after).To(Equal(before))
		afterInfo, err := os.Stat(filepath.Join(dir, rootfs.StampFile))
		Expect(err).NotTo(HaveOccurred())
		Expect(os.SameFile(beforeInfo, afterInfo)).To(BeTrue(), "the tree was not replaced")
	})

	It("is reproducible: another build elsewhere gives the same tree", func() {
		other := filepath.Join(base, "elsewhere", "b")
		Expect(build(other)).To(ContainSubstring("built"))
		a, b := manifest(dir), manifest(other)
		Expect(len(a)).To(BeNumerically(">", 250))
		Expect(difference(a, b)).To(BeEmpty())
		Expect(difference(b, a)).To(BeEmpty())
		sa, err := rootfs.ReadStamp(dir)
		Expect(err).NotTo(HaveOccurred())
		sb, err := rootfs.ReadStamp(other)
		Expect(err).NotTo(HaveOccurred())
		Expect(sb).To(Equal(sa))
	})

	It("builds a directory once when two processes build it at the same time", func() {
		target := filepath.Join(base, "concurrent")
		outs := make([]string, 2)
		var wg sync.WaitGroup
		for i := range outs {
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				outs[i] = build(target)
			}()
		}
		wg.Wait()
		joined := strings.Join(outs, "")
		Expect(strings.Count(joined, "built "+target)).To(Equal(1), joined)
		Expect(strings.Count(joined, "is up to date")).To(Equal(1), joined)
	})

	It("refuses to replace a directory it did not build", func() {
		target := filepath.Join(base, "foreign")
		Expect(os.MkdirAll(target, 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(target, "keep"), nil, 0o644)).To(Succeed())
		out, err := runScript(target)
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring("refusing to replace it"))
		Expect(filepath.Join(target, "keep")).To(BeAnExistingFile())
	})

	Describe("Path", func() {
		It("defaults to /var/lib/diego/rootfs/busybox", func() {
			setenv(rootfs.EnvVar, "", false)
			Expect(rootfs.Dir()).To(Equal("/var/lib/diego/rootfs/busybox"))
		})

		It("builds $DIEGO_ROOTFS when it has no stamp, and then returns it at once", func() {
			target := filepath.Join(base, "env")
			setenv(rootfs.EnvVar, target, true)
			p, err := rootfs.Path()
			Expect(err).NotTo(HaveOccurred())
			Expect(p).To(Equal(target))
			Expect(filepath.Join(target, rootfs.StampFile)).To(BeARegularFile())
			Expect(filepath.Join(target, "bin/sh")).To(BeAnExistingFile())
			start := time.Now()
			Expect(rootfs.MustPath()).To(Equal(target))
			Expect(time.Since(start)).To(BeNumerically("<", time.Second))
		})

		It("returns a $DIEGO_ROOTFS of the caller's own as it is", func() {
			target := filepath.Join(base, "own")
			Expect(os.MkdirAll(filepath.Join(target, "bin"), 0o755)).To(Succeed())
			setenv(rootfs.EnvVar, target, true)
			Expect(rootfs.Path()).To(Equal(target))
			Expect(filepath.Join(target, rootfs.StampFile)).NotTo(BeAnExistingFile())
		})
	})

	// Last: writing as vcap changes /home/vcap's mtime, so the tree no longer
	// matches its manifest.
	It("lets vcap write its home and /tmp", func() {
		out, err := exec.Command("chroot", "--userspec=2000:2000", dir, "/bin/bash", "-c",
			"cd /home/vcap && touch f /tmp/f && rm f /tmp/f && id -un").CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		Expect(string(out)).To(Equal("vcap\n"))
	})
})
