package cacheddownloader_test

import (
	"archive/tar"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/executor/depot/cacheddownloader"
)

// Crafted archives that try to write outside the directory they are
// unpacked into. Every one must be refused as a whole, before anything is
// written, both as a stream (for garden StreamIn) and as a directory.
var _ = Describe("unsafe archives", func() {
	var (
		root, target, outside string
		downloader            *cacheddownloader.Downloader
		server                *httptest.Server
		body                  []byte
	)

	BeforeEach(func() {
		root = GinkgoT().TempDir()
		outside = filepath.Join(root, "outside")
		target = filepath.Join(root, "a", "b", "target")
		Expect(os.MkdirAll(target, 0o755)).To(Succeed())
		server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
		DeferCleanup(server.Close)
		var err error
		downloader, err = cacheddownloader.New(cacheddownloader.Config{
			CachePath:           filepath.Join(root, "cache"),
			MaxCacheSizeInBytes: 1 << 20,
			MaxAttempts:         1,
		})
		Expect(err).NotTo(HaveOccurred())
	})

	expectRefused := func() {
		_, _, err := downloader.Fetch(context.Background(), nil, mustParse(server.URL), "", cacheddownloader.ChecksumInfo{})
		Expect(err).To(MatchError(cacheddownloader.ErrUnsafePath))
		_, _, err = downloader.FetchAsDirectory(context.Background(), nil, mustParse(server.URL), "key", cacheddownloader.ChecksumInfo{})
		Expect(err).To(MatchError(cacheddownloader.ErrUnsafePath))
		Expect(outside).NotTo(BeAnExistingFile())
		Expect(filepath.Join(root, "a", "evil")).NotTo(BeAnExistingFile())
		Expect(filesIn(filepath.Join(root, "cache"))).To(BeEmpty(), "no partial tar or directory is left")
		Expect(downloader.CacheSize()).To(BeZero())
	}

	DescribeTable("tars (and tgzs) are refused",
		func(entries ...entry) {
			body = buildTar(entries...)
			expectRefused()
			body = buildTgz(entries...)
			expectRefused()
		},
		Entry("a ../ entry", entry{Name: "ok", Body: "x"}, entry{Name: "../../evil", Body: "x"}),
		Entry("a ../ hidden in the middle", entry{Name: "dir/../../../outside", Body: "x"}),
		Entry("an absolute entry", entry{Name: "/tmp/evil", Body: "x"}),
		Entry("a file written through an absolute symlink",
			entry{Name: "link", Type: tar.TypeSymlink, Linkname: "/"}, entry{Name: "link/tmp/evil", Body: "x"}),
		Entry("a file written through a relative symlink",
			entry{Name: "up", Type: tar.TypeSymlink, Linkname: "../.."}, entry{Name: "up/evil", Body: "x"}),
		Entry("a file replacing a symlink",
			entry{Name: "f", Type: tar.TypeSymlink, Linkname: "../../../outside"}, entry{Name: "f", Body: "x"}),
		Entry("a hard link out of the target",
			entry{Name: "h", Type: tar.TypeLink, Linkname: "../../outside"}),
		Entry("a hard link to an absolute path",
			entry{Name: "h", Type: tar.TypeLink, Linkname: "/etc/passwd"}),
		Entry("a directory climbing out", entry{Name: "../../evil/", Type: tar.TypeDir}),
	)

	DescribeTable("zips are refused",
		func(entries ...entry) {
			body = buildZip(entries...)
			expectRefused()
		},
		Entry("a ../ entry", entry{Name: "ok", Body: "x"}, entry{Name: "../../evil", Body: "x"}),
		Entry("an absolute entry", entry{Name: "/tmp/evil", Body: "x"}),
		Entry("a file written through a symlink",
			entry{Name: "link", Type: tar.TypeSymlink, Linkname: "../../../"}, entry{Name: "link/outside", Body: "x"}),
	)

	It("says which entry was refused and why", func() {
		body = buildZip(entry{Name: "../../evil", Body: "x"})
		_, _, err := downloader.Fetch(context.Background(), nil, mustParse(server.URL), "", cacheddownloader.ChecksumInfo{})
		Expect(err).To(MatchError(`unsafe path in archive: "../../evil" leaves the target directory`))
	})

	It("accepts symlinks (even absolute ones) that nothing is written through", func() {
		body = buildTar(
			entry{Name: "./", Type: tar.TypeDir, Mode: 0o755},
			entry{Name: "./bin/", Type: tar.TypeDir, Mode: 0o755},
			entry{Name: "./bin/sh", Type: tar.TypeSymlink, Linkname: "/bin/busybox"},
			entry{Name: "./bin/real", Body: "x"},
			entry{Name: "./bin/hard", Type: tar.TypeLink, Linkname: "bin/real"},
		)
		dir, _, err := downloader.FetchAsDirectory(context.Background(), nil, mustParse(server.URL), "", cacheddownloader.ChecksumInfo{})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { downloader.CloseDirectory("", dir) })
		link, err := os.Readlink(filepath.Join(dir, "bin", "sh"))
		Expect(err).NotTo(HaveOccurred())
		Expect(link).To(Equal("/bin/busybox"))
		Expect(os.ReadFile(filepath.Join(dir, "bin", "hard"))).To(Equal([]byte("x")))
	})
})
