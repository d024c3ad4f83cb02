package linux

import (
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("shiftCopy", func() {
	It("copies a tree with owners shifted, keeping modes, links and set-id bits", func() {
		if os.Geteuid() != 0 {
			Skip("chown needs root")
		}
		src, dst := GinkgoT().TempDir(), GinkgoT().TempDir()
		writeTree(src, map[string]string{"bin/tool": "x", "etc/passwd": "root:x:0:0::/root:/bin/sh\n"})
		Expect(os.Chmod(src+"/bin/tool", 0o755|os.ModeSetuid)).To(Succeed())
		Expect(mustStat(src+"/bin/tool").Mode() & os.ModeSetuid).NotTo(BeZero())
		Expect(os.Link(src+"/bin/tool", src+"/bin/alias")).To(Succeed())
		Expect(os.Symlink("tool", src+"/bin/link")).To(Succeed())
		Expect(os.Lchown(src+"/etc/passwd", 1000, 1001)).To(Succeed())
		start := time.Now()
		Expect(shiftCopy(src, dst, idMapBase)).To(Succeed())
		GinkgoWriter.Printf("copied in %s\n", time.Since(start))

		info, err := os.Stat(dst + "/bin/tool")
		Expect(err).NotTo(HaveOccurred())
		Expect(info.Mode() & os.ModeSetuid).NotTo(BeZero())
		Expect(ownerOf(dst + "/bin/tool")).To(Equal([2]uint32{idMapBase, idMapBase}))
		Expect(ownerOf(dst + "/etc/passwd")).To(Equal([2]uint32{idMapBase + 1000, idMapBase + 1001}))
		Expect(os.SameFile(mustStat(dst+"/bin/tool"), mustStat(dst+"/bin/alias"))).To(BeTrue())
		Expect(os.Readlink(dst + "/bin/link")).To(Equal("tool"))

		if dir := os.Getenv("SHIFT_MEASURE"); dir != "" {
			out := GinkgoT().TempDir()
			start := time.Now()
			Expect(shiftCopy(dir, out, idMapBase)).To(Succeed())
			GinkgoWriter.Printf("MEASURE %s copied in %s\n", dir, time.Since(start))
		}
	})
})

var _ = Describe("the shifted rootfs copies", func() {
	It("makes one copy per rootfs version, keeps old ones until prune, and prunes only stale ones", func() {
		if os.Geteuid() != 0 {
			Skip("chown needs root")
		}
		src, cache := GinkgoT().TempDir(), filepath.Join(GinkgoT().TempDir(), "depot.rootfs")
		writeTree(src, map[string]string{"etc/passwd": "root:x:0:0::/root:/bin/sh\n"})
		roots := newShiftedRoots(cache)
		first, err := roots.get(src)
		Expect(err).NotTo(HaveOccurred())
		Expect(ownerOf(filepath.Join(first, "etc/passwd"))).To(Equal([2]uint32{idMapBase, idMapBase}))
		Expect(roots.get(src)).To(Equal(first), "no second copy of the same version")

		Expect(os.Chmod(src, 0o750)).To(Succeed()) // a rebuilt rootfs changes its directory
		second, err := roots.get(src)
		Expect(err).NotTo(HaveOccurred())
		Expect(second).NotTo(Equal(first))
		Expect(first).To(BeADirectory(), "containers may still run on the old copy")

		Expect(os.Mkdir(filepath.Join(cache, "tmp-123"), 0o700)).To(Succeed())
		roots.prune()
		Expect(first).NotTo(BeADirectory())
		Expect(filepath.Join(cache, "tmp-123")).NotTo(BeADirectory())
		Expect(second).To(BeADirectory())
	})
})

func ownerOf(path string) [2]uint32 {
	GinkgoHelper()
	var st unix.Stat_t
	Expect(unix.Lstat(path, &st)).To(Succeed())
	return [2]uint32{st.Uid, st.Gid}
}

func mustStat(path string) os.FileInfo {
	GinkgoHelper()
	info, err := os.Stat(path)
	Expect(err).NotTo(HaveOccurred())
	return info
}
