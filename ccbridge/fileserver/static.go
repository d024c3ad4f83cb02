package fileserver

import (
	"crypto/sha1"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// static serves files under a directory (§5.1): 400 for a ".." segment,
// 404 for a missing file or a directory (never listed), and Go's range and
// conditional handling with Last-Modified and an ETag on every file. The
// ETag is the trimmed content of a <file>.sha1 sidecar when there is one,
// else the file's sha1, computed once per size and modification time.
type static struct {
	dir string

	mu    sync.Mutex
	etags map[string]etag
}

type etag struct {
	size    int64
	modTime time.Time
	value   string
}

func newStatic(dir string) *static { return &static{dir: dir, etags: map[string]etag{}} }

func (s *static) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	rel := strings.TrimPrefix(r.URL.Path, StaticPrefix)
	for _, seg := range strings.Split(rel, "/") {
		if seg == ".." {
			http.Error(w, "invalid path", http.StatusBadRequest)
			return
		}
	}
	path := filepath.Join(s.dir, filepath.FromSlash(rel))
	f, err := os.Open(path)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || info.IsDir() {
		http.NotFound(w, r)
		return
	}
	tag, err := s.etag(path, f, info)
	if err != nil {
		http.Error(w, "reading file", http.StatusInternalServerError)
		return
	}
	w.Header().Set("ETag", `"`+tag+`"`)
	http.ServeContent(w, r, info.Name(), info.ModTime(), f)
}

func (s *static) etag(path string, f *os.File, info os.FileInfo) (string, error) {
	if sidecar, err := os.ReadFile(path + ".sha1"); err == nil {
		if v := strings.TrimSpace(string(sidecar)); v != "" {
			return v, nil
		}
	}
	s.mu.Lock()
	cached, ok := s.etags[path]
	s.mu.Unlock()
	if ok && cached.size == info.Size() && cached.modTime.Equal(info.ModTime()) {
		return cached.value, nil
	}
	h := sha1.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	value := hex.EncodeToString(h.Sum(nil))
	s.mu.Lock()
	s.etags[path] = etag{size: info.Size(), modTime: info.ModTime(), value: value}
	s.mu.Unlock()
	return value, nil
}
