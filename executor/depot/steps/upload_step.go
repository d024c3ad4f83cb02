package steps

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"

	"diego/executor/depot/log_streamer"
	"diego/garden"
	"diego/models"
)

// Uploader POSTs a file to a URL and returns the bytes sent
// (*HTTPUploader).
type Uploader interface {
	Upload(ctx context.Context, logger *slog.Logger, fileLocation string, u *url.URL) (int64, error)
}

// The upload action's failures (spec cell §3.6); each gets " for
// <artifact>" when the action names its artifact.
const (
	ErrParseURL          = "Failed to parse URL"
	ErrEstablishStream   = "Failed to establish stream from container"
	ErrReadTar           = "Failed to find first item in tar stream"
	ErrCreateTmpFile     = "Failed to create temp file"
	ErrCopyStreamToTmp   = "Failed to copy stream contents into temp file"
	ErrUploadFailed      = "Failed to upload payload"
	uploadTempFilePrefix = "upload-"
)

type uploadStep struct {
	container garden.Container
	action    *models.UploadAction
	uploader  Uploader
	tempDir   string
	limiter   Limiter
	streamer  log_streamer.LogStreamer
	logger    *slog.Logger
}

// NewUpload is the upload action: garden StreamOut of the path, the first
// tar entry to a temp file in tempDir, then a plain POST. It is ready at
// once.
func NewUpload(container garden.Container, action *models.UploadAction, uploader Uploader, tempDir string, limiter Limiter, streamer log_streamer.LogStreamer, logger *slog.Logger) Step {
	return &uploadStep{
		container: container, action: action, uploader: uploader, tempDir: tempDir, limiter: limiter, streamer: streamer,
		logger: logger.With("step", "upload", "from", action.GetFrom(), "artifact", action.GetArtifact()),
	}
}

func (s *uploadStep) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	close(ready)
	return transfer(signals, s.limiter, s.streamer, s.logger, s.action.GetArtifact(), "Uploading", "Uploaded", s.perform)
}

func (s *uploadStep) perform(ctx context.Context) (int64, error) {
	u, err := url.Parse(s.action.GetTo())
	if err == nil && (u.Scheme == "" || u.Host == "") {
		err = fmt.Errorf("%q is not an absolute URL", s.action.GetTo())
	}
	if err != nil {
		return 0, s.fail(ctx, ErrParseURL, err)
	}

	stream, err := s.container.StreamOut(garden.StreamOutSpec{Path: s.action.GetFrom(), User: s.action.GetUser()})
	if err != nil {
		return 0, s.fail(ctx, ErrEstablishStream, err)
	}
	defer stream.Close()

	tr := tar.NewReader(&ctxReader{ctx: ctx, r: stream})
	if _, err := tr.Next(); err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("empty tar stream")
		}
		return 0, s.fail(ctx, ErrReadTar, err)
	}

	tmp, err := os.CreateTemp(s.tempDir, uploadTempFilePrefix)
	if err != nil {
		return 0, s.fail(ctx, ErrCreateTmpFile, err)
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, tr)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, s.fail(ctx, ErrCopyStreamToTmp, err)
	}

	size, err := s.uploader.Upload(ctx, s.logger, tmp.Name(), u)
	if err != nil {
		return 0, s.fail(ctx, ErrUploadFailed, err)
	}
	return size, nil
}

// fail logs the failure and, when the action names its artifact, writes
// it to the app's stderr. After a cancel it is just ErrCancelled. After a cancel it is just ErrCancelled.
func (s *uploadStep) fail(ctx context.Context, msg string, err error) error {
	if ctx.Err() != nil {
		return ErrCancelled
	}
	s.logger.Error("upload-step.failed", "reason", msg, "error", err)
	if artifact := s.action.GetArtifact(); artifact != "" {
		msg += " for " + artifact
		fmt.Fprintf(s.streamer.Stderr(), "%s\n", msg)
	}
	return NewEmittableError(err, "%s", msg)
}
