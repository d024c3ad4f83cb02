package steps_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"diego/executor/depot/steps"
	"diego/executor/depot/steps/stepsfakes"
	"diego/garden"
	"diego/garden/gardenfakes"
	"diego/models"
)

var _ = Describe("UploadStep", func() {
	var (
		container *gardenfakes.FakeContainer
		uploader  *stepsfakes.FakeUploader
		streamer  *fakeStreamer
		action    *models.UploadAction
		tempDir   string
		uploaded  chan []byte
	)

	BeforeEach(func() {
		container = new(gardenfakes.FakeContainer)
		uploader = new(stepsfakes.FakeUploader)
		streamer = newFakeStreamer()
		tempDir = GinkgoT().TempDir()
		action = &models.UploadAction{Artifact: "droplet", From: "/tmp/droplet", To: "http://cc/droplets/1", User: "vcap"}

		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: "droplet", Size: 5, Mode: 0o644})
		tw.Write([]byte("first"))
		tw.WriteHeader(&tar.Header{Name: "other", Size: 6, Mode: 0o644})
		tw.Write([]byte("second"))
		tw.Close()
		container.StreamOutReturns(io.NopCloser(bytes.NewReader(buf.Bytes())), nil)

		uploaded = make(chan []byte, 1)
		uploader.UploadStub = func(_ context.Context, _ *slog.Logger, path string, _ *url.URL) (int64, error) {
			b, err := os.ReadFile(path)
			uploaded <- b
			return int64(len(b)), err
		}
	})

	newStep := func() steps.Step {
		return steps.NewUpload(container, action, uploader, tempDir, steps.NewLimiter(5), streamer, discardLogger)
	}

	It("streams the path out as the user and uploads only the first tar entry", func() {
		p := run(newStep())
		Eventually(p.done).Should(Receive(BeNil()))
		Expect(p.ready).To(BeClosed())
		Expect(container.StreamOutArgsForCall(0)).To(Equal(garden.StreamOutSpec{Path: "/tmp/droplet", User: "vcap"}))
		Expect(<-uploaded).To(Equal([]byte("first")))
		_, _, _, u := uploader.UploadArgsForCall(0)
		Expect(u.String()).To(Equal("http://cc/droplets/1"))
		Expect(string(streamer.stdout.Contents())).To(Equal("Uploading droplet...\nUploaded droplet (5B)\n"))
	})

	It("removes its temp file", func() {
		p := run(newStep())
		Eventually(p.done).Should(Receive(BeNil()))
		entries, err := os.ReadDir(tempDir)
		Expect(err).NotTo(HaveOccurred())
		Expect(entries).To(BeEmpty())
	})

	DescribeTable("failures",
		func(setup func(), message string) {
			setup()
			p := run(newStep())
			var err error
			Eventually(p.done).Should(Receive(&err))
			Expect(err).To(MatchError(message + " for droplet"))
			Expect(steps.IsEmittable(err)).To(BeTrue())
			Expect(streamer.stderr).To(gbytes.Say(message + " for droplet\n"))
			Expect(streamer.stdout).NotTo(gbytes.Say("Uploaded"))
		},
		Entry("a bad URL", func() { action.To = "not a url" }, steps.ErrParseURL),
		Entry("no stream", func() { container.StreamOutReturns(nil, errors.New("no such file")) }, steps.ErrEstablishStream),
		Entry("an empty tar", func() { container.StreamOutReturns(io.NopCloser(bytes.NewReader(nil)), nil) }, steps.ErrReadTar),
		Entry("no temp dir", func() { tempDir = filepath.Join(tempDir, "missing") }, steps.ErrCreateTmpFile),
		Entry("a truncated entry", func() {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			tw.WriteHeader(&tar.Header{Name: "droplet", Size: 100, Mode: 0o644})
			tw.Write([]byte("short"))
			container.StreamOutReturns(io.NopCloser(bytes.NewReader(buf.Bytes())), nil)
		}, steps.ErrCopyStreamToTmp),
		Entry("a failed upload", func() {
			uploader.UploadStub = nil
			uploader.UploadReturns(0, &steps.UploadStatusError{StatusCode: 500})
		}, steps.ErrUploadFailed),
	)

	It("keeps quiet on stderr and leaves out the suffix without an artifact", func() {
		action.Artifact = ""
		uploader.UploadStub = nil
		uploader.UploadReturns(0, errors.New("boom"))
		p := run(newStep())
		var err error
		Eventually(p.done).Should(Receive(&err))
		Expect(err).To(MatchError("Failed to upload payload"))
		Expect(errors.Unwrap(err)).To(MatchError("boom"))
		Expect(streamer.stderr.Contents()).To(BeEmpty())
		Expect(streamer.stdout.Contents()).To(BeEmpty())
	})

	It("is cancelled during the upload", func() {
		uploader.UploadStub = func(ctx context.Context, _ *slog.Logger, _ string, _ *url.URL) (int64, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		}
		p := run(newStep())
		Eventually(uploader.UploadCallCount).Should(Equal(1))
		p.Signal()
		Eventually(p.done).Should(Receive(MatchError(steps.ErrCancelled)))
		Expect(streamer.stderr.Contents()).To(BeEmpty())
	})
})
