package rootfs_test

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/test/rootfs"
)

// The Debian stack rootfs script's own behaviour: its cache, its refusals
// and its verification, without the network. Building the tree itself
// (mmdebstrap, 15-90 s and a 130 MB download) is left to `make run` and
// scripts/quickstart.sh, which runs nc -z and curl in it (docs/rootfs.md).
var _ = Describe("build-stack.sh", func() {
	var script, buildScript string

	BeforeEach(func() {
		var err error
		buildScript, err = rootfs.Script()
		Expect(err).NotTo(HaveOccurred())
		script = filepath.Join(filepath.Dir(buildScript), "build-stack.sh")
	})

	run := func(env []string, args ...string) (string, error) {
		cmd := exec.Command(script, args...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	// stampFor is the stamp the script writes for dir's content with the
	// default inputs.
	stampFor := func(dir string) string {
		body, err := os.ReadFile(script)
		Expect(err).NotTo(HaveOccurred())
		version := regexp.MustCompile(`(?m)^SCRIPT_VERSION=(\d+)$`).FindSubmatch(body)
		Expect(version).NotTo(BeNil())
		arch, err := exec.Command("dpkg", "--print-architecture").Output()
		Expect(err).NotTo(HaveOccurred())
		manifest, err := exec.Command(buildScript, "--manifest", dir).Output()
		Expect(err).NotTo(HaveOccurred())
		return strings.Join([]string{
			"# diego stack rootfs (Debian), built by deploy/rootfs/build-stack.sh",
			"script_version=" + string(version[1]),
			"source_date_epoch=1704067200",
			"arch=" + strings.TrimSpace(string(arch)),
			"suite=bookworm",
			"mirror=http://deb.debian.org/debian",
			"packages=bash,coreutils,tar,netcat-openbsd,curl,ca-certificates",
			fmt.Sprintf("manifest_sha256=%x", sha256.Sum256(manifest)),
			"# installed: bash=5.2.15-2+b13",
			"",
		}, "\n")
	}

	// stamped makes a small tree with the stamp of a finished build.
	stamped := func() string {
		dir := filepath.Join(GinkgoT().TempDir(), "cflinuxfs")
		Expect(os.MkdirAll(filepath.Join(dir, "etc"), 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(dir, "etc", "os-release"), []byte("ID=debian\n"), 0o644)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(dir, rootfs.StampFile), []byte(stampFor(dir)), 0o644)).To(Succeed())
		return dir
	}

	It("skips a tree whose stamp records the same inputs, at once and without the network", func() {
		dir := stamped()
		before, err := os.ReadFile(filepath.Join(dir, rootfs.StampFile))
		Expect(err).NotTo(HaveOccurred())
		start := time.Now()
		// An unreachable mirror in the environment would change the inputs:
		// the defaults must be enough to decide.
		out, err := run(nil, dir)
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring(dir + " is up to date"))
		Expect(time.Since(start)).To(BeNumerically("<", 5*time.Second))
		Expect(os.ReadFile(filepath.Join(dir, rootfs.StampFile))).To(Equal(before))
	})

	It("treats other inputs as a different tree, and keeps the old one when the rebuild fails", func() {
		dir := stamped()
		// A stand-in mmdebstrap that records its arguments and fails, as
		// an unreachable mirror would.
		bin := GinkgoT().TempDir()
		argsFile := filepath.Join(bin, "args")
		Expect(os.WriteFile(filepath.Join(bin, "mmdebstrap"),
			[]byte("#!/bin/sh\necho \"$@\" > "+argsFile+"\nexit 1\n"), 0o755)).To(Succeed())
		out, err := run([]string{"PATH=" + bin + ":" + os.Getenv("PATH"), "DIEGO_ROOTFS_DEBIAN_SUITE=trixie",
			"DIEGO_ROOTFS_DEBIAN_MIRROR=http://mirror.invalid/debian"}, dir)
		Expect(err).To(HaveOccurred())
		Expect(out).NotTo(ContainSubstring("is up to date"))
		Expect(out).To(ContainSubstring("running mmdebstrap (trixie from http://mirror.invalid/debian)"))
		Expect(out).To(ContainSubstring("mmdebstrap failed"))
		args, err := os.ReadFile(argsFile)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(args)).To(ContainSubstring("--variant=essential --include=bash,coreutils,tar,netcat-openbsd,curl,ca-certificates"))
		Expect(string(args)).To(MatchRegexp(` trixie /\S+/\.cflinuxfs\.build\.\w+/rootfs http://mirror.invalid/debian\n$`))
		Expect(filepath.Join(dir, "etc", "os-release")).To(BeAnExistingFile())
		Expect(os.ReadFile(filepath.Join(dir, rootfs.StampFile))).To(ContainSubstring("suite=bookworm"))
		leftovers, err := filepath.Glob(filepath.Join(filepath.Dir(dir), ".cflinuxfs.build.*"))
		Expect(err).NotTo(HaveOccurred())
		Expect(leftovers).To(BeEmpty(), "the scratch directory goes")
	})

	It("verifies a tree against its stamp and names a changed one", func() {
		dir := stamped()
		out, err := run(nil, "--verify", dir)
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("matches its stamp"))

		Expect(os.WriteFile(filepath.Join(dir, "etc", "os-release"), []byte("ID=other\n"), 0o644)).To(Succeed())
		out, err = run(nil, "--verify", dir)
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring("has changed since it was built"))
	})

	It("refuses to replace a directory it did not build", func() {
		dir := filepath.Join(GinkgoT().TempDir(), "foreign")
		Expect(os.MkdirAll(dir, 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(dir, "keep"), nil, 0o644)).To(Succeed())
		out, err := run(nil, dir)
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring("refusing to replace it"))
		Expect(filepath.Join(dir, "keep")).To(BeAnExistingFile())
	})

	It("says how to call it", func() {
		for _, args := range [][]string{{}, {"--bogus"}, {"--verify"}, {"a", "b"}} {
			out, err := run(nil, args...)
			Expect(err).To(HaveOccurred())
			Expect(err.(*exec.ExitError).ExitCode()).To(Equal(2))
			Expect(out).To(ContainSubstring("usage: "))
		}
	})
})
