package bundle_test

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/ccbridge/lifecycle/bundle"
)

var _ = Describe("the static directory", func() {
	It("holds the lifecycle bundle's three executables and a zip per buildpack, scripts still executable", func() {
		bin := GinkgoT().TempDir()
		for _, name := range bundle.Binaries {
			Expect(os.WriteFile(filepath.Join(bin, name), []byte("#!"+name), 0o755)).To(Succeed())
		}
		static := GinkgoT().TempDir()
		Expect(bundle.Write(static, bin, filepath.Join("..", "..", "..", "deploy", "buildpacks"))).To(Succeed())

		f, err := os.Open(filepath.Join(static, "buildpack_app_lifecycle", "buildpack_app_lifecycle.tgz"))
		Expect(err).NotTo(HaveOccurred())
		defer f.Close()
		gz, err := gzip.NewReader(f)
		Expect(err).NotTo(HaveOccurred())
		tr := tar.NewReader(gz)
		modes := map[string]int64{}
		for {
			hdr, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			Expect(err).NotTo(HaveOccurred())
			modes[hdr.Name] = hdr.Mode
		}
		Expect(modes).To(Equal(map[string]int64{"builder": 0o755, "launcher": 0o755, "healthcheck": 0o755}))

		for _, bp := range []string{"binary", "shell", "fail-detect", "fail-compile"} {
			zr, err := zip.OpenReader(filepath.Join(static, "buildpacks", bp+".zip"))
			Expect(err).NotTo(HaveOccurred())
			scripts := map[string]os.FileMode{}
			for _, f := range zr.File {
				scripts[f.Name] = f.Mode().Perm()
			}
			zr.Close()
			Expect(scripts).To(HaveKeyWithValue("bin/detect", os.FileMode(0o755)), bp)
			Expect(scripts).To(HaveKeyWithValue("bin/compile", os.FileMode(0o755)), bp)
			Expect(scripts).To(HaveKeyWithValue("bin/release", os.FileMode(0o755)), bp)
		}
	})

	It("fails, naming it, when an executable is missing", func() {
		Expect(bundle.WriteLifecycle(filepath.Join(GinkgoT().TempDir(), "l.tgz"), GinkgoT().TempDir())).
			To(MatchError(ContainSubstring("builder")))
	})
})
