package depot

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// rootfsSizes measures each local rootfs directory once (again when its
// top-level mtime changes). Spec cell §3.5 adds a rootfs's size to the
// container's byte_hard: garden counts the image against a scope-total
// disk limit, so disk_mb is left for the container's own writes. Garden
// measures the same way (allocated blocks), so the two sizes cancel.
var rootfsSizes = struct {
	sync.Mutex
	m map[string]measuredRootFS
}{m: map[string]measuredRootFS{}}

type measuredRootFS struct {
	modTime time.Time
	bytes   uint64
}

// rootfsSize is the allocated size of a rootfs given as a local path
// (`/dir` or `raw:///dir`); 0 for anything else or a path not there.
func rootfsSize(uri string) uint64 {
	path := strings.TrimPrefix(uri, "raw://")
	if !filepath.IsAbs(path) {
		return 0
	}
	info, err := os.Stat(path)
	if err != nil || !info.IsDir() {
		return 0
	}
	rootfsSizes.Lock()
	cached, ok := rootfsSizes.m[path]
	rootfsSizes.Unlock()
	if ok && cached.modTime.Equal(info.ModTime()) {
		return cached.bytes
	}
	var bytes uint64
	_ = filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if info, err := d.Info(); err == nil {
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				bytes += uint64(st.Blocks) * 512
			}
		}
		return nil
	})
	rootfsSizes.Lock()
	rootfsSizes.m[path] = measuredRootFS{modTime: info.ModTime(), bytes: bytes}
	rootfsSizes.Unlock()
	return bytes
}
