package cacheddownloader

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// cache is the on-disk LRU of converted tars (and of the directories
// unpacked from them), bounded by max bytes. Its index lives in memory;
// New empties the directory, so a restart starts cold.
type cache struct {
	entriesDir, dirsDir, tmpDir string
	max                         int64

	mu      sync.Mutex
	entries map[string]*entry
	orphans map[string]int // directories of replaced entries still in use → users
	total   int64
	seq     uint64
}

type entry struct {
	url string
	validators
	tarPath string
	size    int64
	dir     string // unpacked copy, "" until asked for
	dirRefs int
	busy    bool // being unpacked
	used    uint64
}

// cost counts an unpacked directory as another copy of the tar.
func (e *entry) cost() int64 {
	if e.dir != "" {
		return 2 * e.size
	}
	return e.size
}

func (e *entry) inUse() bool { return e.dirRefs > 0 || e.busy }

func newCache(root string, max int64) (*cache, error) {
	c := &cache{
		entriesDir: filepath.Join(root, "entries"),
		dirsDir:    filepath.Join(root, "dirs"),
		tmpDir:     filepath.Join(root, "tmp"),
		max:        max,
		entries:    map[string]*entry{},
		orphans:    map[string]int{},
	}
	for _, dir := range []string{c.entriesDir, c.dirsDir, c.tmpDir} {
		if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("cacheddownloader: clearing %s: %w", dir, err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("cacheddownloader: %w", err)
		}
	}
	return c, nil
}

func (c *cache) next() uint64 {
	c.seq++
	return c.seq
}

// lookup returns the validators of key's entry when it came from url.
func (c *cache) lookup(key, url string) (validators, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[key]
	if e == nil || e.url != url {
		return validators{}, false
	}
	return e.validators, true
}

// touch marks key's entry as just used and returns its size.
func (c *cache) touch(key string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[key]
	if e == nil {
		return 0, false
	}
	e.used = c.next()
	return e.size, true
}

// store moves the tar at tarPath into the cache as key's entry, replacing
// the previous one. It answers false, leaving tarPath alone, when the tar
// cannot fit even after evicting every unused entry.
func (c *cache) store(key, url string, v validators, tarPath string, size int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(key)
	if size > c.max {
		return false
	}
	for c.total+size > c.max {
		if !c.evictOneLocked() {
			return false
		}
	}
	n := c.next()
	dst := filepath.Join(c.entriesDir, fmt.Sprintf("%d.tar", n))
	if err := os.Rename(tarPath, dst); err != nil {
		return false
	}
	c.entries[key] = &entry{url: url, validators: v, tarPath: dst, size: size, used: n}
	c.total += size
	return true
}

// evictOneLocked removes the least recently used entry nobody uses.
func (c *cache) evictOneLocked() bool {
	var victim string
	var oldest *entry
	for key, e := range c.entries {
		if e.inUse() {
			continue
		}
		if oldest == nil || e.used < oldest.used {
			victim, oldest = key, e
		}
	}
	if oldest == nil {
		return false
	}
	c.removeLocked(victim)
	return true
}

func (c *cache) removeLocked(key string) {
	e := c.entries[key]
	if e == nil {
		return
	}
	delete(c.entries, key)
	c.total -= e.cost()
	os.Remove(e.tarPath)
	if e.dir != "" {
		if e.dirRefs > 0 {
			c.orphans[e.dir] = e.dirRefs
		} else {
			os.RemoveAll(e.dir)
		}
	}
}

// open opens key's tar. Removing the file later does not disturb a reader.
func (c *cache) open(key string) (*os.File, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[key]
	if e == nil {
		return nil, fmt.Errorf("cacheddownloader: %q is not cached", key)
	}
	e.used = c.next()
	return os.Open(e.tarPath)
}

// directory returns key's unpacked directory, unpacking it the first time,
// and counts one more user. The caller holds key's fetch lock.
func (c *cache) directory(key string) (string, error) {
	c.mu.Lock()
	e := c.entries[key]
	if e == nil {
		c.mu.Unlock()
		return "", fmt.Errorf("cacheddownloader: %q is not cached", key)
	}
	e.used = c.next()
	if e.dir != "" {
		e.dirRefs++
		c.mu.Unlock()
		return e.dir, nil
	}
	e.busy = true
	dir := filepath.Join(c.dirsDir, fmt.Sprintf("%d", c.next()))
	tarPath := e.tarPath
	c.mu.Unlock()

	err := os.Mkdir(dir, 0o755)
	if err == nil {
		err = extractFile(tarPath, dir)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	e.busy = false
	if err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	e.dir, e.dirRefs = dir, 1
	c.total += e.size
	return dir, nil
}

// release drops one user of dir; it answers false for a directory the
// cache does not know.
func (c *cache) release(key, dir string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[key]; e != nil && e.dir == dir && e.dirRefs > 0 {
		e.dirRefs--
		return true
	}
	refs, ok := c.orphans[dir]
	if !ok {
		return false
	}
	if refs <= 1 {
		delete(c.orphans, dir)
		os.RemoveAll(dir)
		return true
	}
	c.orphans[dir] = refs - 1
	return true
}

func (c *cache) size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}
