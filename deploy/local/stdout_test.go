package local_test

import (
	"os"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/local"
)

var _ = Describe("BrokenPipeWriter", func() {
	It("writes until the reader goes, then drops output without an error", func() {
		r, w, err := os.Pipe()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(w.Close)
		out := local.NewBrokenPipeWriter(w)

		n, err := out.Write([]byte("hello\n"))
		Expect(err).NotTo(HaveOccurred())
		Expect(n).To(Equal(6))
		buf := make([]byte, 6)
		_, err = r.Read(buf)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(buf)).To(Equal("hello\n"))
		Expect(out.Broken()).To(BeFalse())

		Expect(r.Close()).To(Succeed())
		for range 3 {
			n, err = out.Write([]byte("stopping\n"))
			Expect(err).NotTo(HaveOccurred())
			Expect(n).To(Equal(9))
		}
		Expect(out.Broken()).To(BeTrue())
	})
})
