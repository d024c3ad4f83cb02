// Package bundle lays out the file-server's static directory for the
// buildpack lifecycle (spec bridge.md §9.3): the lifecycle bundle
// buildpack_app_lifecycle/buildpack_app_lifecycle.tgz holding builder,
// launcher and healthcheck, and one zip per buildpack under buildpacks/.
// `make build` and the tests both use it, so they serve the same tree.
package bundle

import (
	"archive/tar"
	"archive/zip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"diego/deploy/tarball"
)

// LifecyclePath is the bundle's path under the static directory, as the
// stager's and nsync's lifecycles config names it.
const LifecyclePath = "buildpack_app_lifecycle/buildpack_app_lifecycle.tgz"

// Binaries are the bundle's executables, in its order.
var Binaries = []string{"builder", "launcher", "healthcheck"}

// Write lays out staticDir: the lifecycle bundle from the executables in
// binDir, and buildpacks/<name>.zip for each directory in buildpacksDir.
func Write(staticDir, binDir, buildpacksDir string) error {
	if err := WriteLifecycle(filepath.Join(staticDir, LifecyclePath), binDir); err != nil {
		return err
	}
	entries, err := os.ReadDir(buildpacksDir)
	if err != nil {
		return fmt.Errorf("reading %s: %w", buildpacksDir, err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dst := filepath.Join(staticDir, "buildpacks", e.Name()+".zip")
		if err := ZipDir(dst, filepath.Join(buildpacksDir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// WriteLifecycle writes the tgz of the executables in binDir.
func WriteLifecycle(dst, binDir string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return tarball.WriteFile(dst, func(tw *tar.Writer) error {
		for _, name := range Binaries {
			data, err := os.ReadFile(filepath.Join(binDir, name))
			if err != nil {
				return fmt.Errorf("lifecycle bundle: %w", err)
			}
			hdr := &tar.Header{Name: name, Mode: 0o755, Size: int64(len(data)), ModTime: time.Now(), Typeflag: tar.TypeReg}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			if _, err := tw.Write(data); err != nil {
				return err
			}
		}
		return nil
	})
}

// ZipDir zips the tree at src into dst, keeping file modes (the
// buildpack's scripts must stay executable, §8.3).
func ZipDir(dst, src string) (err error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	zw := zip.NewWriter(f)
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == src {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := zip.FileInfoHeader(info)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			hdr.Name += "/"
			_, err = zw.CreateHeader(hdr)
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		hdr.Method = zip.Deflate
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		_, err = io.Copy(w, in)
		return err
	})
	if err != nil {
		return fmt.Errorf("zipping %s: %w", src, err)
	}
	return zw.Close()
}
