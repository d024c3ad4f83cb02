package steps_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"diego/executor/depot/cacheddownloader"
	"diego/executor/depot/steps"
	"diego/executor/depot/steps/stepsfakes"
	"diego/garden"
	"diego/garden/gardenfakes"
	"diego/models"
)

func tarOf(name, body string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	Expect(tw.WriteHeader(&tar.Header{Name: name, Size: int64(len(body)), Mode: 0o644, Typeflag: tar.TypeReg})).To(Succeed())
	_, err := tw.Write([]byte(body))
	Expect(err).NotTo(HaveOccurred())
	Expect(tw.Close()).To(Succeed())
	return buf.Bytes()
}

var _ = Describe("DownloadStep", func() {
	var (
		container  *gardenfakes.FakeContainer
		downloader *stepsfakes.FakeDownloader
		streamer   *fakeStreamer
		action     *models.DownloadAction
		limiter    steps.Limiter
		streamed   chan []byte
	)

	BeforeEach(func() {
		container = new(gardenfakes.FakeContainer)
		downloader = new(stepsfakes.FakeDownloader)
		streamer = newFakeStreamer()
		limiter = steps.NewLimiter(5)
		action = &models.DownloadAction{
			Artifact: "buildpack", From: "http://blobstore/bp.tgz", To: "/tmp/buildpacks/x", User: "vcap",
			CacheKey: "bp-key", ChecksumAlgorithm: "sha256", ChecksumValue: "abc",
		}
		downloader.FetchReturns(io.NopCloser(bytes.NewReader([]byte("the tar"))), 1536, nil)
		streamed = make(chan []byte, 1)
		container.StreamInStub = func(spec garden.StreamInSpec) error {
			b, err := io.ReadAll(spec.TarStream)
			streamed <- b
			return err
		}
	})

	newStep := func() steps.Step {
		return steps.NewDownload(container, action, downloader, limiter, streamer, discardLogger)
	}

	It("fetches through the downloader and streams the tar into the container as the user", func() {
		p := run(newStep())
		Eventually(p.done).Should(Receive(BeNil()))
		Expect(p.ready).To(BeClosed())

		_, _, u, cacheKey, checksum := downloader.FetchArgsForCall(0)
		Expect(u.String()).To(Equal("http://blobstore/bp.tgz"))
		Expect(cacheKey).To(Equal("bp-key"))
		Expect(checksum).To(Equal(cacheddownloader.ChecksumInfo{Algorithm: "sha256", Value: "abc"}))

		spec := container.StreamInArgsForCall(0)
		Expect(spec.Path).To(Equal("/tmp/buildpacks/x"))
		Expect(spec.User).To(Equal("vcap"))
		Expect(<-streamed).To(Equal([]byte("the tar")))
	})

	It("logs its progress with a human size", func() {
		p := run(newStep())
		Eventually(p.done).Should(Receive(BeNil()))
		Expect(string(streamer.stdout.Contents())).To(Equal("Downloading buildpack...\nDownloaded buildpack (1.5K)\n"))
	})

	DescribeTable("human sizes",
		func(size int64, human string) {
			downloader.FetchReturns(io.NopCloser(strings.NewReader("")), size, nil)
			p := run(newStep())
			Eventually(p.done).Should(Receive(BeNil()))
			Expect(streamer.stdout).To(gbytes.Say(`Downloaded buildpack \(` + human + `\)`))
		},
		Entry(nil, int64(0), "0B"),
		Entry(nil, int64(999), "999B"),
		Entry(nil, int64(1024), "1K"),
		Entry(nil, int64(10*1024*1024), "10M"),
		Entry(nil, int64(3*1024*1024*1024/2), "1.5G"),
	)

	It("logs nothing without an artifact", func() {
		action.Artifact = ""
		p := run(newStep())
		Eventually(p.done).Should(Receive(BeNil()))
		Expect(streamer.stdout.Contents()).To(BeEmpty())
	})

	Describe("failures", func() {
		It("fails a fetch with an emittable 'Downloading <artifact> failed' and the detail on stderr", func() {
			downloader.FetchReturns(nil, 0, errors.New("Download failed: Status code 404"))
			p := run(newStep())
			var err error
			Eventually(p.done).Should(Receive(&err))
			Expect(err).To(MatchError("Downloading buildpack failed"))
			Expect(steps.IsEmittable(err)).To(BeTrue())
			Expect(streamer.stderr).To(gbytes.Say("Downloading buildpack failed: Download failed: Status code 404\n"))
			Expect(container.StreamInCallCount()).To(BeZero())
			Expect(streamer.stdout).NotTo(gbytes.Say("Downloaded"))
		})

		It("says 'Downloading failed' without an artifact", func() {
			action.Artifact = ""
			downloader.FetchReturns(nil, 0, errors.New("nope"))
			p := run(newStep())
			Eventually(p.done).Should(Receive(MatchError("Downloading failed")))
			Expect(streamer.stderr).To(gbytes.Say("Downloading failed: nope\n"))
		})

		It("truncates a long error's copy on stderr to 1024 bytes", func() {
			downloader.FetchReturns(nil, 0, errors.New(strings.Repeat("x", 5000)))
			p := run(newStep())
			Eventually(p.done).Should(Receive(HaveOccurred()))
			line := strings.TrimSuffix(string(streamer.stderr.Contents()), "\n")
			Expect(line).To(HaveSuffix(" (error truncated)"))
			Expect(len(line)).To(Equal(1024 + len(" (error truncated)")))
		})

		It("fails an unparsable URL as a fetch failure", func() {
			action.From = "http://bad host/%zz"
			p := run(newStep())
			Eventually(p.done).Should(Receive(MatchError("Downloading buildpack failed")))
			Expect(downloader.FetchCallCount()).To(BeZero())
		})

		It("fails a stream-in with 'Copying <artifact> into the container failed: <err>'", func() {
			container.StreamInStub = nil
			container.StreamInReturns(errors.New("disk full"))
			p := run(newStep())
			var err error
			Eventually(p.done).Should(Receive(&err))
			Expect(err).To(MatchError("Copying buildpack into the container failed: disk full"))
			Expect(steps.IsEmittable(err)).To(BeTrue())
			Expect(streamer.stderr).To(gbytes.Say("Copying buildpack into the container failed: disk full\n"))
		})
	})

	Describe("the concurrency limit", func() {
		It("waits for a slot, and is cancelled while waiting", func() {
			limiter = steps.NewLimiter(1)
			limiter <- struct{}{} // someone else's download
			p := run(newStep())
			Eventually(p.ready).Should(BeClosed())
			Consistently(downloader.FetchCallCount, 50*time.Millisecond).Should(BeZero())
			p.Signal()
			Eventually(p.done).Should(Receive(MatchError(steps.ErrCancelled)))
			Expect(downloader.FetchCallCount()).To(BeZero())
		})

		It("runs the next download when a slot frees up", func() {
			limiter = steps.NewLimiter(1)
			container.StreamInStub = nil
			release := make(chan struct{})
			downloader.FetchStub = func(ctx context.Context, _ *slog.Logger, _ *url.URL, _ string, _ cacheddownloader.ChecksumInfo) (io.ReadCloser, int64, error) {
				<-release
				return io.NopCloser(strings.NewReader("")), 0, nil
			}
			first, second := run(newStep()), run(newStep())
			Eventually(downloader.FetchCallCount).Should(Equal(1))
			Consistently(downloader.FetchCallCount, 50*time.Millisecond).Should(Equal(1))
			close(release)
			Eventually(first.done).Should(Receive(BeNil()))
			Eventually(second.done).Should(Receive(BeNil()))
			Expect(downloader.FetchCallCount()).To(Equal(2))
		})
	})

	Context("with the real cached downloader and a server that stalls", func() {
		var (
			stall   chan struct{}
			server  *httptest.Server
			reached chan struct{}
		)

		BeforeEach(func() {
			stall = make(chan struct{})
			reached = make(chan struct{}, 1)
			body := tarOf("f", strings.Repeat("x", 4096))
			server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusOK)
				w.Write(body[:1024])
				w.(http.Flusher).Flush()
				reached <- struct{}{}
				select {
				case <-stall:
				case <-r.Context().Done():
				}
			}))
			DeferCleanup(func() { close(stall); server.Close() })
			d, err := cacheddownloader.New(cacheddownloader.Config{TempDir: GinkgoT().TempDir()})
			Expect(err).NotTo(HaveOccurred())
			action.From, action.ChecksumAlgorithm, action.ChecksumValue = server.URL+"/bp.tar", "", ""
			downloaderStep := steps.NewDownload(container, action, d, limiter, streamer, discardLogger)
			p := run(downloaderStep)
			Eventually(reached).Should(Receive())
			Consistently(p.done, 50*time.Millisecond).ShouldNot(Receive())
			p.Signal()
			Eventually(p.done).Should(Receive(MatchError(steps.ErrCancelled)))
		})

		It("is cancelled mid-download without streaming anything in or reporting a failure", func() {
			Expect(container.StreamInCallCount()).To(BeZero())
			Expect(streamer.stderr.Contents()).To(BeEmpty())
			Expect(streamer.stdout).NotTo(gbytes.Say("Downloaded"))
		})
	})
})
