package steps

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"time"

	"diego/deploy/clock"
)

// Uploader defaults (spec cell §3.6).
const (
	DefaultUploadAttempts      = 3
	DefaultUploadRetryInterval = time.Second
)

// UploadStatusError is an upload answered with a status of 400 or more.
type UploadStatusError struct{ StatusCode int }

func (e *UploadStatusError) Error() string {
	return fmt.Sprintf("Upload failed: Status code %d", e.StatusCode)
}

// UploaderConfig configures an HTTPUploader; zero values take defaults.
type UploaderConfig struct {
	Client        *http.Client // default: a client with a 10 s connect timeout
	Clock         clock.Clock
	Attempts      int           // default 3
	RetryInterval time.Duration // pause between attempts; default 1 s, < 0 for none
}

// HTTPUploader is the upload action's client: a plain POST of the file's
// bytes, never multipart, with Content-MD5 and Content-Digest.
type HTTPUploader struct {
	client        *http.Client
	clock         clock.Clock
	attempts      int
	retryInterval time.Duration
}

// NewUploader returns an HTTPUploader.
func NewUploader(cfg UploaderConfig) *HTTPUploader {
	u := &HTTPUploader{client: cfg.Client, clock: cfg.Clock, attempts: cfg.Attempts, retryInterval: cfg.RetryInterval}
	if u.client == nil {
		u.client = &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			TLSHandshakeTimeout: 10 * time.Second,
			DisableKeepAlives:   true,
		},
			// A redirected POST would turn into a GET: report it instead.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if u.clock == nil {
		u.clock = clock.NewClock()
	}
	if u.attempts <= 0 {
		u.attempts = DefaultUploadAttempts
	}
	if u.retryInterval == 0 {
		u.retryInterval = DefaultUploadRetryInterval
	}
	return u
}

// Upload POSTs the file at fileLocation to u, up to Attempts times.
func (u *HTTPUploader) Upload(ctx context.Context, logger *slog.Logger, fileLocation string, to *url.URL) (int64, error) {
	size, md5sum, sha256sum, err := digests(fileLocation)
	if err != nil {
		return 0, err
	}
	var lastErr error
	for attempt := 1; attempt <= u.attempts; attempt++ {
		lastErr = u.attempt(ctx, fileLocation, to, size, md5sum, sha256sum)
		if lastErr == nil {
			return size, nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		logger.Info("uploader.attempt-failed", "attempt", attempt, "error", lastErr.Error())
		if attempt < u.attempts && u.retryInterval > 0 {
			select {
			case <-u.clock.After(u.retryInterval):
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
	}
	return 0, lastErr
}

func (u *HTTPUploader) attempt(ctx context.Context, fileLocation string, to *url.URL, size int64, md5sum, sha256sum []byte) error {
	f, err := os.Open(fileLocation)
	if err != nil {
		return err
	}
	defer f.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, to.String(), f)
	if err != nil {
		return err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Content-MD5", base64.StdEncoding.EncodeToString(md5sum))
	req.Header.Set("Content-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sha256sum)+":")
	resp, err := u.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= http.StatusBadRequest {
		return &UploadStatusError{StatusCode: resp.StatusCode}
	}
	return nil
}

func digests(path string) (int64, []byte, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, nil, err
	}
	defer f.Close()
	m, s := md5.New(), sha256.New()
	n, err := io.Copy(io.MultiWriter(m, s), f)
	if err != nil {
		return 0, nil, nil, err
	}
	return n, m.Sum(nil), s.Sum(nil), nil
}
