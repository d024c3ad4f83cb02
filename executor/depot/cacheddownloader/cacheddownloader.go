// Package cacheddownloader fetches artifacts for download actions and
// cached dependencies (spec cell §3.6): every fetch yields a tar (tgz is
// gunzipped, zip converted entry by entry, tar re-written), checked so that
// no entry can land outside the directory it is unpacked into. Downloads are
// retried with exponential backoff, verified against an optional checksum,
// and, with a cache key, kept in an LRU cache revalidated with
// ETag/Last-Modified.
package cacheddownloader

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"diego/deploy/clock"
)

// Defaults (spec cell §3.6, §3.11).
const (
	DefaultMaxCacheSizeInBytes = 10 * 1000 * 1000 * 1000
	DefaultMaxAttempts         = 5
	DefaultConnectTimeout      = 10 * time.Second
	DefaultIdleTimeout         = 10 * time.Second
	MinBackoff                 = 500 * time.Millisecond
	MaxBackoff                 = 16 * time.Second
)

// Config configures a Downloader. Zero values take the defaults.
type Config struct {
	// CachePath holds the cache (entries/, dirs/ and tmp/, emptied by
	// New). Empty means no cache: every fetch is a temp file.
	CachePath string
	// MaxCacheSizeInBytes bounds the cache (default 10 GB).
	MaxCacheSizeInBytes int64
	// TempDir holds working files when there is no CachePath (default
	// os.TempDir()).
	TempDir string
	// Clock times the backoff between attempts.
	Clock clock.Clock
	// MaxAttempts per fetch (default 5).
	MaxAttempts int
	// Backoff is the pause after failed attempt n (1-based); default
	// ExponentialBackoff.
	Backoff func(attempt int) time.Duration
	// ConnectTimeout and IdleTimeout (default 10 s each) bound the TCP/TLS
	// connect and every read or write on the connection.
	ConnectTimeout, IdleTimeout time.Duration
	// TLSConfig for https downloads (nil: Go's defaults).
	TLSConfig *tls.Config
	// Client replaces the HTTP client built from the settings above.
	Client *http.Client
}

// ExponentialBackoff is 0.5 s after the first failure, doubling up to 16 s.
func ExponentialBackoff(attempt int) time.Duration {
	d := MinBackoff
	for i := 1; i < attempt && d < MaxBackoff; i++ {
		d *= 2
	}
	return min(d, MaxBackoff)
}

// ChecksumInfo is an optional checksum of the downloaded bytes.
type ChecksumInfo struct {
	Algorithm string // md5, sha1 or sha256
	Value     string // hex
}

// StatusError is a download answered with a status other than 200 (or
// 304 for a cached entry).
type StatusError struct{ StatusCode int }

func (e *StatusError) Error() string {
	return fmt.Sprintf("Download failed: Status code %d", e.StatusCode)
}

// ChecksumError is a download whose bytes do not match the expected
// checksum; it is never retried.
type ChecksumError struct {
	Algorithm, Expected, Actual string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("checksum verification failed: expected %s %s, got %s", e.Algorithm, e.Expected, e.Actual)
}

// ErrInvalidChecksum: the algorithm is not md5, sha1 or sha256, or only
// one of algorithm and value is set.
var ErrInvalidChecksum = errors.New("invalid checksum")

// Downloader fetches URLs as tars. It is safe for concurrent use.
type Downloader struct {
	client      *http.Client
	clock       clock.Clock
	maxAttempts int
	backoff     func(int) time.Duration
	tmpDir      string
	cache       *cache // nil without CachePath
	locks       keyLocks

	mu       sync.Mutex
	tempDirs map[string]bool // FetchAsDirectory results outside the cache
}

// New prepares the cache directory (removing what a previous run left) and
// returns a Downloader.
func New(cfg Config) (*Downloader, error) {
	d := &Downloader{
		client:      cfg.Client,
		clock:       cfg.Clock,
		maxAttempts: cfg.MaxAttempts,
		backoff:     cfg.Backoff,
		tmpDir:      cfg.TempDir,
		tempDirs:    map[string]bool{},
		locks:       keyLocks{m: map[string]*keyLock{}},
	}
	if d.clock == nil {
		d.clock = clock.NewClock()
	}
	if d.maxAttempts <= 0 {
		d.maxAttempts = DefaultMaxAttempts
	}
	if d.backoff == nil {
		d.backoff = ExponentialBackoff
	}
	if d.client == nil {
		d.client = newHTTPClient(cfg)
	}
	if cfg.CachePath != "" {
		max := cfg.MaxCacheSizeInBytes
		if max <= 0 {
			max = DefaultMaxCacheSizeInBytes
		}
		c, err := newCache(cfg.CachePath, max)
		if err != nil {
			return nil, err
		}
		d.cache = c
		d.tmpDir = c.tmpDir
	}
	if d.tmpDir == "" {
		d.tmpDir = os.TempDir()
	}
	return d, nil
}

// Fetch returns the artifact at u as a tar stream and the tar's size. With
// a cacheKey the tar comes from (and goes into) the cache; without one it
// is a temp file removed on Close. A cancelled ctx ends the fetch at once
// with an error wrapping ctx.Err().
func (d *Downloader) Fetch(ctx context.Context, logger *slog.Logger, u *url.URL, cacheKey string, checksum ChecksumInfo) (io.ReadCloser, int64, error) {
	tarPath, size, cached, unlock, err := d.fetchTar(ctx, logger, u, cacheKey, checksum)
	if err != nil {
		return nil, 0, err
	}
	defer unlock()
	if cached {
		f, err := d.cache.open(cacheKey)
		if err != nil {
			return nil, 0, err
		}
		return f, size, nil
	}
	f, err := os.Open(tarPath)
	if err != nil {
		os.Remove(tarPath)
		return nil, 0, err
	}
	return &removeOnClose{File: f}, size, nil
}

// FetchAsDirectory fetches like Fetch and unpacks the tar into a directory
// (for bind-mounting read-only). Every directory returned must be given back
// with CloseDirectory; a cached one is shared and stays until the last user
// closes it.
func (d *Downloader) FetchAsDirectory(ctx context.Context, logger *slog.Logger, u *url.URL, cacheKey string, checksum ChecksumInfo) (string, int64, error) {
	tarPath, size, cached, unlock, err := d.fetchTar(ctx, logger, u, cacheKey, checksum)
	if err != nil {
		return "", 0, err
	}
	defer unlock()
	if cached {
		dir, err := d.cache.directory(cacheKey)
		if err != nil {
			return "", 0, err
		}
		return dir, size, nil
	}
	defer os.Remove(tarPath)
	dir, err := os.MkdirTemp(d.tmpDir, "dir-")
	if err != nil {
		return "", 0, err
	}
	if err := extractFile(tarPath, dir); err != nil {
		os.RemoveAll(dir)
		return "", 0, err
	}
	d.mu.Lock()
	d.tempDirs[dir] = true
	d.mu.Unlock()
	return dir, size, nil
}

// CloseDirectory gives back a directory from FetchAsDirectory.
func (d *Downloader) CloseDirectory(cacheKey, dir string) error {
	d.mu.Lock()
	temp := d.tempDirs[dir]
	delete(d.tempDirs, dir)
	d.mu.Unlock()
	if temp {
		return os.RemoveAll(dir)
	}
	if d.cache != nil && d.cache.release(cacheKey, dir) {
		return nil
	}
	return fmt.Errorf("cacheddownloader: %s is not a fetched directory", dir)
}

// CacheSize is how many bytes the cache holds now.
func (d *Downloader) CacheSize() int64 {
	if d.cache == nil {
		return 0
	}
	return d.cache.size()
}

// fetchTar leaves the tar either in the cache under cacheKey (cached) or
// in a temp file at tarPath that the caller removes. Until unlock, no other
// fetch of the key can replace the cached entry.
func (d *Downloader) fetchTar(ctx context.Context, logger *slog.Logger, u *url.URL, cacheKey string, checksum ChecksumInfo) (tarPath string, size int64, cached bool, unlock func(), err error) {
	nothing := func() {}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("url", redacted(u), "cache_key", cacheKey)
	if err := checksum.validate(); err != nil {
		return "", 0, false, nil, err
	}
	if cacheKey == "" || d.cache == nil {
		dl, err := d.download(ctx, logger, u, nil, checksum)
		if err != nil {
			return "", 0, false, nil, err
		}
		tarPath, size, err := d.convert(dl.path)
		return tarPath, size, false, nothing, err
	}

	release, err := d.locks.lock(ctx, cacheKey)
	if err != nil {
		return "", 0, false, nil, err
	}
	defer func() {
		if err != nil {
			release()
		}
	}()

	var cond *validators
	if prev, known := d.cache.lookup(cacheKey, u.String()); known {
		cond = &prev
	}
	dl, err := d.download(ctx, logger, u, cond, checksum)
	if err != nil {
		return "", 0, false, nil, err
	}
	if dl.notModified {
		logger.Debug("cacheddownloader.not-modified")
		if size, ok := d.cache.touch(cacheKey); ok {
			return "", size, true, release, nil
		}
		// Evicted meanwhile: fetch it again, unconditionally.
		if dl, err = d.download(ctx, logger, u, nil, checksum); err != nil {
			return "", 0, false, nil, err
		}
	}
	tarPath, size, err = d.convert(dl.path)
	if err != nil {
		return "", 0, false, nil, err
	}
	if d.cache.store(cacheKey, u.String(), dl.validators, tarPath, size) {
		return "", size, true, release, nil
	}
	logger.Info("cacheddownloader.too-large-to-cache", "size", size)
	release()
	return tarPath, size, false, nothing, nil
}

// convert turns the raw download into a checked tar and removes the raw
// file.
func (d *Downloader) convert(raw string) (string, int64, error) {
	defer os.Remove(raw)
	f, err := os.CreateTemp(d.tmpDir, "tar-")
	if err != nil {
		return "", 0, err
	}
	f.Close()
	size, err := convertToTar(raw, f.Name())
	if err != nil {
		os.Remove(f.Name())
		return "", 0, err
	}
	return f.Name(), size, nil
}

// validators are what a cached entry is revalidated and re-verified with.
type validators struct {
	etag, lastModified string
	digests            map[string]string // algorithm → hex of the raw download
}

type download struct {
	path        string
	notModified bool
	validators
}

// download GETs u into a temp file, retrying up to maxAttempts with
// backoff. Checksum failures and cancels end it at once.
func (d *Downloader) download(ctx context.Context, logger *slog.Logger, u *url.URL, cond *validators, checksum ChecksumInfo) (download, error) {
	var lastErr error
	for attempt := 1; attempt <= d.maxAttempts; attempt++ {
		dl, err := d.attempt(ctx, u, cond, checksum)
		if err == nil {
			return dl, nil
		}
		if ctx.Err() != nil {
			return download{}, fmt.Errorf("download cancelled: %w", ctx.Err())
		}
		var cerr *ChecksumError
		if errors.As(err, &cerr) {
			return download{}, err
		}
		lastErr = err
		logger.Info("cacheddownloader.attempt-failed", "attempt", attempt, "error", err.Error())
		if attempt == d.maxAttempts {
			break
		}
		select {
		case <-d.clock.After(d.backoff(attempt)):
		case <-ctx.Done():
			return download{}, fmt.Errorf("download cancelled: %w", ctx.Err())
		}
	}
	return download{}, lastErr
}

func (d *Downloader) attempt(ctx context.Context, u *url.URL, cond *validators, checksum ChecksumInfo) (download, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return download{}, err
	}
	if cond != nil {
		if cond.etag != "" {
			req.Header.Set("If-None-Match", cond.etag)
		}
		if cond.lastModified != "" {
			req.Header.Set("If-Modified-Since", cond.lastModified)
		}
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return download{}, err
	}
	defer resp.Body.Close()

	if resp.StatusCode == http.StatusNotModified && cond != nil {
		if err := checksum.verify(cond.digests); err != nil {
			return download{}, err
		}
		return download{notModified: true, validators: *cond}, nil
	}
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return download{}, &StatusError{StatusCode: resp.StatusCode}
	}

	f, err := os.CreateTemp(d.tmpDir, "download-")
	if err != nil {
		return download{}, err
	}
	hashes := map[string]hash.Hash{"md5": md5.New(), "sha1": sha1.New(), "sha256": sha256.New()}
	w := io.MultiWriter(f, hashes["md5"], hashes["sha1"], hashes["sha256"])
	_, err = io.Copy(w, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return download{}, fmt.Errorf("reading the download: %w", err)
	}
	digests := map[string]string{}
	for alg, h := range hashes {
		digests[alg] = hex.EncodeToString(h.Sum(nil))
	}
	if err := checksum.verify(digests); err != nil {
		os.Remove(f.Name())
		return download{}, err
	}
	return download{
		path: f.Name(),
		validators: validators{
			etag:         resp.Header.Get("ETag"),
			lastModified: resp.Header.Get("Last-Modified"),
			digests:      digests,
		},
	}, nil
}

func (c ChecksumInfo) validate() error {
	if c.Algorithm == "" && c.Value == "" {
		return nil
	}
	switch strings.ToLower(c.Algorithm) {
	case "md5", "sha1", "sha256":
	default:
		return fmt.Errorf("%w: unsupported algorithm %q", ErrInvalidChecksum, c.Algorithm)
	}
	if c.Value == "" {
		return fmt.Errorf("%w: %s without a value", ErrInvalidChecksum, c.Algorithm)
	}
	return nil
}

func (c ChecksumInfo) verify(digests map[string]string) error {
	if c.Algorithm == "" {
		return nil
	}
	alg := strings.ToLower(c.Algorithm)
	if actual := digests[alg]; !strings.EqualFold(actual, c.Value) {
		return &ChecksumError{Algorithm: alg, Expected: c.Value, Actual: actual}
	}
	return nil
}

func extractFile(tarPath, dir string) error {
	f, err := os.Open(tarPath)
	if err != nil {
		return err
	}
	defer f.Close()
	return extractTar(f, dir)
}

// removeOnClose is a temp file that goes away when its reader is done.
type removeOnClose struct{ *os.File }

func (r *removeOnClose) Close() error {
	err := r.File.Close()
	os.Remove(r.File.Name())
	return err
}

func redacted(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.Redacted()
}

// newHTTPClient: connect timeout, an idle timeout on every read and write,
// no keep-alives (spec cell §3.6).
func newHTTPClient(cfg Config) *http.Client {
	connect, idle := cfg.ConnectTimeout, cfg.IdleTimeout
	if connect <= 0 {
		connect = DefaultConnectTimeout
	}
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	dialer := &net.Dialer{Timeout: connect}
	return &http.Client{Transport: &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &idleTimeoutConn{Conn: conn, timeout: idle}, nil
		},
		TLSHandshakeTimeout: connect,
		TLSClientConfig:     cfg.TLSConfig,
		DisableKeepAlives:   true,
	}}
}

// idleTimeoutConn fails a read or write that makes no progress for timeout.
type idleTimeoutConn struct {
	net.Conn
	timeout time.Duration
}

func (c *idleTimeoutConn) Read(b []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *idleTimeoutConn) Write(b []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// keyLocks serialises fetches of one cache key; waiting honours ctx.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	ch    chan struct{}
	users int
}

func (k *keyLocks) lock(ctx context.Context, key string) (func(), error) {
	k.mu.Lock()
	l := k.m[key]
	if l == nil {
		l = &keyLock{ch: make(chan struct{}, 1)}
		k.m[key] = l
	}
	l.users++
	k.mu.Unlock()

	done := func() {
		k.mu.Lock()
		if l.users--; l.users == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; done() }, nil
	case <-ctx.Done():
		done()
		return nil, fmt.Errorf("download cancelled: %w", ctx.Err())
	}
}
