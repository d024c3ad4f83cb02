package reexec

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("garden-dadoo's and the shim's helpers", func() {
	It("reads the last error runc logged", func() {
		log := filepath.Join(GinkgoT().TempDir(), "runc.log")
		Expect(RuncError(log)).To(Equal("failed"))
		Expect(os.WriteFile(log, []byte(`{"level":"warning","msg":"meh"}
{"level":"error","msg":"first"}
not json
{"level":"error","msg":"exec failed: no such container"}
`), 0o644)).To(Succeed())
		Expect(RuncError(log)).To(Equal("exec failed: no such container"))
	})

	It("relays output into a fifo, drops it while nobody reads, and reconnects to a new reader", func() {
		dir := GinkgoT().TempDir()
		readers, err := openOutputFifos(dir)
		Expect(err).NotTo(HaveOccurred())
		readers[1].Close()
		srcR, srcW, err := os.Pipe()
		Expect(err).NotTo(HaveOccurred())
		sink := &fifoSink{path: filepath.Join(dir, StdoutFifo)}
		sink.connect()
		Expect(sink.f).NotTo(BeNil(), "garden reads the fifo")
		done := make(chan struct{})
		go func() { relay(sink, srcR); close(done) }()

		readAll := func(f *os.File) string {
			GinkgoHelper()
			var got []byte
			buf := make([]byte, 64)
			Eventually(func() string {
				n, _ := f.Read(buf)
				got = append(got, buf[:n]...)
				return string(got)
			}).ShouldNot(BeEmpty())
			return string(got)
		}
		_, err = srcW.WriteString("to garden")
		Expect(err).NotTo(HaveOccurred())
		Expect(readAll(readers[0])).To(Equal("to garden"))

		readers[0].Close() // garden went away
		for range 3 {
			_, err = srcW.WriteString("nobody reads this")
			Expect(err).NotTo(HaveOccurred(), "the process's writes keep succeeding")
		}
		again, err := openOutputFifos(dir) // a restarted garden
		Expect(err).NotTo(HaveOccurred())
		defer again[1].Close()
		Eventually(func() string {
			_, _ = srcW.WriteString("back")
			return readAll(again[0])
		}).Should(HavePrefix("back"))
		srcW.Close()
		Eventually(done).Should(BeClosed())
		again[0].Close()
	})

	It("makes a missing working directory and its missing parents for the user", func() {
		if os.Geteuid() != 0 {
			Skip("chown needs root")
		}
		root := GinkgoT().TempDir()
		Expect(mkdirOwned(filepath.Join(root, "a/b/c"), 4321, 8765)).To(Succeed())
		for _, d := range []string{"a", "a/b", "a/b/c"} {
			Expect(ownerOf(filepath.Join(root, d))).To(Equal([2]uint32{4321, 8765}), d)
		}
		Expect(ownerOf(root)).To(Equal([2]uint32{0, 0}), "what existed keeps its owner")
		Expect(mkdirOwned(filepath.Join(root, "a/b/c"), 1, 1)).To(Succeed())
		Expect(ownerOf(filepath.Join(root, "a/b/c"))).To(Equal([2]uint32{4321, 8765}))
	})
})
