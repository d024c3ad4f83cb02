package depot

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("rootfsSize", func() {
	It("measures a local rootfs directory's allocated blocks, given as a path or raw://", func() {
		dir := GinkgoT().TempDir()
		Expect(os.WriteFile(filepath.Join(dir, "f"), make([]byte, 256*1024), 0o644)).To(Succeed())
		size := rootfsSize(dir)
		Expect(size).To(BeNumerically(">=", 256*1024))
		Expect(rootfsSize("raw://" + dir)).To(Equal(size))

		Expect(os.WriteFile(filepath.Join(dir, "g"), make([]byte, 64*1024), 0o644)).To(Succeed())
		Expect(rootfsSize(dir)).To(BeNumerically(">", size), "measured again after a change")
	})

	It("is 0 for what is not a local directory", func() {
		Expect(rootfsSize("docker:///busybox")).To(BeZero())
		Expect(rootfsSize("preloaded:cflinuxfs3")).To(BeZero())
		Expect(rootfsSize("/no/such/rootfs")).To(BeZero())
	})
})
