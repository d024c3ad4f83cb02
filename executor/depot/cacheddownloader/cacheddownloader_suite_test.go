package cacheddownloader_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestCachedDownloader(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "CachedDownloader Suite")
}

// entry is one archive member in the tests' archive builders.
type entry struct {
	Name     string
	Body     string
	Type     byte // tar.TypeReg (default), TypeDir, TypeSymlink, TypeLink
	Linkname string
	Mode     int64
}

func buildTar(entries ...entry) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.Name, Typeflag: e.Type, Linkname: e.Linkname, Mode: e.Mode, ModTime: time.Unix(1e9, 0)}
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
		}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
		}
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(e.Body))
		}
		Expect(tw.WriteHeader(hdr)).To(Succeed())
		if hdr.Typeflag == tar.TypeReg {
			_, err := tw.Write([]byte(e.Body))
			Expect(err).NotTo(HaveOccurred())
		}
	}
	Expect(tw.Close()).To(Succeed())
	return buf.Bytes()
}

func buildTgz(entries ...entry) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	_, err := gz.Write(buildTar(entries...))
	Expect(err).NotTo(HaveOccurred())
	Expect(gz.Close()).To(Succeed())
	return buf.Bytes()
}

func buildZip(entries ...entry) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		hdr := &zip.FileHeader{Name: e.Name, Method: zip.Deflate}
		mode := os.FileMode(e.Mode)
		if mode == 0 {
			mode = 0o644
		}
		switch e.Type {
		case tar.TypeDir:
			hdr.SetMode(os.ModeDir | 0o755)
		case tar.TypeSymlink:
			hdr.SetMode(os.ModeSymlink | 0o777)
			e.Body = e.Linkname
		default:
			hdr.SetMode(mode)
		}
		w, err := zw.CreateHeader(hdr)
		Expect(err).NotTo(HaveOccurred())
		_, err = w.Write([]byte(e.Body))
		Expect(err).NotTo(HaveOccurred())
	}
	Expect(zw.Close()).To(Succeed())
	return buf.Bytes()
}

// readTar lists a tar stream's members (bodies for regular files).
func readTar(r io.Reader) []entry {
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
		out = append(out, entry{Name: hdr.Name, Body: string(body), Type: hdr.Typeflag, Linkname: hdr.Linkname, Mode: hdr.Mode})
	}
}
