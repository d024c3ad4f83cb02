package steps

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"

	"diego/executor/depot/cacheddownloader"
	"diego/executor/depot/log_streamer"
	"diego/garden"
	"diego/models"
)

// Downloader fetches an artifact as a tar stream
// (*cacheddownloader.Downloader).
type Downloader interface {
	Fetch(ctx context.Context, logger *slog.Logger, u *url.URL, cacheKey string, checksum cacheddownloader.ChecksumInfo) (io.ReadCloser, int64, error)
}

// maxErrorLogLength bounds a download error's copy in the app log.
const maxErrorLogLength = 1024

type downloadStep struct {
	container  garden.Container
	action     *models.DownloadAction
	downloader Downloader
	limiter    Limiter
	streamer   log_streamer.LogStreamer
	logger     *slog.Logger
}

// NewDownload is the download action: fetch through the cached
// downloader, then garden StreamIn into the container. It is ready at once.
func NewDownload(container garden.Container, action *models.DownloadAction, downloader Downloader, limiter Limiter, streamer log_streamer.LogStreamer, logger *slog.Logger) Step {
	return &downloadStep{
		container: container, action: action, downloader: downloader, limiter: limiter, streamer: streamer,
		logger: logger.With("step", "download", "to", action.GetTo(), "artifact", action.GetArtifact()),
	}
}

func (s *downloadStep) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	close(ready)
	return transfer(signals, s.limiter, s.streamer, s.logger, s.action.GetArtifact(), "Downloading", "Downloaded", s.perform)
}

func (s *downloadStep) perform(ctx context.Context) (int64, error) {
	artifact := s.action.GetArtifact()
	u, err := url.Parse(s.action.GetFrom())
	var reader io.ReadCloser
	var size int64
	if err == nil {
		reader, size, err = s.downloader.Fetch(ctx, s.logger, u, s.action.GetCacheKey(), cacheddownloader.ChecksumInfo{
			Algorithm: s.action.GetChecksumAlgorithm(),
			Value:     s.action.GetChecksumValue(),
		})
	}
	if err != nil {
		if ctx.Err() != nil {
			return 0, ErrCancelled
		}
		s.logger.Error("download-step.fetch-failed", "error", err)
		msg := "Downloading failed"
		if artifact != "" {
			msg = fmt.Sprintf("Downloading %s failed", artifact)
		}
		s.logError(msg + ": " + err.Error())
		return 0, NewEmittableError(err, "%s", msg)
	}
	defer reader.Close()

	err = s.container.StreamIn(garden.StreamInSpec{
		Path:      s.action.GetTo(),
		User:      s.action.GetUser(),
		TarStream: &ctxReader{ctx: ctx, r: reader},
	})
	if err != nil {
		if ctx.Err() != nil {
			return 0, ErrCancelled
		}
		s.logger.Error("download-step.stream-in-failed", "error", err)
		what := "Copying into the container failed"
		if artifact != "" {
			what = fmt.Sprintf("Copying %s into the container failed", artifact)
		}
		e := NewEmittableError(err, "%s: %s", what, err.Error())
		s.logError(e.Error())
		return 0, e
	}
	return size, nil
}

func (s *downloadStep) logError(msg string) {
	fmt.Fprintf(s.streamer.Stderr(), "%s\n", truncateMessage(msg, maxErrorLogLength))
}

// ctxReader stops a stream once its context is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
