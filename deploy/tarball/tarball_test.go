package tarball_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/tarball"
)

type entry struct {
	name, link, body string
	typ              byte
	mode             int64
}

func read(r io.Reader) []entry {
	GinkgoHelper()
	var out []entry
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		Expect(err).NotTo(HaveOccurred())
		body, err := io.ReadAll(tr)
		Expect(err).NotTo(HaveOccurred())
		out = append(out, entry{name: hdr.Name, link: hdr.Linkname, body: string(body), typ: hdr.Typeflag, mode: hdr.Mode & 0o777})
	}
}

var _ = Describe("AddTree", func() {
	var dir string

	BeforeEach(func() {
		dir = GinkgoT().TempDir()
		Expect(os.MkdirAll(filepath.Join(dir, "sub"), 0o750)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\n"), 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(dir, "sub", "data"), []byte("data"), 0o640)).To(Succeed())
		Expect(os.Symlink("../run.sh", filepath.Join(dir, "sub", "link"))).To(Succeed())
	})

	write := func(src, prefix string, edit func(*tar.Header)) []entry {
		GinkgoHelper()
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		Expect(tarball.AddTree(tw, src, prefix, edit)).To(Succeed())
		Expect(tw.Close()).To(Succeed())
		return read(&buf)
	}

	It("names the tree under the prefix, keeping modes, contents and symlinks", func() {
		Expect(write(dir, ".", nil)).To(Equal([]entry{
			{name: "./", typ: tar.TypeDir, mode: int64(modeOf(dir))},
			{name: "./run.sh", body: "#!/bin/sh\n", typ: tar.TypeReg, mode: 0o755},
			{name: "./sub/", typ: tar.TypeDir, mode: 0o750},
			{name: "./sub/data", body: "data", typ: tar.TypeReg, mode: 0o640},
			{name: "./sub/link", link: "../run.sh", typ: tar.TypeSymlink, mode: 0o777},
		}))
		names := func(es []entry) (out []string) {
			for _, e := range es {
				out = append(out, e.name)
			}
			return out
		}
		Expect(names(write(dir, "./app", nil))).To(Equal([]string{"./app/", "./app/run.sh", "./app/sub/", "./app/sub/data", "./app/sub/link"}))
		Expect(names(write(filepath.Join(dir, "sub"), "sub", nil))).To(Equal([]string{"sub/", "sub/data", "sub/link"}))
	})

	It("writes a file or a symlink given as the tree as one entry named prefix", func() {
		Expect(write(filepath.Join(dir, "sub", "data"), "data", nil)).To(Equal([]entry{
			{name: "data", body: "data", typ: tar.TypeReg, mode: 0o640}}))
		Expect(write(filepath.Join(dir, "sub", "link"), "link", nil)).To(Equal([]entry{
			{name: "link", link: "../run.sh", typ: tar.TypeSymlink, mode: 0o777}}))
	})

	It("lets edit change each header before it is written", func() {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		Expect(tarball.AddTree(tw, dir, ".", func(h *tar.Header) { h.Uname, h.Gname, h.Uid = "", "", 1234 })).To(Succeed())
		Expect(tw.Close()).To(Succeed())
		tr := tar.NewReader(&buf)
		for {
			hdr, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			Expect(err).NotTo(HaveOccurred())
			Expect(hdr.Uname).To(BeEmpty())
			Expect(hdr.Uid).To(Equal(1234))
		}
	})

	It("fails on a tree that is not there", func() {
		tw := tar.NewWriter(io.Discard)
		Expect(tarball.AddTree(tw, filepath.Join(dir, "nope"), ".", nil)).To(MatchError(os.ErrNotExist))
	})
})

var _ = Describe("WriteFile", func() {
	It("writes a gzipped tar of what fill adds, trailer and all", func() {
		dir := GinkgoT().TempDir()
		Expect(os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644)).To(Succeed())
		path := filepath.Join(GinkgoT().TempDir(), "out.tgz")
		Expect(tarball.WriteFile(path, func(tw *tar.Writer) error { return tarball.AddTree(tw, dir, ".", nil) })).To(Succeed())

		f, err := os.Open(path)
		Expect(err).NotTo(HaveOccurred())
		defer f.Close()
		gz, err := gzip.NewReader(f)
		Expect(err).NotTo(HaveOccurred())
		es := read(gz)
		Expect(es).To(HaveLen(2))
		Expect(es[1]).To(Equal(entry{name: "./f", body: "x", typ: tar.TypeReg, mode: 0o644}))
	})

	It("returns fill's error, and the create error for a path it cannot create", func() {
		boom := errors.New("boom")
		Expect(tarball.WriteFile(filepath.Join(GinkgoT().TempDir(), "x.tgz"), func(*tar.Writer) error { return boom })).To(MatchError(boom))
		Expect(tarball.WriteFile(filepath.Join(GinkgoT().TempDir(), "no", "x.tgz"), func(*tar.Writer) error { return nil })).To(MatchError(os.ErrNotExist))
	})
})

func modeOf(p string) os.FileMode {
	info, err := os.Stat(p)
	Expect(err).NotTo(HaveOccurred())
	return info.Mode().Perm()
}
