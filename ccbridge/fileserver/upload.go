package fileserver

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"diego/deploy/logging"
	"diego/deploy/routes"
)

// dialAttempts is how often an upload whose connection to CC cannot be
// dialled is tried (cc-uploader's rule, §9.2).
const dialAttempts = 3

func newCCClient(cfg Config) *http.Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{InsecureSkipVerify: cfg.SkipCertVerify} //nolint:gosec // skip_cert_verify is the operator's choice
	transport.ResponseHeaderTimeout = cfg.CommunicationTimeout
	transport.DialContext = (&net.Dialer{Timeout: cfg.CommunicationTimeout}).DialContext
	return &http.Client{Transport: transport}
}

type uploader struct {
	cfg  Config
	deps Deps
}

// droplet is POST /v1/droplet/:guid: the upload to CC with async=true,
// then the job polling; 201 when the job finishes (§5.2).
func (u *uploader) droplet(w http.ResponseWriter, r *http.Request) {
	logger := logging.Session(u.deps.Logger, "upload-droplet", "app_guid", routes.Param(r, "guid"))
	u.upload(w, r, logger, DropletUploadURIParam, "droplet.tgz", true)
}

// buildArtifacts is POST /v1/build_artifacts/:app_guid: a synchronous
// upload; 200 (§5.2).
func (u *uploader) buildArtifacts(w http.ResponseWriter, r *http.Request) {
	logger := logging.Session(u.deps.Logger, "upload-build-artifacts", "app_guid", routes.Param(r, "app_guid"))
	u.upload(w, r, logger, BuildArtifactsUploadURIParam, "buildpack_cache.tgz", false)
}

// httpError is a failure and the status the executor gets for it.
type httpError struct {
	status int
	body   string
}

func (e *httpError) Error() string { return fmt.Sprintf("%d: %s", e.status, e.body) }

func (u *uploader) upload(w http.ResponseWriter, r *http.Request, logger *slog.Logger, uriParam, filename string, async bool) {
	if r.ContentLength <= 0 {
		http.Error(w, "Missing Content Length", http.StatusLengthRequired)
		return
	}
	query := r.URL.Query()
	ccURI := query.Get(uriParam)
	if ccURI == "" {
		http.Error(w, fmt.Sprintf("missing %s parameter", uriParam), http.StatusBadRequest)
		return
	}
	target, err := url.Parse(ccURI)
	if err != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" {
		http.Error(w, fmt.Sprintf("invalid %s parameter %q", uriParam, ccURI), http.StatusBadRequest)
		return
	}
	timeout := DefaultUploadTimeout
	if t := query.Get(TimeoutParam); t != "" {
		secs, err := strconv.Atoi(t)
		if err != nil || secs <= 0 {
			http.Error(w, fmt.Sprintf("invalid timeout %q", t), http.StatusBadRequest)
			return
		}
		timeout = time.Duration(secs) * time.Second
	}
	// The timer and the executor hanging up both cancel the upload.
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()

	if async {
		q := target.Query()
		q.Set("async", "true")
		target.RawQuery = q.Encode()
	}
	resp, err := u.post(ctx, target, r, filename)
	if err == nil && async {
		err = u.poll(ctx, target, resp)
	}
	var he *httpError
	switch {
	case errors.As(err, &he):
		logger.Error("upload-failed", "status", he.status, "error", err)
		http.Error(w, he.body, he.status)
		return
	case err != nil:
		logger.Error("upload-failed", "error", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	logger.Info("uploaded", "bytes", r.ContentLength)
	if async {
		w.WriteHeader(http.StatusCreated)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// post streams the request body to CC as one multipart file part with an
// exact Content-Length, retrying only when CC cannot be dialled. It
// returns CC's 200/201 body.
func (u *uploader) post(ctx context.Context, target *url.URL, in *http.Request, filename string) ([]byte, error) {
	boundary := randomBoundary()
	head := fmt.Sprintf("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"+
		"Content-Type: application/octet-stream\r\n\r\n", boundary, filename)
	tail := fmt.Sprintf("\r\n--%s--\r\n", boundary)
	body := io.MultiReader(strings.NewReader(head), io.LimitReader(in.Body, in.ContentLength), strings.NewReader(tail))
	size := int64(len(head)) + in.ContentLength + int64(len(tail))

	dest := *target
	user := dest.User
	dest.User = nil
	var lastErr error
	for attempt := 1; attempt <= dialAttempts; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, dest.String(), io.NopCloser(body))
		if err != nil {
			return nil, err
		}
		req.ContentLength = size
		req.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
		for _, h := range []string{"Content-MD5", "Content-Digest"} {
			if v := in.Header.Get(h); v != "" {
				req.Header.Set(h, v)
			}
		}
		setAuth(req, user)
		resp, err := u.deps.CC.Do(req)
		if err != nil {
			lastErr = err
			if isDialError(err) && ctx.Err() == nil {
				continue
			}
			return nil, fmt.Errorf("uploading to CC: %w", err)
		}
		payload, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("reading CC's answer: %w", err)
		}
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
			return nil, &httpError{status: resp.StatusCode, body: string(payload)}
		}
		return payload, nil
	}
	return nil, fmt.Errorf("uploading to CC after %d attempts: %w", dialAttempts, lastErr)
}

func setAuth(req *http.Request, user *url.Userinfo) {
	if user == nil {
		return
	}
	password, _ := user.Password()
	req.SetBasicAuth(user.Username(), password)
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// job is CC's async job resource.
type job struct {
	Metadata struct {
		Guid string `json:"guid"`
		URL  string `json:"url"`
	} `json:"metadata"`
	Entity struct {
		Guid   string `json:"guid"`
		Status string `json:"status"`
	} `json:"entity"`
}

// poll follows CC's droplet job until it is finished (§5.2).
func (u *uploader) poll(ctx context.Context, upload *url.URL, body []byte) error {
	for {
		var j job
		if err := json.Unmarshal(body, &j); err != nil {
			return fmt.Errorf("CC's job is not JSON: %w", err)
		}
		switch j.Entity.Status {
		case "finished":
			return nil
		case "failed":
			return &httpError{status: http.StatusInternalServerError, body: "upload job failed"}
		case "queued", "running":
		default:
			return fmt.Errorf("CC's upload job has an unknown status %q", j.Entity.Status)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("polling CC's upload job: %w", ctx.Err())
		case <-u.deps.Clock.After(u.cfg.CCJobPollingInterval):
		}
		next, err := jobURL(upload, j.Metadata.URL)
		if err != nil {
			return err
		}
		if body, err = u.get(ctx, next, upload.User); err != nil {
			return err
		}
	}
}

// jobURL resolves a job's url against the upload URL's scheme and host.
func jobURL(upload *url.URL, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		return nil, fmt.Errorf("CC's job has no usable url %q", raw)
	}
	if u.Host == "" {
		u.Scheme, u.Host = upload.Scheme, upload.Host
	}
	u.User = nil
	return u, nil
}

func (u *uploader) get(ctx context.Context, target *url.URL, user *url.Userinfo) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		return nil, err
	}
	setAuth(req, user)
	resp, err := u.deps.CC.Do(req)
	if err != nil {
		return nil, fmt.Errorf("polling CC's upload job: %w", err)
	}
	defer resp.Body.Close()
	payload, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("polling CC's upload job: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &httpError{status: resp.StatusCode, body: string(payload)}
	}
	return payload, nil
}

func randomBoundary() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
