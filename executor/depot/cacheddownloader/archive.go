package cacheddownloader

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ErrUnknownArchiveFormat: the download is neither a tar, a gzipped tar nor
// a zip.
var ErrUnknownArchiveFormat = errors.New("unknown archive format")

// ErrUnsafePath: an archive entry (or a link's target) is absolute, climbs
// out with "..", or would be written through a symlink of the same archive.
// Nothing of such an archive is ever written.
var ErrUnsafePath = errors.New("unsafe path in archive")

type archiveFormat int

const (
	formatUnknown archiveFormat = iota
	formatTar
	formatTgz
	formatZip
)

// sniffLength is how much of a download decides its format.
const sniffLength = 512

// detectFormat looks for the tar magic at offset 257 ("ustar\0", or GNU's
// "ustar " form), else sniffs the content as net/http does.
func detectFormat(head []byte) archiveFormat {
	if len(head) >= 263 {
		magic := head[257:263]
		if bytes.Equal(magic, []byte("ustar\x00")) || bytes.Equal(magic, []byte("ustar ")) {
			return formatTar
		}
	}
	switch http.DetectContentType(head) {
	case "application/x-gzip":
		return formatTgz
	case "application/zip":
		return formatZip
	}
	return formatUnknown
}

// convertToTar writes the archive at src to dst as a tar whose every entry
// has been checked by a safeTarWriter. It returns the tar's size.
func convertToTar(src, dst string) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	head := make([]byte, sniffLength)
	n, err := io.ReadFull(in, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return 0, err
	}
	format := detectFormat(head[:n])
	if format == formatUnknown {
		return 0, ErrUnknownArchiveFormat
	}
	if _, err := in.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}

	out, err := os.Create(dst)
	if err != nil {
		return 0, err
	}
	defer out.Close()
	w := newSafeTarWriter(out)

	switch format {
	case formatTar:
		err = copyTar(w, in)
	case formatTgz:
		var gz *gzip.Reader
		if gz, err = gzip.NewReader(in); err == nil {
			err = copyTar(w, gz)
		}
		if err != nil {
			err = fmt.Errorf("reading gzipped tar: %w", err)
		}
	case formatZip:
		var info os.FileInfo
		if info, err = in.Stat(); err == nil {
			err = copyZip(w, in, info.Size())
		}
	}
	if err != nil {
		return 0, err
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	size, err := out.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	return size, out.Close()
}

func copyTar(w *safeTarWriter, r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if errors.Is(err, tar.ErrInsecurePath) && hdr != nil {
			err = nil // checked below, with a clearer message
		}
		if err != nil {
			return fmt.Errorf("reading tar: %w", err)
		}
		if err := w.add(hdr, tr); err != nil {
			return err
		}
	}
}

// maxSymlinkTarget bounds a zip symlink entry's content (its target).
const maxSymlinkTarget = 4096

func copyZip(w *safeTarWriter, r io.ReaderAt, size int64) error {
	zr, err := zip.NewReader(r, size)
	if errors.Is(err, zip.ErrInsecurePath) && zr != nil {
		err = nil // every name is checked below, with a clearer message
	}
	if err != nil {
		return fmt.Errorf("reading zip: %w", err)
	}
	for _, f := range zr.File {
		mode := f.Mode()
		hdr := &tar.Header{Name: f.Name, ModTime: f.Modified, Mode: int64(mode.Perm())}
		var body io.Reader
		switch {
		case mode.IsDir():
			hdr.Typeflag = tar.TypeDir
			if hdr.Mode == 0 {
				hdr.Mode = 0o755
			}
		case mode&os.ModeSymlink != 0:
			target, err := readZipEntry(f, maxSymlinkTarget)
			if err != nil {
				return err
			}
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, string(target)
		case mode.IsRegular():
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(f.UncompressedSize64)
			if hdr.Mode == 0 {
				hdr.Mode = 0o644
			}
			rc, err := f.Open()
			if err != nil {
				return fmt.Errorf("reading zip entry %q: %w", f.Name, err)
			}
			body = rc
			err = w.add(hdr, body)
			rc.Close()
			if err != nil {
				return err
			}
			continue
		default:
			continue // devices, pipes: nothing to unpack
		}
		if err := w.add(hdr, body); err != nil {
			return err
		}
	}
	return nil
}

func readZipEntry(f *zip.File, max int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("reading zip entry %q: %w", f.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading zip entry %q: %w", f.Name, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("zip symlink %q: target too long", f.Name)
	}
	return b, nil
}

// safeTarWriter writes only entries that stay inside the directory they are
// unpacked into: relative names without "..", links whose names obey the
// same rule, and nothing below (or replacing) a symlink of the archive.
type safeTarWriter struct {
	tw       *tar.Writer
	symlinks map[string]bool
}

func newSafeTarWriter(w io.Writer) *safeTarWriter {
	return &safeTarWriter{tw: tar.NewWriter(w), symlinks: map[string]bool{}}
}

func (w *safeTarWriter) Close() error { return w.tw.Close() }

func (w *safeTarWriter) add(hdr *tar.Header, body io.Reader) error {
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeLink:
	case tar.TypeRegA:
		hdr.Typeflag = tar.TypeReg
	default:
		return nil // devices, fifos, global headers: nothing to unpack
	}
	name, err := checkEntryPath(hdr.Name, hdr.Typeflag == tar.TypeDir)
	if err != nil {
		return err
	}
	if err := w.checkNotThroughSymlink(hdr.Name, name); err != nil {
		return err
	}
	out := &tar.Header{
		Typeflag: hdr.Typeflag,
		Name:     name,
		Mode:     hdr.Mode & 0o777,
		ModTime:  hdr.ModTime,
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if name != "." {
			out.Name = name + "/"
		} else {
			out.Name = "./"
		}
	case tar.TypeReg:
		out.Size = hdr.Size
	case tar.TypeSymlink:
		if hdr.Linkname == "" {
			return fmt.Errorf("%w: symlink %q has no target", ErrUnsafePath, hdr.Name)
		}
		out.Linkname = hdr.Linkname
		w.symlinks[name] = true
	case tar.TypeLink:
		target, err := checkEntryPath(hdr.Linkname, false)
		if err != nil {
			return fmt.Errorf("hard link %q: %w", hdr.Name, err)
		}
		if err := w.checkNotThroughSymlink(hdr.Linkname, path.Dir(target)); err != nil {
			return err
		}
		out.Linkname = target
		if w.symlinks[target] {
			w.symlinks[name] = true
		}
	}
	if err := w.tw.WriteHeader(out); err != nil {
		return fmt.Errorf("writing tar entry %q: %w", hdr.Name, err)
	}
	if out.Typeflag == tar.TypeReg {
		if _, err := io.Copy(w.tw, body); err != nil {
			return fmt.Errorf("copying entry %q: %w", hdr.Name, err)
		}
	}
	return nil
}

// checkEntryPath returns an entry's cleaned name, refusing absolute names
// and any ".." component. "." (the target itself) is allowed for
// directories only.
func checkEntryPath(name string, dir bool) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: an entry has an empty name", ErrUnsafePath)
	}
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("%w: %q is an absolute path", ErrUnsafePath, name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("%w: %q leaves the target directory", ErrUnsafePath, name)
		}
	}
	clean := path.Clean(name)
	if clean == "." && !dir {
		return "", fmt.Errorf("%w: %q names the target directory itself", ErrUnsafePath, name)
	}
	return clean, nil
}

// checkNotThroughSymlink refuses a path that is, or lies below, a symlink
// the archive made earlier.
func (w *safeTarWriter) checkNotThroughSymlink(orig, clean string) error {
	if len(w.symlinks) == 0 || clean == "." {
		return nil
	}
	p := clean
	for {
		if w.symlinks[p] {
			return fmt.Errorf("%w: %q would be written through the symlink %q", ErrUnsafePath, orig, p)
		}
		parent := path.Dir(p)
		if parent == "." || parent == p {
			return nil
		}
		p = parent
	}
}

// extractTar unpacks a tar written by safeTarWriter into the fresh
// directory dir. The entries were checked when the tar was written, and no
// file is opened through a symlink.
func extractTar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	var dirModes []func() error
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading tar: %w", err)
		}
		name, err := checkEntryPath(hdr.Name, hdr.Typeflag == tar.TypeDir)
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		if target != dir && !strings.HasPrefix(target, dir+string(filepath.Separator)) {
			return fmt.Errorf("%w: %q", ErrUnsafePath, hdr.Name)
		}
		mode := os.FileMode(hdr.Mode & 0o777)
		if hdr.Typeflag != tar.TypeDir {
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			if err := os.Remove(target); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			dirModes = append(dirModes, func() error { return os.Chmod(target, mode) })
		case tar.TypeReg:
			f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL|noFollow, mode)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.Symlink(hdr.Linkname, target); err != nil {
				return err
			}
		case tar.TypeLink:
			if err := os.Link(filepath.Join(dir, filepath.FromSlash(hdr.Linkname)), target); err != nil {
				return err
			}
		}
	}
	// Directory modes last, so a read-only directory still gets its files.
	for i := len(dirModes) - 1; i >= 0; i-- {
		if err := dirModes[i](); err != nil {
			return err
		}
	}
	return nil
}
