package cloudcontroller

import (
	"archive/zip"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"diego/deploy/routes"
)

type resourceEntry struct {
	Fn   string `json:"fn"`
	Sha1 string `json:"sha1"`
	Size int64  `json:"size"`
	Mode string `json:"mode"`
}

type cached struct {
	Size     int64     `json:"size"`
	StoredAt time.Time `json:"stored_at"`
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// resourceMatch answers which files the cache already holds (spec §7.1).
func (s *Server) resourceMatch(w http.ResponseWriter, r *http.Request) error {
	body, over, err := readAll(r.Body, s.cfg.MaxResourceMatchBytes)
	if err != nil || over {
		return errParse("body too large or unreadable")
	}
	var entries []struct {
		Sha1 string `json:"sha1"`
		Size *int64 `json:"size"`
	}
	var raws []json.RawMessage
	if json.Unmarshal(body, &entries) != nil || json.Unmarshal(body, &raws) != nil || entries == nil {
		return errParse("the body must be a JSON array of {sha1, size}")
	}
	for _, e := range entries {
		if e.Size == nil || *e.Size < 0 || e.Sha1 == "" {
			return errParse("every entry needs a sha1 and a size ≥ 0")
		}
	}
	out := []json.RawMessage{}
	err = s.view(func(tx *bolt.Tx) error {
		for i, e := range entries {
			if e.Sha1 == "0" || *e.Size < s.cfg.ResourcePoolMinSize || *e.Size > s.cfg.ResourcePoolMaxSize {
				continue
			}
			c, ok, err := get[cached](tx, bResources, e.Sha1)
			if err != nil {
				return err
			}
			if ok && c.Size == *e.Size && fileExists(s.store.resourcePath(e.Sha1)) {
				out = append(out, raws[i])
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, 200, out)
	return nil
}

func badPath(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\\\x00") {
		return true
	}
	return slices.Contains(strings.Split(p, "/"), "..")
}

type pkgFile struct {
	mode fs.FileMode
	open func() (io.ReadCloser, error)
	size int64
}

// uploadBits builds and stores a package (spec §7.2).
func (s *Server) uploadBits(w http.ResponseWriter, r *http.Request) error {
	g := routes.Param(r, "guid")
	if err := s.view(func(tx *bolt.Tx) error { _, err := s.getAppTx(tx, g); return err }); err != nil {
		return err
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return errUpload("missing resources")
	}
	var resources []byte
	var appZip *os.File
	defer func() {
		if appZip != nil {
			_ = appZip.Close()
			_ = os.Remove(appZip.Name())
		}
	}()
	var total int64
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return errUpload("unreadable multipart body")
		}
		switch part.FormName() {
		case "resources":
			b, over, err := readAll(part, s.cfg.MaxResourceMatchBytes)
			if err != nil || over {
				return errParse("resources too large")
			}
			resources = b
		case "application":
			if appZip == nil {
				if appZip, err = s.store.TempFile(); err != nil {
					return err
				}
			}
			n, err := io.Copy(appZip, io.LimitReader(part, s.cfg.MaxPackageBytes-total+1))
			total += n
			if err != nil {
				return errUpload("unreadable application part")
			}
			if total > s.cfg.MaxPackageBytes {
				return cfErr(413, 160001, "AppBitsUploadInvalid", "The app upload is invalid: package exceeds %d bytes", s.cfg.MaxPackageBytes)
			}
		}
	}
	if resources == nil {
		return errUpload("missing resources")
	}
	var entries []resourceEntry
	if err := json.Unmarshal(resources, &entries); err != nil || entries == nil {
		return errParse("resources must be a JSON array of {fn, sha1, size, mode}")
	}
	files := map[string]pkgFile{}
	for _, e := range entries {
		if badPath(e.Fn) {
			return cfErr(400, 160004, "AppResourcesFilePathInvalid", "The resource file path is invalid: %s", e.Fn)
		}
		mode, err := strconv.ParseUint(e.Mode, 8, 32)
		if err != nil || mode&0o600 != 0o600 {
			return cfErr(400, 160003, "AppResourcesFileModeInvalid", "The resource file mode is invalid: %s for %s", e.Mode, e.Fn)
		}
		var c cached
		var ok bool
		_ = s.view(func(tx *bolt.Tx) (err error) { c, ok, err = get[cached](tx, bResources, e.Sha1); return })
		p := s.store.resourcePath(strings.ToLower(e.Sha1 + "00"))
		if len(e.Sha1) >= 2 {
			p = s.store.resourcePath(e.Sha1)
		}
		if !ok || c.Size != e.Size || !fileExists(p) {
			return errUpload("resource " + e.Fn + " is not in the resource cache")
		}
		files[e.Fn] = pkgFile{mode: fs.FileMode(mode & 0o777), size: e.Size, open: func() (io.ReadCloser, error) { return os.Open(p) }}
	}
	if appZip != nil {
		zr, err := zip.NewReader(appZip, total)
		if err != nil {
			return errUpload("application is not a valid zip file")
		}
		if len(zr.File) > s.cfg.MaxPackageEntries {
			return errUpload(fmt.Sprintf("package exceeds %d entries", s.cfg.MaxPackageEntries))
		}
		for _, f := range zr.File {
			name := strings.TrimSuffix(f.Name, "/")
			if badPath(name) || f.Mode()&fs.ModeSymlink != 0 {
				return errUpload("zip entry '" + f.Name + "' is not allowed")
			}
			if f.FileInfo().IsDir() {
				continue
			}
			mode := f.Mode().Perm() | 0o600
			files[name] = pkgFile{mode: mode, size: int64(f.UncompressedSize64), open: f.Open}
		}
	}
	if len(files) == 0 {
		return errUpload("no files were uploaded")
	}
	pkgPath, hash, newRes, err := s.buildPackage(files)
	if err != nil {
		return err
	}
	defer os.Remove(pkgPath)
	var eff effects
	var job Job
	err = s.update(func(tx *bolt.Tx) error {
		eff = effects{}
		a, err := s.getAppTx(tx, g)
		if err != nil {
			return err
		}
		f, err := os.Open(pkgPath)
		if err != nil {
			return err
		}
		if _, err := s.store.WriteBlob(s.store.packagePath(g), f); err != nil {
			f.Close()
			return err
		}
		f.Close()
		now := s.now()
		a.PackageUpdatedAt = &now
		if a.PackageHash != hash {
			a.PackageHash = hash
			s.markRestage(&a, &eff)
		}
		s.touch(&a)
		if err := put(tx, bApps, g, a); err != nil {
			return err
		}
		for sha, size := range newRes {
			if err := put(tx, bResources, sha, cached{Size: size, StoredAt: time.Now().UTC()}); err != nil {
				return err
			}
		}
		if r.URL.Query().Get("async") == "true" {
			job = Job{Meta: Meta{Guid: uuid.NewString(), CreatedAt: now}, Status: "finished"}
			return put(tx, bJobs, job.Guid, job)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.apply(r, g, eff)
	if job.Guid != "" {
		writeJSON(w, 201, jobResource(job, "/v2/jobs/"))
		return nil
	}
	writeJSON(w, 201, map[string]any{})
	return nil
}

func jobResource(j Job, prefix string) map[string]any {
	return map[string]any{"metadata": map[string]any{"guid": j.Guid, "created_at": j.CreatedAt.UTC().Format(time.RFC3339), "url": prefix + j.Guid},
		"entity": map[string]any{"guid": j.Guid, "status": j.Status}}
}

// buildPackage writes the sorted package zip to tmp/ and stores new
// resource-cache files; it returns the zip's path and sha1.
func (s *Server) buildPackage(files map[string]pkgFile) (string, string, map[string]int64, error) {
	out, err := s.store.TempFile()
	if err != nil {
		return "", "", nil, err
	}
	fail := func(err error) (string, string, map[string]int64, error) {
		out.Close()
		os.Remove(out.Name())
		return "", "", nil, err
	}
	names := make([]string, 0, len(files))
	dirs := map[string]bool{}
	for n := range files {
		names = append(names, n)
		for d := path.Dir(n); d != "." && d != "/"; d = path.Dir(d) {
			dirs[d+"/"] = true
		}
	}
	for d := range dirs {
		names = append(names, d)
	}
	slices.Sort(names)
	h := sha1.New()
	zw := zip.NewWriter(io.MultiWriter(out, h))
	var inflated int64
	newRes := map[string]int64{}
	for _, n := range names {
		if dirs[n] {
			hdr := &zip.FileHeader{Name: n, Method: zip.Store}
			hdr.SetMode(fs.ModeDir | 0o755)
			if _, err := zw.CreateHeader(hdr); err != nil {
				return fail(err)
			}
			continue
		}
		f := files[n]
		hdr := &zip.FileHeader{Name: n, Method: zip.Deflate}
		hdr.SetMode(f.mode)
		zf, err := zw.CreateHeader(hdr)
		if err != nil {
			return fail(err)
		}
		rc, err := f.open()
		if err != nil {
			return fail(errUpload("unreadable entry " + n))
		}
		fh := sha1.New()
		limit := s.cfg.MaxPackageUncompressedBytes - inflated
		m, err := io.Copy(io.MultiWriter(zf, fh), io.LimitReader(rc, limit+1))
		rc.Close()
		inflated += m
		if err != nil {
			return fail(errUpload("unreadable entry " + n))
		}
		if inflated > s.cfg.MaxPackageUncompressedBytes {
			return fail(errUpload(fmt.Sprintf("package exceeds %d bytes", s.cfg.MaxPackageUncompressedBytes)))
		}
		sum := hex.EncodeToString(fh.Sum(nil))
		if m >= s.cfg.ResourcePoolMinSize && m <= s.cfg.ResourcePoolMaxSize && !fileExists(s.store.resourcePath(sum)) {
			rc, err := f.open()
			if err == nil {
				_, err = s.store.WriteBlob(s.store.resourcePath(sum), rc)
				rc.Close()
			}
			if err != nil {
				return fail(err)
			}
			newRes[sum] = m
		}
	}
	if err := zw.Close(); err != nil {
		return fail(err)
	}
	if err := out.Close(); err != nil {
		return fail(err)
	}
	return out.Name(), hex.EncodeToString(h.Sum(nil)), newRes, nil
}
