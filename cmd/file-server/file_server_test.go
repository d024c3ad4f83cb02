package main_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"diego/ccbridge/fileserver/config"
	"diego/test/stagingcc"
)

var _ = Describe("the file-server binary", func() {
	var (
		static string
		fs     string
	)

	BeforeEach(func() {
		static = GinkgoT().TempDir()
		Expect(os.MkdirAll(filepath.Join(static, "buildpack_app_lifecycle"), 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(static, "buildpack_app_lifecycle", "bundle.tgz"), []byte("lifecycle bytes"), 0o644)).To(Succeed())
		fs = startFileServer(static)
	})

	get := func(path string, headers ...string) *http.Response {
		GinkgoHelper()
		req, err := http.NewRequest(http.MethodGet, fs+path, nil)
		Expect(err).NotTo(HaveOccurred())
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(resp.Body.Close)
		return resp
	}

	Describe("static files (§5.1)", func() {
		It("serves a file with an ETag (its sha1) and Last-Modified, and revalidates both", func() {
			resp := get("/v1/static/buildpack_app_lifecycle/bundle.tgz")
			Expect(resp.StatusCode).To(Equal(http.StatusOK))
			Expect(io.ReadAll(resp.Body)).To(Equal([]byte("lifecycle bytes")))
			// sha1("lifecycle bytes"), computed independently.
			Expect(resp.Header.Get("ETag")).To(Equal(`"` + sha1Hex("lifecycle bytes") + `"`))
			Expect(resp.Header.Get("Last-Modified")).NotTo(BeEmpty())

			Expect(get("/v1/static/buildpack_app_lifecycle/bundle.tgz", "If-None-Match", resp.Header.Get("ETag")).StatusCode).
				To(Equal(http.StatusNotModified))
			Expect(get("/v1/static/buildpack_app_lifecycle/bundle.tgz", "If-Modified-Since", resp.Header.Get("Last-Modified")).StatusCode).
				To(Equal(http.StatusNotModified))
			Expect(get("/v1/static/buildpack_app_lifecycle/bundle.tgz", "Range", "bytes=0-8").StatusCode).To(Equal(http.StatusPartialContent))
		})

		It("takes the ETag from a .sha1 sidecar when there is one", func() {
			Expect(os.WriteFile(filepath.Join(static, "buildpack_app_lifecycle", "bundle.tgz.sha1"), []byte("abc123\n"), 0o644)).To(Succeed())
			Expect(get("/v1/static/buildpack_app_lifecycle/bundle.tgz").Header.Get("ETag")).To(Equal(`"abc123"`))
		})

		It("answers 404 for a missing file and for a directory, and 400 for a path with ..", func() {
			Expect(get("/v1/static/nope.tgz").StatusCode).To(Equal(http.StatusNotFound))
			Expect(get("/v1/static/buildpack_app_lifecycle").StatusCode).To(Equal(http.StatusNotFound))
			Expect(get("/v1/static/buildpack_app_lifecycle/").StatusCode).To(Equal(http.StatusNotFound))

			conn, err := net.Dial("tcp", strings.TrimPrefix(fs, "http://"))
			Expect(err).NotTo(HaveOccurred())
			defer conn.Close()
			fmt.Fprintf(conn, "GET /v1/static/../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			status, err := io.ReadAll(conn)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(status)).To(HavePrefix("HTTP/1.1 400"))
		})
	})

	Describe("uploads (§5.2)", func() {
		var cc *stagingcc.CC

		BeforeEach(func() {
			cc = stagingcc.New("user", "pass")
			DeferCleanup(cc.Close)
		})

		upload := func(route, key, ccURI string, body io.Reader, size int64, extra url.Values, headers ...string) (int, string) {
			GinkgoHelper()
			q := url.Values{key: {ccURI}}
			for k, v := range extra {
				q[k] = v
			}
			req, err := http.NewRequest(http.MethodPost, fs+route+"?"+q.Encode(), body)
			Expect(err).NotTo(HaveOccurred())
			req.ContentLength = size
			for i := 0; i+1 < len(headers); i += 2 {
				req.Header.Set(headers[i], headers[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			Expect(err).NotTo(HaveOccurred())
			defer resp.Body.Close()
			text, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(text)
		}
		dropletURI := func() string { return cc.URL() + "/staging/droplets/app-1/upload" }

		It("turns a droplet POST into CC's multipart upload, polls the job to the end, and answers 201", func() {
			cc.SetJobStatuses("running", "running", "finished")
			payload := bytes.Repeat([]byte("droplet!"), 10000)
			status, _ := upload("/v1/droplet/app-1", "cc-droplet-upload-uri", dropletURI(),
				bytes.NewReader(payload), int64(len(payload)), url.Values{"timeout": {"30"}}, "Content-MD5", "md5-value")
			Expect(status).To(Equal(http.StatusCreated))
			d, ok := cc.Droplet("app-1")
			Expect(ok).To(BeTrue())
			Expect(d.Body).To(Equal(payload))
			Expect(d.Filename).To(Equal("droplet.tgz"))
			Expect(d.Header.Get("Content-MD5")).To(Equal("md5-value"))
		})

		It("answers 500 when CC's job fails", func() {
			cc.SetJobStatuses("failed")
			status, body := upload("/v1/droplet/app-1", "cc-droplet-upload-uri", dropletURI(), strings.NewReader("x"), 1, nil)
			Expect(status).To(Equal(http.StatusInternalServerError))
			Expect(body).To(ContainSubstring("upload job failed"))
		})

		It("gives up when the timeout passes while the job is still running", func() {
			cc.SetJobStatuses("running")
			start := time.Now()
			status, _ := upload("/v1/droplet/app-1", "cc-droplet-upload-uri", dropletURI(), strings.NewReader("x"), 1,
				url.Values{"timeout": {"1"}})
			Expect(status).To(Equal(http.StatusInternalServerError))
			Expect(time.Since(start)).To(BeNumerically("<", 5*time.Second))
		})

		It("answers 411 without a Content-Length, and 400 without the CC URI or with a bad timeout", func() {
			status, body := upload("/v1/droplet/app-1", "cc-droplet-upload-uri", dropletURI(), io.MultiReader(strings.NewReader("x")), -1, nil)
			Expect(status).To(Equal(http.StatusLengthRequired))
			Expect(body).To(ContainSubstring("Missing Content Length"))
			status, _ = upload("/v1/droplet/app-1", "wrong-key", dropletURI(), strings.NewReader("x"), 1, nil)
			Expect(status).To(Equal(http.StatusBadRequest))
			status, _ = upload("/v1/droplet/app-1", "cc-droplet-upload-uri", dropletURI(), strings.NewReader("x"), 1, url.Values{"timeout": {"soon"}})
			Expect(status).To(Equal(http.StatusBadRequest))
			Expect(cc.UploadAttempts()).To(BeZero())
		})

		It("passes CC's refusal through with its status and text", func() {
			cc.SetDropletStatus(http.StatusForbidden)
			status, body := upload("/v1/droplet/app-1", "cc-droplet-upload-uri", dropletURI(), strings.NewReader("x"), 1, nil)
			Expect(status).To(Equal(http.StatusForbidden))
			Expect(body).To(ContainSubstring("droplet refused"))
			Expect(cc.UploadAttempts()).To(Equal(1), "only dial errors are retried")
		})

		It("answers CC's 401 when the CC URI carries the wrong credentials", func() {
			wrong := strings.Replace(dropletURI(), "user:pass@", "user:nope@", 1)
			status, _ := upload("/v1/droplet/app-1", "cc-droplet-upload-uri", wrong, strings.NewReader("x"), 1, nil)
			Expect(status).To(Equal(http.StatusUnauthorized))
		})

		It("answers 500 when CC cannot be reached", func() {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			Expect(err).NotTo(HaveOccurred())
			dead := "http://user:pass@" + l.Addr().String() + "/staging/droplets/app-1/upload"
			Expect(l.Close()).To(Succeed())
			status, _ := upload("/v1/droplet/app-1", "cc-droplet-upload-uri", dead, strings.NewReader("x"), 1, nil)
			Expect(status).To(Equal(http.StatusInternalServerError))
		})

		It("uploads a build artifacts cache synchronously and answers 200", func() {
			status, _ := upload("/v1/build_artifacts/app-1", "cc-build-artifacts-upload-uri",
				cc.URL()+"/staging/buildpack_cache/app-1/upload", strings.NewReader("cache"), 5, nil)
			Expect(status).To(Equal(http.StatusOK))
			c, ok := cc.Cache("app-1")
			Expect(ok).To(BeTrue())
			Expect(string(c.Body)).To(Equal("cache"))
			Expect(c.Filename).To(Equal("buildpack_cache.tgz"))
		})

		It("answers 404 for an unknown route", func() {
			status, _ := upload("/v1/nothing/app-1", "x", "y", strings.NewReader("x"), 1, nil)
			Expect(status).To(Equal(http.StatusNotFound))
		})
	})

	It("refuses a bad config, naming every problem", func() {
		cfg := config.DefaultConfig()
		cfg.StaticDirectory = ""
		cfg.CCJobPollingInterval = 0
		cfg.LogLevel = "loud"
		session := startWith(cfg)
		Eventually(session).Should(gexec.Exit(2))
		Expect(string(session.Err.Contents())).To(And(ContainSubstring("static_directory"),
			ContainSubstring("cc_job_polling_interval"), ContainSubstring("log_level")))
	})
})
