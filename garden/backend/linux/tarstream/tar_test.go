package tarstream

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// tarEntry is one entry of an archive a test builds.
type tarEntry struct {
	name, body, link string
	typ              byte
	mode             int64
}

func buildTar(entries ...tarEntry) *bytes.Buffer {
	GinkgoHelper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, ModTime: time.Unix(1_600_000_000, 0)}
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
		}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
		}
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		Expect(tw.WriteHeader(hdr)).To(Succeed())
		if hdr.Typeflag == tar.TypeReg {
			_, err := tw.Write([]byte(e.body))
			Expect(err).NotTo(HaveOccurred())
		}
	}
	Expect(tw.Close()).To(Succeed())
	return &buf
}

// tarNames lists an archive's entry names and types.
func tarNames(b []byte) map[string]byte {
	GinkgoHelper()
	out := map[string]byte{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		out[hdr.Name] = hdr.Typeflag
	}
	return out
}

// treeOf describes dir: relative path → "dir", "link:<target>" or the
// file's content and mode.
func treeOf(dir string) map[string]string {
	GinkgoHelper()
	out := map[string]string{}
	Expect(filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		Expect(err).NotTo(HaveOccurred())
		rel, _ := filepath.Rel(dir, p)
		switch {
		case rel == ".":
		case info.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[rel] = "link:" + target
		case info.IsDir():
			out[rel] = "dir " + info.Mode().Perm().String()
		default:
			b, _ := os.ReadFile(p)
			out[rel] = string(b) + " " + info.Mode().Perm().String()
		}
		return nil
	})).To(Succeed())
	return out
}

var _ = Describe("tar", func() {
	DescribeTable("entryPath cleans names that stay inside the destination",
		func(name, want string) { Expect(entryPath(name)).To(Equal(want)) },
		Entry("plain", "a/b", "a/b"),
		Entry("dot-slash", "./a/b/", "a/b"),
		Entry("the root", "./", "."),
		Entry("climbing back in", "a/../b", "b"),
		Entry("climbing to the top", "a/..", "."),
		Entry("dots in names", "..a/b..", "..a/b.."),
	)

	DescribeTable("entryPath refuses names that leave the destination",
		func(name, want string) { Expect(entryPath(name)).Error().To(MatchError(ContainSubstring(want))) },
		Entry("absolute", "/etc/passwd", `refusing tar entry "/etc/passwd": absolute path`),
		Entry("parent", "..", "path escapes the destination"),
		Entry("above", "../x", "path escapes the destination"),
		Entry("climbing out", "a/../../x", "path escapes the destination"),
		Entry("dot then above", "./../x", "path escapes the destination"),
	)

	Describe("round trip", func() {
		var src, dest string

		BeforeEach(func() {
			base := GinkgoT().TempDir()
			src, dest = filepath.Join(base, "src"), filepath.Join(base, "dest")
			writeTree(src, map[string]string{"a.txt": "alpha", "sub/b.txt": "beta", "sub/deeper/c.sh": "#!/bin/sh\n", "empty": ""})
			Expect(os.Chmod(filepath.Join(src, "sub/deeper/c.sh"), 0o755)).To(Succeed())
			Expect(os.Chmod(filepath.Join(src, "a.txt"), 0o600)).To(Succeed())
			Expect(os.Chmod(filepath.Join(src, "sub"), 0o750)).To(Succeed())
			Expect(os.Mkdir(filepath.Join(src, "emptydir"), 0o700)).To(Succeed())
			Expect(os.Symlink("sub/b.txt", filepath.Join(src, "link"))).To(Succeed())
			Expect(os.Symlink("/nowhere/at/all", filepath.Join(src, "dangling"))).To(Succeed())
		})

		It("copies a directory's contents when the source ends in /", func() {
			var buf bytes.Buffer
			Expect(writeTar(&buf, src+"/")).To(Succeed())
			names := tarNames(buf.Bytes())
			Expect(names).To(HaveKeyWithValue("./", byte(tar.TypeDir)))
			Expect(names).To(HaveKeyWithValue("./sub/", byte(tar.TypeDir)))
			Expect(names).To(HaveKeyWithValue("./a.txt", byte(tar.TypeReg)))
			Expect(names).To(HaveKeyWithValue("./link", byte(tar.TypeSymlink)))

			Expect(extractTar(&buf, dest)).To(Succeed())
			Expect(treeOf(dest)).To(Equal(treeOf(src)))
			Expect(treeOf(dest)).To(HaveKeyWithValue("sub/deeper/c.sh", "#!/bin/sh\n -rwxr-xr-x"))
			Expect(treeOf(dest)).To(HaveKeyWithValue("a.txt", "alpha -rw-------"))
			Expect(treeOf(dest)).To(HaveKeyWithValue("dangling", "link:/nowhere/at/all"))
			info, err := os.Stat(filepath.Join(dest, "a.txt"))
			Expect(err).NotTo(HaveOccurred())
			Expect(info.ModTime()).To(BeTemporally("~", time.Now(), time.Minute))
		})

		It("copies the directory itself, under its name, without the trailing /", func() {
			var buf bytes.Buffer
			Expect(writeTar(&buf, src)).To(Succeed())
			names := tarNames(buf.Bytes())
			Expect(names).To(HaveKey("src/"))
			Expect(names).To(HaveKey("src/sub/b.txt"))
			Expect(extractTar(&buf, dest)).To(Succeed())
			Expect(treeOf(filepath.Join(dest, "src"))).To(Equal(treeOf(src)))
		})

		It("copies a single file under its name", func() {
			var buf bytes.Buffer
			Expect(writeTar(&buf, filepath.Join(src, "sub", "b.txt"))).To(Succeed())
			Expect(tarNames(buf.Bytes())).To(Equal(map[string]byte{"b.txt": tar.TypeReg}))
			Expect(extractTar(&buf, dest)).To(Succeed())
			Expect(treeOf(dest)).To(Equal(map[string]string{"b.txt": "beta -rw-r--r--"}))
		})

		It("fails to write a missing source", func() {
			Expect(writeTar(&bytes.Buffer{}, filepath.Join(src, "missing"))).To(MatchError(ContainSubstring("stream out")))
		})
	})

	Describe("extractTar", func() {
		var base, dest string

		BeforeEach(func() {
			base = GinkgoT().TempDir()
			dest = filepath.Join(base, "dest")
		})

		It("creates the destination and missing parents, replaces files, and keeps modification times", func() {
			writeTree(dest, map[string]string{"x/file": "old"})
			Expect(extractTar(buildTar(
				tarEntry{name: "x/file", body: "new"},
				tarEntry{name: "deep/er/file", body: "made parents"},
				tarEntry{name: "deep/", typ: tar.TypeDir, mode: 0o700},
			), dest)).To(Succeed())
			Expect(treeOf(dest)).To(Equal(map[string]string{
				"x": "dir -rwxr-xr-x", "x/file": "new -rw-r--r--",
				"deep": "dir -rwx------", "deep/er": "dir -rwxr-xr-x", "deep/er/file": "made parents -rw-r--r--",
			}))
			info, err := os.Stat(filepath.Join(dest, "x/file"))
			Expect(err).NotTo(HaveOccurred())
			Expect(info.ModTime().Unix()).To(BeEquivalentTo(1_600_000_000))
		})

		It("makes hard links to entries inside the destination", func() {
			Expect(extractTar(buildTar(
				tarEntry{name: "orig", body: "shared"},
				tarEntry{name: "dir/hard", typ: tar.TypeLink, link: "./orig"},
			), dest)).To(Succeed())
			a, err := os.Stat(filepath.Join(dest, "orig"))
			Expect(err).NotTo(HaveOccurred())
			b, err := os.Stat(filepath.Join(dest, "dir/hard"))
			Expect(err).NotTo(HaveOccurred())
			Expect(os.SameFile(a, b)).To(BeTrue())
		})

		It("skips devices and fifos", func() {
			Expect(extractTar(buildTar(
				tarEntry{name: "fifo", typ: tar.TypeFifo},
				tarEntry{name: "null", typ: tar.TypeChar},
				tarEntry{name: "ok", body: "kept"},
			), dest)).To(Succeed())
			Expect(treeOf(dest)).To(Equal(map[string]string{"ok": "kept -rw-r--r--"}))
		})

		It("fails on a corrupt archive", func() {
			Expect(extractTar(bytes.NewBufferString("this is not a tar archive, not even close, at all............"), dest)).
				To(MatchError(ContainSubstring("reading tar")))
		})

		Describe("refusals", func() {
			var outside string

			BeforeEach(func() {
				outside = filepath.Join(base, "outside")
				writeTree(outside, map[string]string{"victim": "untouched"})
			})

			AfterEach(func() {
				Expect(treeOf(outside)).To(Equal(map[string]string{"victim": "untouched -rw-r--r--"}))
			})

			It("refuses absolute and climbing names", func() {
				Expect(extractTar(buildTar(tarEntry{name: "/" + filepath.Join(outside, "victim"), body: "pwned"}), dest)).
					To(MatchError(ContainSubstring("absolute path")))
				Expect(extractTar(buildTar(tarEntry{name: "../outside/victim", body: "pwned"}), dest)).
					To(MatchError(ContainSubstring("path escapes the destination")))
				Expect(extractTar(buildTar(tarEntry{name: "a/../../outside/new", body: "pwned"}), dest)).
					To(MatchError(ContainSubstring("path escapes the destination")))
			})

			It("does not follow an archive's absolute symlink out of the destination", func() {
				err := extractTar(buildTar(
					tarEntry{name: "escape", typ: tar.TypeSymlink, link: outside},
					tarEntry{name: "escape/victim", body: "pwned"},
				), dest)
				Expect(err).To(MatchError(ContainSubstring("extracting escape/victim")))
				Expect(filepath.Join(outside, "new")).NotTo(BeAnExistingFile())
			})

			It("does not follow an archive's relative symlink out of the destination", func() {
				err := extractTar(buildTar(
					tarEntry{name: "sub/", typ: tar.TypeDir, mode: 0o755},
					tarEntry{name: "sub/up", typ: tar.TypeSymlink, link: "../../outside"},
					tarEntry{name: "sub/up/new", body: "pwned"},
				), dest)
				Expect(err).To(MatchError(ContainSubstring("extracting sub/up/new")))
				Expect(filepath.Join(outside, "new")).NotTo(BeAnExistingFile())
			})

			It("does not follow a symlink already in the destination", func() {
				Expect(os.MkdirAll(dest, 0o755)).To(Succeed())
				Expect(os.Symlink(outside, filepath.Join(dest, "planted"))).To(Succeed())
				err := extractTar(buildTar(tarEntry{name: "planted/new/file", body: "pwned"}), dest)
				Expect(err).To(HaveOccurred())
				Expect(filepath.Join(outside, "new")).NotTo(BeADirectory())
			})

			It("replaces a symlink named by a file entry instead of writing through it", func() {
				Expect(extractTar(buildTar(
					tarEntry{name: "through", typ: tar.TypeSymlink, link: filepath.Join(outside, "victim")},
					tarEntry{name: "through", body: "replaced"},
				), dest)).To(Succeed())
				Expect(treeOf(dest)).To(Equal(map[string]string{"through": "replaced -rw-r--r--"}))
			})

			It("does not chmod through a symlink named by a directory entry", func() {
				Expect(os.MkdirAll(dest, 0o755)).To(Succeed())
				Expect(os.Symlink(outside, filepath.Join(dest, "d"))).To(Succeed())
				Expect(extractTar(buildTar(tarEntry{name: "d/", typ: tar.TypeDir, mode: 0o777}), dest)).To(HaveOccurred())
				info, err := os.Stat(outside)
				Expect(err).NotTo(HaveOccurred())
				Expect(info.Mode().Perm()).NotTo(Equal(os.FileMode(0o777)))
			})

			It("refuses hard links to files outside the destination", func() {
				Expect(extractTar(buildTar(tarEntry{name: "hard", typ: tar.TypeLink, link: "../outside/victim"}), dest)).
					To(MatchError(ContainSubstring("path escapes the destination")))
				Expect(extractTar(buildTar(tarEntry{name: "hard", typ: tar.TypeLink, link: filepath.Join(outside, "victim")}), dest)).
					To(MatchError(ContainSubstring("absolute path")))
				Expect(extractTar(buildTar(
					tarEntry{name: "esc", typ: tar.TypeSymlink, link: outside},
					tarEntry{name: "hard", typ: tar.TypeLink, link: "esc/victim"},
				), dest)).To(HaveOccurred())
				names := []string{}
				entries, _ := os.ReadDir(dest)
				for _, e := range entries {
					names = append(names, e.Name())
				}
				sort.Strings(names)
				Expect(names).To(Equal([]string{"esc"}))
			})
		})
	})
})
