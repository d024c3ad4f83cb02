package builder

import (
	"archive/tar"
	"archive/zip"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"diego/deploy/tarball"
)

// writeDroplet writes the droplet tgz of §8.2: ./staging_info.yml, ./app/
// (buildDir with its modes), and empty ./tmp/ and ./logs/.
func writeDroplet(path, buildDir string, stagingInfo []byte) error {
	return tarball.WriteFile(path, func(tw *tar.Writer) error {
		now := time.Now()
		if err := tw.WriteHeader(&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: now}); err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: "./staging_info.yml", Typeflag: tar.TypeReg, Mode: 0o644,
			Size: int64(len(stagingInfo)), ModTime: now}); err != nil {
			return err
		}
		if _, err := tw.Write(stagingInfo); err != nil {
			return err
		}
		if err := tarball.AddTree(tw, buildDir, "./app", anonymous); err != nil {
			return err
		}
		for _, d := range []string{"./tmp/", "./logs/"} {
			if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: now}); err != nil {
				return err
			}
		}
		return nil
	})
}

// writeTGZ writes dir's contents as a tgz rooted at ".".
func writeTGZ(path, dir string) error {
	return tarball.WriteFile(path, func(tw *tar.Writer) error { return tarball.AddTree(tw, dir, ".", anonymous) })
}

// anonymous drops the staging user's names from the archives: the droplet
// runs as another user on another cell.
func anonymous(hdr *tar.Header) { hdr.Uname, hdr.Gname = "", "" }

// download fetches a custom buildpack's zip (a URL key, §8.1) and unpacks it
// into dir, keeping modes. Git URLs are not supported: the cells are
// offline.
func download(url, dir string, skipCertVerify bool) error {
	client := &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: skipCertVerify}, //nolint:gosec // the user's choice (-skipCertVerify)
	}}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	tmp, err := os.CreateTemp("", "buildpack-*.zip")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	size, err := io.Copy(tmp, resp.Body)
	if err != nil {
		return err
	}
	zr, err := zip.NewReader(tmp, size)
	if err != nil {
		return fmt.Errorf("%s is not a zip: %w", url, err)
	}
	for _, f := range zr.File {
		target := filepath.Join(dir, filepath.FromSlash(f.Name))
		if !strings.HasPrefix(target, filepath.Clean(dir)+string(filepath.Separator)) {
			return fmt.Errorf("zip entry %q escapes the buildpack directory", f.Name)
		}
		if f.Mode().IsDir() {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			continue
		}
		if !f.Mode().IsRegular() {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		if err := extract(f, target); err != nil {
			return err
		}
	}
	return nil
}

func extract(f *zip.File, target string) error {
	r, err := f.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	mode := f.Mode().Perm()
	if mode == 0 {
		mode = 0o644
	}
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
