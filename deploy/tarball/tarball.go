// Package tarball writes directory trees as tar archives: garden's stream
// out (a tar on the wire) and the buildpack lifecycle's droplets and
// bundles (gzipped tar files) share its walk, so that a tree's names,
// modes and symlinks come out the same way in both.
package tarball

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// AddTree writes dir and everything under it (files, directories,
// symlinks, without following them) to tw. dir itself is named prefix, and
// every entry below it prefix/<path from dir>, so prefix "." gives "./",
// "./a", "./a/b" and prefix "app" gives "app/", "app/a"; a dir that is a
// file or a symlink is one entry, named prefix. Directory names end in "/"; regular files' contents follow their
// headers; other entries are a header only. edit, when set, changes each
// header before it is written (the lifecycle drops the owner names).
func AddTree(tw *tar.Writer, dir, prefix string, edit func(*tar.Header)) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = prefix
		if rel != "." {
			hdr.Name += "/" + filepath.ToSlash(rel)
		}
		if info.IsDir() {
			hdr.Name += "/"
		}
		if edit != nil {
			edit(hdr)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
}

// WriteFile creates (or truncates) the gzipped tar at path and lets fill
// write its entries. The file is complete, trailer and all, only when it
// returns nil.
func WriteFile(path string, fill func(*tar.Writer) error) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	if err := fill(tw); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}
