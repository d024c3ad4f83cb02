package linux

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/garden"
)

var _ = Describe("disk layers", func() {
	var dir, rootfs string

	BeforeEach(func() {
		dir = filepath.Join(GinkgoT().TempDir(), "h1")
		rootfs = GinkgoT().TempDir()
		Expect(os.WriteFile(filepath.Join(rootfs, "image-file"), make([]byte, 64*1024), 0o644)).To(Succeed())
	})

	It("keeps a container without a limit on plain directories, and counts the image in its totals", func() {
		Expect(prepareLayers(dir, rootfs, false, garden.DiskLimits{})).To(Succeed())
		for _, d := range []string{upperDirName, workDirName} {
			info, err := os.Lstat(filepath.Join(dir, d))
			Expect(err).NotTo(HaveOccurred())
			Expect(info.IsDir()).To(BeTrue(), "a plain directory, no symlink to a limited filesystem")
		}
		Expect(filepath.Join(dir, diskDirName)).NotTo(BeAnExistingFile())
		Expect(os.WriteFile(filepath.Join(dir, upperDirName, "written"), make([]byte, 8192), 0o644)).To(Succeed())

		stat := diskStat(dir)
		Expect(stat.ExclusiveBytesUsed).To(BeNumerically(">=", 8192))
		Expect(stat.ExclusiveInodesUsed).To(BeEquivalentTo(2))
		imageBytes, imageInodes := rootfsSize(rootfs)
		Expect(imageBytes).To(BeNumerically(">=", 64*1024))
		Expect(stat.TotalBytesUsed).To(Equal(stat.ExclusiveBytesUsed + imageBytes))
		Expect(stat.TotalInodesUsed).To(Equal(stat.ExclusiveInodesUsed + imageInodes))
		Expect(releaseLayers(dir)).To(Succeed(), "nothing mounted is nothing to release")
	})

	It("takes nothing from a raw rootfs: no limit and no image to count", func() {
		Expect(prepareLayers(dir, rootfs, true, garden.DiskLimits{ByteHard: 1 << 20})).To(Succeed())
		Expect(filepath.Join(dir, diskDirName)).NotTo(BeAnExistingFile())
		stat := diskStat(dir)
		Expect(stat.TotalBytesUsed).To(Equal(stat.ExclusiveBytesUsed))
	})

	It("refuses a scope-total limit the image alone exceeds", func() {
		err := prepareLayers(dir, rootfs, false, garden.DiskLimits{ByteHard: 1024, Scope: garden.DiskLimitScopeTotal})
		Expect(err).To(MatchError(ContainSubstring("disk limit is smaller than volume size")))
		err = prepareLayers(dir, rootfs, false, garden.DiskLimits{InodeHard: 1, Scope: garden.DiskLimitScopeTotal})
		Expect(err).To(MatchError(ContainSubstring("inode limit is smaller than the image's")))
	})

	It("measures a rootfs again when it changes", func() {
		before, _ := rootfsSize(rootfs)
		Expect(os.WriteFile(filepath.Join(rootfs, "more"), make([]byte, 128*1024), 0o644)).To(Succeed())
		after, _ := rootfsSize(rootfs)
		Expect(after).To(BeNumerically(">", before))
	})
})
