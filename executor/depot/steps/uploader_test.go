package steps_test

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/clock/fakeclock"
	"diego/executor/depot/steps"
)

type receivedUpload struct {
	Method string
	Header http.Header
	Length int64
	Body   []byte
}

var _ = Describe("HTTPUploader", func() {
	var (
		server   *httptest.Server
		mu       sync.Mutex
		received []receivedUpload
		statuses []int
		file     string
		content  []byte
		target   *url.URL
	)

	BeforeEach(func() {
		received, statuses = nil, nil
		server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			received = append(received, receivedUpload{r.Method, r.Header.Clone(), r.ContentLength, body})
			status := http.StatusCreated
			if len(statuses) > 0 {
				status, statuses = statuses[0], statuses[1:]
			}
			mu.Unlock()
			w.WriteHeader(status)
		}))
		DeferCleanup(server.Close)
		content = []byte("droplet bytes, not multipart")
		file = filepath.Join(GinkgoT().TempDir(), "droplet")
		Expect(os.WriteFile(file, content, 0o644)).To(Succeed())
		var err error
		target, err = url.Parse(server.URL + "/droplets/1?x=y")
		Expect(err).NotTo(HaveOccurred())
	})

	requests := func() []receivedUpload {
		mu.Lock()
		defer mu.Unlock()
		return append([]receivedUpload(nil), received...)
	}

	It("POSTs the raw bytes with their type, length, MD5 and SHA-256 digest", func() {
		u := steps.NewUploader(steps.UploaderConfig{RetryInterval: -1})
		n, err := u.Upload(context.Background(), discardLogger, file, target)
		Expect(err).NotTo(HaveOccurred())
		Expect(n).To(BeEquivalentTo(len(content)))

		reqs := requests()
		Expect(reqs).To(HaveLen(1))
		r := reqs[0]
		Expect(r.Method).To(Equal(http.MethodPost))
		Expect(r.Body).To(Equal(content))
		Expect(r.Length).To(BeEquivalentTo(len(content)))
		Expect(r.Header.Get("Content-Type")).To(Equal("application/octet-stream"))
		md := md5.Sum(content)
		Expect(r.Header.Get("Content-MD5")).To(Equal(base64.StdEncoding.EncodeToString(md[:])))
		sha := sha256.Sum256(content)
		Expect(r.Header.Get("Content-Digest")).To(Equal("sha-256=:" + base64.StdEncoding.EncodeToString(sha[:]) + ":"))
	})

	It("fails with the status code after 3 attempts", func() {
		statuses = []int{500, 502, 400, 201}
		u := steps.NewUploader(steps.UploaderConfig{RetryInterval: -1})
		_, err := u.Upload(context.Background(), discardLogger, file, target)
		Expect(err).To(MatchError("Upload failed: Status code 400"))
		Expect(requests()).To(HaveLen(3))
	})

	It("retries after the retry interval and succeeds", func() {
		statuses = []int{503}
		fakeClock := fakeclock.NewFakeClock(time.Now())
		u := steps.NewUploader(steps.UploaderConfig{Clock: fakeClock, RetryInterval: time.Second})
		done := make(chan error, 1)
		go func() {
			_, err := u.Upload(context.Background(), discardLogger, file, target)
			done <- err
		}()
		Eventually(fakeClock.WatcherCount).Should(Equal(1))
		Expect(requests()).To(HaveLen(1))
		fakeClock.Increment(time.Second)
		Eventually(done).Should(Receive(BeNil()))
		reqs := requests()
		Expect(reqs).To(HaveLen(2))
		Expect(reqs[1].Body).To(Equal(content), "each attempt sends the whole file")
	})

	It("stops at once when cancelled", func() {
		statuses = []int{503}
		fakeClock := fakeclock.NewFakeClock(time.Now())
		u := steps.NewUploader(steps.UploaderConfig{Clock: fakeClock})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := u.Upload(ctx, discardLogger, file, target)
			done <- err
		}()
		Eventually(fakeClock.WatcherCount).Should(Equal(1))
		cancel()
		Eventually(done).Should(Receive(MatchError(context.Canceled)))
		Expect(requests()).To(HaveLen(1))
	})
})
