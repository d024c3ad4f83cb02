package tarstream

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"diego/deploy/tarball"
)

// extractTar unpacks the tar on r into dest, creating dest if needed. It
// runs as the requesting user, so ownership and permissions are theirs.
// An entry whose name is absolute or climbs out of dest is refused, and
// every path is resolved beneath dest (openat2 RESOLVE_BENEATH), so a
// symlink in the archive cannot redirect a later entry outside it either.
func extractTar(r io.Reader, dest string) error {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dest, err)
	}
	root, err := unix.Open(dest, unix.O_DIRECTORY|unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", dest, err)
	}
	defer unix.Close(root)

	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading tar: %w", err)
		}
		rel, err := entryPath(hdr.Name)
		if err != nil {
			return err
		}
		if rel == "." {
			continue
		}
		if err := extractEntry(root, rel, hdr, tr); err != nil {
			return fmt.Errorf("extracting %s: %w", hdr.Name, err)
		}
	}
}

// entryPath is an archive name as a clean relative path, or an error if it
// would leave the destination.
func entryPath(name string) (string, error) {
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("refusing tar entry %q: absolute path", name)
	}
	clean := path.Clean(name)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("refusing tar entry %q: path escapes the destination", name)
	}
	return clean, nil
}

// openBeneath opens the directory rel under root, creating missing
// directories, never leaving root.
func openBeneath(root int, rel string) (int, error) {
	how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS}
	if rel == "." {
		return unix.Openat2(root, ".", how)
	}
	fd, err := unix.Openat2(root, rel, how)
	if err == nil {
		return fd, nil
	}
	if !errors.Is(err, unix.ENOENT) {
		return -1, err
	}
	parent, err := openBeneath(root, path.Dir(rel))
	if err != nil {
		return -1, err
	}
	defer unix.Close(parent)
	if err := unix.Mkdirat(parent, path.Base(rel), 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, err
	}
	return unix.Openat2(root, rel, how)
}

func extractEntry(root int, rel string, hdr *tar.Header, r io.Reader) error {
	parent, err := openBeneath(root, path.Dir(rel))
	if err != nil {
		return err
	}
	defer unix.Close(parent)
	base := path.Base(rel)
	mode := uint32(hdr.Mode) & 0o7777

	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := unix.Mkdirat(parent, base, mode); err != nil && !errors.Is(err, unix.EEXIST) {
			return err
		}
		dir, err := unix.Openat2(parent, base, &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS})
		if err != nil {
			return err
		}
		defer unix.Close(dir)
		return unix.Fchmod(dir, mode)
	case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // old archives still use TypeRegA
		_ = unix.Unlinkat(parent, base, 0)
		fd, err := unix.Openat(parent, base, unix.O_CREAT|unix.O_WRONLY|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
		if err != nil {
			return err
		}
		f := os.NewFile(uintptr(fd), rel)
		_, err = io.Copy(f, r)
		if err == nil {
			err = f.Chmod(fs.FileMode(mode & 0o777))
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	case tar.TypeSymlink:
		_ = unix.Unlinkat(parent, base, 0)
		if err := unix.Symlinkat(hdr.Linkname, parent, base); err != nil {
			return err
		}
	case tar.TypeLink:
		target, err := entryPath(hdr.Linkname)
		if err != nil {
			return err
		}
		targetDir, err := openBeneath(root, path.Dir(target))
		if err != nil {
			return err
		}
		defer unix.Close(targetDir)
		_ = unix.Unlinkat(parent, base, 0)
		if err := unix.Linkat(targetDir, path.Base(target), parent, base, 0); err != nil {
			return err
		}
	default:
		// Devices, fifos and the like are not for containers' files.
		return nil
	}
	if !hdr.ModTime.IsZero() {
		ts := []unix.Timespec{unix.NsecToTimespec(hdr.ModTime.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
		_ = unix.UtimesNanoAt(parent, base, ts, unix.AT_SYMLINK_NOFOLLOW)
	}
	return nil
}

// writeTar writes src as a tar (spec cell §2.7): the contents of src when it
// ends in "/", otherwise src itself under its base name.
func writeTar(w io.Writer, src string) error {
	base, prefix := filepath.Clean(src), filepath.Base(src)
	if strings.HasSuffix(src, "/") {
		prefix = "."
	}
	if _, err := os.Lstat(base); err != nil {
		return fmt.Errorf("stream out %s: %w", src, err)
	}
	tw := tar.NewWriter(w)
	if err := tarball.AddTree(tw, base, prefix, nil); err != nil {
		return err
	}
	return tw.Close()
}
