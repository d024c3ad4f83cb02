package cacheddownloader_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/clock/fakeclock"
	"diego/executor/depot/cacheddownloader"
)

// artifactServer serves one artifact and records the requests' headers.
type artifactServer struct {
	*httptest.Server

	mu       sync.Mutex
	body     []byte
	etag     string
	modified string
	statuses []int // answered before the body, one per request
	requests []http.Header
	stall    chan struct{} // when set, the handler waits on it after the headers
}

func newArtifactServer(body []byte) *artifactServer {
	s := &artifactServer{body: body}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

func (s *artifactServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r.Header.Clone())
	body, etag, modified, stall := s.body, s.etag, s.modified, s.stall
	status := 0
	if len(s.statuses) > 0 {
		status, s.statuses = s.statuses[0], s.statuses[1:]
	}
	s.mu.Unlock()

	if status != 0 {
		w.WriteHeader(status)
		return
	}
	if etag != "" && r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if modified != "" && r.Header.Get("If-Modified-Since") == modified {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if etag != "" {
		w.Header().Set("ETag", etag)
	}
	if modified != "" {
		w.Header().Set("Last-Modified", modified)
	}
	if stall != nil {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(http.StatusOK)
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		select {
		case <-stall:
		case <-r.Context().Done():
		}
		return
	}
	w.Write(body)
}

func (s *artifactServer) set(f func(s *artifactServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func (s *artifactServer) Requests() []http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]http.Header(nil), s.requests...)
}

func (s *artifactServer) RequestCount() int { return len(s.Requests()) }

func mustParse(raw string) *url.URL {
	u, err := url.Parse(raw)
	Expect(err).NotTo(HaveOccurred())
	return u
}

func filesIn(dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

var _ = Describe("Downloader", func() {
	var (
		cfg        cacheddownloader.Config
		downloader *cacheddownloader.Downloader
		server     *artifactServer
		ctx        context.Context
		cancel     context.CancelFunc
		tarBytes   []byte
	)

	BeforeEach(func() {
		tarBytes = buildTar(entry{Name: "app/", Type: tar.TypeDir, Mode: 0o755}, entry{Name: "app/run.sh", Body: "echo hi", Mode: 0o755})
		server = newArtifactServer(tarBytes)
		DeferCleanup(server.Close)
		ctx, cancel = context.WithCancel(context.Background())
		DeferCleanup(cancel)
		cfg = cacheddownloader.Config{
			TempDir: GinkgoT().TempDir(),
			Backoff: func(int) time.Duration { return 0 },
		}
	})

	JustBeforeEach(func() {
		var err error
		downloader, err = cacheddownloader.New(cfg)
		Expect(err).NotTo(HaveOccurred())
	})

	fetch := func(cacheKey string, sum cacheddownloader.ChecksumInfo) ([]entry, int64, error) {
		r, size, err := downloader.Fetch(ctx, nil, mustParse(server.URL+"/artifact"), cacheKey, sum)
		if err != nil {
			return nil, 0, err
		}
		defer r.Close()
		return readTar(r), size, nil
	}

	Describe("archive formats", func() {
		It("passes a tar through", func() {
			entries, size, err := fetch("", cacheddownloader.ChecksumInfo{})
			Expect(err).NotTo(HaveOccurred())
			Expect(size).To(BeNumerically(">", 0))
			Expect(entries).To(Equal([]entry{
				{Name: "app/", Type: tar.TypeDir, Mode: 0o755},
				{Name: "app/run.sh", Body: "echo hi", Type: tar.TypeReg, Mode: 0o755},
			}))
		})

		It("recognises a GNU-format tar by its magic", func() {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			Expect(tw.WriteHeader(&tar.Header{Name: "gnu.txt", Size: 3, Mode: 0o644, Format: tar.FormatGNU})).To(Succeed())
			tw.Write([]byte("gnu"))
			Expect(tw.Close()).To(Succeed())
			Expect(string(buf.Bytes()[257:265])).To(Equal("ustar  \x00"))
			server.set(func(s *artifactServer) { s.body = buf.Bytes() })
			entries, _, err := fetch("", cacheddownloader.ChecksumInfo{})
			Expect(err).NotTo(HaveOccurred())
			Expect(entries).To(HaveLen(1))
			Expect(entries[0].Body).To(Equal("gnu"))
		})

		It("gunzips a tgz", func() {
			server.set(func(s *artifactServer) {
				s.body = buildTgz(entry{Name: "a.txt", Body: "A"}, entry{Name: "b.txt", Body: "B"})
			})
			entries, _, err := fetch("", cacheddownloader.ChecksumInfo{})
			Expect(err).NotTo(HaveOccurred())
			Expect(entries).To(Equal([]entry{
				{Name: "a.txt", Body: "A", Type: tar.TypeReg, Mode: 0o644},
				{Name: "b.txt", Body: "B", Type: tar.TypeReg, Mode: 0o644},
			}))
		})

		It("converts a zip entry by entry, keeping directories, modes and symlinks", func() {
			server.set(func(s *artifactServer) {
				s.body = buildZip(
					entry{Name: "bin/", Type: tar.TypeDir},
					entry{Name: "bin/start", Body: "#!/bin/sh", Mode: 0o755},
					entry{Name: "bin/link", Type: tar.TypeSymlink, Linkname: "start"},
				)
			})
			entries, _, err := fetch("", cacheddownloader.ChecksumInfo{})
			Expect(err).NotTo(HaveOccurred())
			Expect(entries).To(Equal([]entry{
				{Name: "bin/", Type: tar.TypeDir, Mode: 0o755},
				{Name: "bin/start", Body: "#!/bin/sh", Type: tar.TypeReg, Mode: 0o755},
				{Name: "bin/link", Type: tar.TypeSymlink, Linkname: "start", Mode: 0o777},
			}))
		})

		It("refuses anything else with 'unknown archive format'", func() {
			server.set(func(s *artifactServer) { s.body = []byte("just some text, not an archive") })
			_, _, err := fetch("", cacheddownloader.ChecksumInfo{})
			Expect(err).To(MatchError(cacheddownloader.ErrUnknownArchiveFormat))
			Expect(err.Error()).To(Equal("unknown archive format"))
			Expect(server.RequestCount()).To(Equal(1), "a format error is not retried")
		})
	})

	Describe("failures and retries", func() {
		It("fails a non-200 answer with its status code after 5 attempts", func() {
			server.set(func(s *artifactServer) { s.statuses = []int{404, 404, 404, 404, 404, 404} })
			_, _, err := fetch("", cacheddownloader.ChecksumInfo{})
			Expect(err).To(MatchError("Download failed: Status code 404"))
			var serr *cacheddownloader.StatusError
			Expect(errors.As(err, &serr)).To(BeTrue())
			Expect(serr.StatusCode).To(Equal(404))
			Expect(server.RequestCount()).To(Equal(5))
		})

		It("succeeds when a retry does", func() {
			server.set(func(s *artifactServer) { s.statuses = []int{500, 503} })
			entries, _, err := fetch("", cacheddownloader.ChecksumInfo{})
			Expect(err).NotTo(HaveOccurred())
			Expect(entries).To(HaveLen(2))
			Expect(server.RequestCount()).To(Equal(3))
		})

		Context("with the default backoff on a fake clock", func() {
			var fakeClock *fakeclock.FakeClock

			BeforeEach(func() {
				fakeClock = fakeclock.NewFakeClock(time.Now())
				cfg.Clock = fakeClock
				cfg.Backoff = nil
				server.set(func(s *artifactServer) { s.statuses = []int{500, 500} })
			})

			It("waits 0.5 s, then 1 s, between attempts", func() {
				done := make(chan error, 1)
				go func() {
					_, _, err := fetch("", cacheddownloader.ChecksumInfo{})
					done <- err
				}()
				Eventually(fakeClock.WatcherCount).Should(Equal(1))
				Expect(server.RequestCount()).To(Equal(1))
				fakeClock.Increment(499 * time.Millisecond)
				Consistently(server.RequestCount, 50*time.Millisecond).Should(Equal(1))
				fakeClock.Increment(time.Millisecond)
				Eventually(server.RequestCount).Should(Equal(2))

				Eventually(fakeClock.WatcherCount).Should(Equal(1))
				fakeClock.Increment(999 * time.Millisecond)
				Consistently(server.RequestCount, 50*time.Millisecond).Should(Equal(2))
				fakeClock.Increment(time.Millisecond)
				Eventually(done).Should(Receive(BeNil()))
				Expect(server.RequestCount()).To(Equal(3))
			})

			It("stops waiting when cancelled", func() {
				done := make(chan error, 1)
				go func() {
					_, _, err := fetch("", cacheddownloader.ChecksumInfo{})
					done <- err
				}()
				Eventually(fakeClock.WatcherCount).Should(Equal(1))
				cancel()
				Eventually(done).Should(Receive(MatchError(context.Canceled)))
				Expect(server.RequestCount()).To(Equal(1))
			})
		})

		It("backs off exponentially from 0.5 s to 16 s", func() {
			var got []time.Duration
			for i := 1; i <= 8; i++ {
				got = append(got, cacheddownloader.ExponentialBackoff(i))
			}
			Expect(got).To(Equal([]time.Duration{
				500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second,
				8 * time.Second, 16 * time.Second, 16 * time.Second, 16 * time.Second,
			}))
		})

		It("is cancelled while the server stalls mid-body, without retrying", func() {
			stall := make(chan struct{})
			DeferCleanup(func() { close(stall) })
			server.set(func(s *artifactServer) { s.stall = stall })
			done := make(chan error, 1)
			go func() {
				_, _, err := fetch("", cacheddownloader.ChecksumInfo{})
				done <- err
			}()
			Eventually(server.RequestCount).Should(Equal(1))
			Consistently(done, 50*time.Millisecond).ShouldNot(Receive())
			cancel()
			Eventually(done).Should(Receive(MatchError(context.Canceled)))
			Expect(server.RequestCount()).To(Equal(1))
			Expect(filesIn(cfg.TempDir)).To(BeEmpty())
		})

		Context("with a short idle timeout", func() {
			BeforeEach(func() {
				cfg.IdleTimeout = 100 * time.Millisecond
				cfg.MaxAttempts = 2
			})

			It("gives up on a connection that stops sending, and retries", func() {
				stall := make(chan struct{})
				DeferCleanup(func() { close(stall) })
				server.set(func(s *artifactServer) { s.stall = stall })
				_, _, err := fetch("", cacheddownloader.ChecksumInfo{})
				Expect(err).To(HaveOccurred())
				Expect(server.RequestCount()).To(Equal(2))
			})
		})

		It("fails at once for a server that is not there", func() {
			cfg.MaxAttempts = 2
			server.Close()
			_, _, err := fetch("", cacheddownloader.ChecksumInfo{})
			Expect(err).To(MatchError(ContainSubstring("connect")))
		})
	})

	Describe("checksums", func() {
		hexOf := func(h interface{ Sum([]byte) []byte }) string { return hex.EncodeToString(h.Sum(nil)) }

		DescribeTable("accept the right digest of the downloaded bytes",
			func(alg string) {
				var v string
				switch alg {
				case "md5":
					s := md5.Sum(tarBytes)
					v = hex.EncodeToString(s[:])
				case "sha1":
					s := sha1.Sum(tarBytes)
					v = hex.EncodeToString(s[:])
				case "sha256":
					h := sha256.New()
					h.Write(tarBytes)
					v = hexOf(h)
				}
				_, _, err := fetch("", cacheddownloader.ChecksumInfo{Algorithm: alg, Value: v})
				Expect(err).NotTo(HaveOccurred())
			},
			Entry("md5", "md5"), Entry("sha1", "sha1"), Entry("sha256", "sha256"),
		)

		It("computes the digest before converting (over the zip, not the tar)", func() {
			zipBytes := buildZip(entry{Name: "f", Body: "x"})
			server.set(func(s *artifactServer) { s.body = zipBytes })
			sum := sha256.Sum256(zipBytes)
			_, _, err := fetch("", cacheddownloader.ChecksumInfo{Algorithm: "sha256", Value: hex.EncodeToString(sum[:])})
			Expect(err).NotTo(HaveOccurred())
		})

		It("fails a mismatch without retrying and removes the download", func() {
			_, _, err := fetch("", cacheddownloader.ChecksumInfo{Algorithm: "sha256", Value: "deadbeef"})
			var cerr *cacheddownloader.ChecksumError
			Expect(errors.As(err, &cerr)).To(BeTrue())
			Expect(cerr.Expected).To(Equal("deadbeef"))
			Expect(server.RequestCount()).To(Equal(1))
			Expect(filesIn(cfg.TempDir)).To(BeEmpty())
		})

		It("refuses an unknown algorithm before downloading", func() {
			_, _, err := fetch("", cacheddownloader.ChecksumInfo{Algorithm: "crc32", Value: "00"})
			Expect(err).To(MatchError(cacheddownloader.ErrInvalidChecksum))
			Expect(server.RequestCount()).To(Equal(0))
		})
	})

	Describe("without a cache key", func() {
		It("removes the temp file when the reader is closed", func() {
			r, _, err := downloader.Fetch(ctx, nil, mustParse(server.URL), "", cacheddownloader.ChecksumInfo{})
			Expect(err).NotTo(HaveOccurred())
			Expect(filesIn(cfg.TempDir)).To(HaveLen(1))
			Expect(r.Close()).To(Succeed())
			Expect(filesIn(cfg.TempDir)).To(BeEmpty())
		})
	})

	Context("with a cache", func() {
		BeforeEach(func() {
			cfg.CachePath = filepath.Join(GinkgoT().TempDir(), "cache")
			cfg.MaxCacheSizeInBytes = 10 << 20
		})

		It("empties what a previous run left", func() {
			leftover := filepath.Join(cfg.CachePath, "entries", "old.tar")
			Expect(os.MkdirAll(filepath.Dir(leftover), 0o755)).To(Succeed())
			Expect(os.WriteFile(leftover, []byte("x"), 0o644)).To(Succeed())
			_, err := cacheddownloader.New(cfg)
			Expect(err).NotTo(HaveOccurred())
			Expect(leftover).NotTo(BeAnExistingFile())
		})

		It("revalidates with If-None-Match and reuses the entry on 304", func() {
			server.set(func(s *artifactServer) { s.etag = `"v1"` })
			first, _, err := fetch("key", cacheddownloader.ChecksumInfo{})
			Expect(err).NotTo(HaveOccurred())
			Expect(server.Requests()[0].Get("If-None-Match")).To(BeEmpty())

			server.set(func(s *artifactServer) { s.body = []byte("would not be a tar") })
			second, _, err := fetch("key", cacheddownloader.ChecksumInfo{})
			Expect(err).NotTo(HaveOccurred())
			Expect(server.Requests()[1].Get("If-None-Match")).To(Equal(`"v1"`))
			Expect(second).To(Equal(first))
		})

		It("revalidates with If-Modified-Since", func() {
			modified := time.Unix(1e9, 0).UTC().Format(http.TimeFormat)
			server.set(func(s *artifactServer) { s.modified = modified })
			_, _, err := fetch("key", cacheddownloader.ChecksumInfo{})
			Expect(err).NotTo(HaveOccurred())
			_, _, err = fetch("key", cacheddownloader.ChecksumInfo{})
			Expect(err).NotTo(HaveOccurred())
			Expect(server.Requests()[1].Get("If-Modified-Since")).To(Equal(modified))
		})

		It("replaces the entry when the server sends new content", func() {
			server.set(func(s *artifactServer) { s.etag = `"v1"` })
			_, _, err := fetch("key", cacheddownloader.ChecksumInfo{})
			Expect(err).NotTo(HaveOccurred())
			server.set(func(s *artifactServer) { s.etag, s.body = `"v2"`, buildTar(entry{Name: "new", Body: "2"}) })
			entries, _, err := fetch("key", cacheddownloader.ChecksumInfo{})
			Expect(err).NotTo(HaveOccurred())
			Expect(entries).To(HaveLen(1))
			Expect(entries[0].Name).To(Equal("new"))
			Expect(downloader.CacheSize()).To(BeNumerically("<", 3*len(tarBytes)))
		})

		It("does not send validators for an entry cached from another URL", func() {
			server.set(func(s *artifactServer) { s.etag = `"v1"` })
			_, _, err := fetch("key", cacheddownloader.ChecksumInfo{})
			Expect(err).NotTo(HaveOccurred())
			r, _, err := downloader.Fetch(ctx, nil, mustParse(server.URL+"/other"), "key", cacheddownloader.ChecksumInfo{})
			Expect(err).NotTo(HaveOccurred())
			r.Close()
			Expect(server.Requests()[1].Get("If-None-Match")).To(BeEmpty())
		})

		It("checks a cached entry against the checksum on 304", func() {
			server.set(func(s *artifactServer) { s.etag = `"v1"` })
			_, _, err := fetch("key", cacheddownloader.ChecksumInfo{})
			Expect(err).NotTo(HaveOccurred())
			_, _, err = fetch("key", cacheddownloader.ChecksumInfo{Algorithm: "md5", Value: "00"})
			var cerr *cacheddownloader.ChecksumError
			Expect(errors.As(err, &cerr)).To(BeTrue())
		})

		It("evicts the least recently used entries to stay under the size limit", func() {
			size := int64(len(buildTar(entry{Name: "f", Body: "0123456789"})))
			cfg.MaxCacheSizeInBytes = 2*size + size/2
			d, err := cacheddownloader.New(cfg)
			Expect(err).NotTo(HaveOccurred())
			get := func(key string) {
				server.set(func(s *artifactServer) { s.etag, s.body = `"`+key+`"`, buildTar(entry{Name: "f", Body: "0123456789"}) })
				r, _, err := d.Fetch(ctx, nil, mustParse(server.URL+"/"+key), key, cacheddownloader.ChecksumInfo{})
				Expect(err).NotTo(HaveOccurred())
				r.Close()
			}
			get("a")
			get("b")
			get("a") // a is now more recent than b
			get("c") // evicts b
			Expect(d.CacheSize()).To(BeNumerically("<=", cfg.MaxCacheSizeInBytes))

			n := server.RequestCount()
			get("a")
			Expect(server.Requests()[n].Get("If-None-Match")).To(Equal(`"a"`), "a is still cached")
			get("b")
			Expect(server.Requests()[n+1].Get("If-None-Match")).To(BeEmpty(), "b was evicted")
		})

		It("serves an artifact too large for the cache as a temp file", func() {
			cfg.MaxCacheSizeInBytes = 10
			d, err := cacheddownloader.New(cfg)
			Expect(err).NotTo(HaveOccurred())
			r, _, err := d.Fetch(ctx, nil, mustParse(server.URL), "key", cacheddownloader.ChecksumInfo{})
			Expect(err).NotTo(HaveOccurred())
			Expect(readTar(r)).To(HaveLen(2))
			Expect(r.Close()).To(Succeed())
			Expect(d.CacheSize()).To(BeZero())
			Expect(filesIn(cfg.CachePath)).To(BeEmpty())
		})

		It("lets concurrent fetches of one key download it once", func() {
			server.set(func(s *artifactServer) { s.etag = `"v1"` })
			var wg sync.WaitGroup
			var failures atomic.Int32
			for i := 0; i < 4; i++ {
				wg.Add(1)
				go func() {
					defer GinkgoRecover()
					defer wg.Done()
					if _, _, err := fetch("key", cacheddownloader.ChecksumInfo{}); err != nil {
						failures.Add(1)
					}
				}()
			}
			wg.Wait()
			Expect(failures.Load()).To(BeZero())
			full := 0
			for _, h := range server.Requests() {
				if h.Get("If-None-Match") == "" {
					full++
				}
			}
			Expect(full).To(Equal(1))
		})

		Describe("FetchAsDirectory", func() {
			It("unpacks once and shares the directory until its last user closes it", func() {
				server.set(func(s *artifactServer) { s.etag = `"v1"` })
				dir1, _, err := downloader.FetchAsDirectory(ctx, nil, mustParse(server.URL), "key", cacheddownloader.ChecksumInfo{})
				Expect(err).NotTo(HaveOccurred())
				Expect(os.ReadFile(filepath.Join(dir1, "app", "run.sh"))).To(Equal([]byte("echo hi")))
				info, err := os.Stat(filepath.Join(dir1, "app", "run.sh"))
				Expect(err).NotTo(HaveOccurred())
				Expect(info.Mode().Perm()).To(Equal(os.FileMode(0o755)))

				dir2, _, err := downloader.FetchAsDirectory(ctx, nil, mustParse(server.URL), "key", cacheddownloader.ChecksumInfo{})
				Expect(err).NotTo(HaveOccurred())
				Expect(dir2).To(Equal(dir1))

				Expect(downloader.CloseDirectory("key", dir1)).To(Succeed())
				Expect(downloader.CloseDirectory("key", dir2)).To(Succeed())
				Expect(dir1).To(BeADirectory(), "kept in the cache for the next user")
			})

			It("keeps a replaced directory until its users are done", func() {
				server.set(func(s *artifactServer) { s.etag = `"v1"` })
				old, _, err := downloader.FetchAsDirectory(ctx, nil, mustParse(server.URL), "key", cacheddownloader.ChecksumInfo{})
				Expect(err).NotTo(HaveOccurred())
				server.set(func(s *artifactServer) { s.etag, s.body = `"v2"`, buildTar(entry{Name: "v2", Body: "2"}) })
				fresh, _, err := downloader.FetchAsDirectory(ctx, nil, mustParse(server.URL), "key", cacheddownloader.ChecksumInfo{})
				Expect(err).NotTo(HaveOccurred())
				Expect(fresh).NotTo(Equal(old))
				Expect(filepath.Join(fresh, "v2")).To(BeAnExistingFile())
				Expect(old).To(BeADirectory())
				Expect(downloader.CloseDirectory("key", old)).To(Succeed())
				Expect(old).NotTo(BeADirectory())
				Expect(downloader.CloseDirectory("key", fresh)).To(Succeed())
			})

			It("removes an uncached directory on close", func() {
				dir, _, err := downloader.FetchAsDirectory(ctx, nil, mustParse(server.URL), "", cacheddownloader.ChecksumInfo{})
				Expect(err).NotTo(HaveOccurred())
				Expect(filepath.Join(dir, "app", "run.sh")).To(BeAnExistingFile())
				Expect(downloader.CloseDirectory("", dir)).To(Succeed())
				Expect(dir).NotTo(BeADirectory())
				Expect(downloader.CloseDirectory("", dir)).NotTo(Succeed())
			})
		})
	})
})
