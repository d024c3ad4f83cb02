// Package client is the BBS API client every other diego daemon uses:
// protobuf over HTTP(S), with mutual TLS when the URL is https (spec core
// §3.1–§3.4).
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"diego/bbs"
	"diego/deploy/dialer"
	"diego/deploy/routes"
	"diego/deploy/tlsconfig"
	"diego/models"

	"google.golang.org/protobuf/proto"
)

// Config says where the BBS is and how to reach it.
type Config struct {
	// URL is http://host:port (development) or https://host:port (mutual TLS).
	URL string
	// CAFile, CertFile and KeyFile are the TLS files for an https URL.
	CAFile, CertFile, KeyFile string
	// Timeout bounds each request (not event streams); 0 means DefaultTimeout.
	Timeout time.Duration
}

// DefaultTimeout bounds a BBS request when Config.Timeout is 0.
const DefaultTimeout = 10 * time.Second

const protobufContentType = "application/x-protobuf"

// MaxIdleConns is how many idle connections a client keeps to its BBS: more
// than any caller here has requests in flight (the receptor forwards up to
// its callers' concurrency), so a burst's connections serve the next one
// instead of closing and being dialled again (decision 202). Idle ones close
// after 90 s.
const MaxIdleConns = 1000

// Client calls one BBS (or a load balancer in front of several).
type Client struct {
	// requests holds one request per route, built from the shared route
	// table once: a call clones its route's instead of parsing the URL again.
	requests   map[string]*http.Request
	http       *http.Client
	streamHTTP *http.Client
}

// New builds a client; an https URL needs the TLS files.
func New(cfg Config) (*Client, error) {
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	transport := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         dialer.New().DialContext,
		MaxIdleConnsPerHost: MaxIdleConns,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	if strings.HasPrefix(cfg.URL, "https://") {
		tc, err := tlsconfig.ClientConfig(cfg.CertFile, cfg.KeyFile, cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("bbs client TLS: %w", err)
		}
		transport.TLSClientConfig = tc
	} else if !strings.HasPrefix(cfg.URL, "http://") {
		return nil, fmt.Errorf("bbs client: URL %q must start with http:// or https://", cfg.URL)
	}
	gen := routes.NewRequestGenerator(cfg.URL, bbs.Routes)
	requests := make(map[string]*http.Request, len(bbs.Routes))
	for _, r := range bbs.Routes {
		req, err := gen.CreateRequest(r.Name, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("bbs client: %w", err)
		}
		requests[r.Name] = req
	}
	return &Client{
		requests:   requests,
		http:       &http.Client{Transport: transport, Timeout: cfg.Timeout},
		streamHTTP: &http.Client{Transport: transport.Clone()},
	}, nil
}

// TLSConfig exposes the client's TLS settings (nil for http), for tests and
// for daemons that dial the BBS themselves.
func (c *Client) TLSConfig() *tls.Config {
	return c.http.Transport.(*http.Transport).TLSClientConfig
}

type traceIDKey struct{}

// WithTraceID makes every request made with ctx carry X-Vcap-Request-Id.
func WithTraceID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, traceIDKey{}, id)
}

// response is every BBS response message: field 1 is the error.
type response interface {
	proto.Message
	GetError() *models.Error
}

// Attempts and retryDelay: like diego's client, a request that gets no
// answer from a BBS is sent up to three times, half a second apart
// (decision 110), so that a client whose BBS just vanished reaches another
// instead of failing its caller.
const (
	Attempts   = 3
	retryDelay = 500 * time.Millisecond
)

// do sends one RPC and decodes its response; a domain error comes back as
// the *models.Error the BBS set.
func (c *Client) do(ctx context.Context, route string, req proto.Message, resp response) error {
	httpResp, err := c.sendRetrying(ctx, route, req)
	if err != nil {
		return err
	}
	defer httpResp.Body.Close()
	buf := routes.GetBuffer()
	defer routes.PutBuffer(buf)
	body, err := routes.ReadBody(*buf, httpResp.Body, httpResp.ContentLength, maxPresize)
	*buf = body
	if err != nil {
		return fmt.Errorf("bbs %s: reading response: %w", route, err)
	}
	if err := proto.Unmarshal(body, resp); err != nil {
		return models.NewError(models.Error_InvalidProtobufMessage, fmt.Sprintf("bbs %s: %s", route, err))
	}
	if e := resp.GetError(); e != nil {
		return e
	}
	return nil
}

// sendRetrying sends a request until a BBS answers it, at most Attempts
// times.
func (c *Client) sendRetrying(ctx context.Context, route string, req proto.Message) (*http.Response, error) {
	for attempt := 1; ; attempt++ {
		httpResp, err := c.send(ctx, c.http, route, req)
		var unanswered *transportError
		if err == nil || !errors.As(err, &unanswered) || attempt == Attempts || ctx.Err() != nil {
			return httpResp, err
		}
		// The pool's other connections may lead to the same dead BBS:
		// drop them, so the next attempt dials (and skips it).
		c.http.CloseIdleConnections()
		select {
		case <-ctx.Done():
		case <-time.After(retryDelay):
		}
	}
}

// send posts req and checks that the answer is a protobuf 200.
func (c *Client) send(ctx context.Context, hc *http.Client, route string, req proto.Message) (*http.Response, error) {
	tmpl, ok := c.requests[route]
	if !ok {
		return nil, fmt.Errorf("unknown route %q", route)
	}
	httpReq := tmpl.Clone(ctx)
	if req != nil {
		payload, err := proto.Marshal(req)
		if err != nil {
			return nil, fmt.Errorf("bbs %s: encoding request: %w", route, err)
		}
		setBody(httpReq, payload)
		httpReq.Header["Content-Type"] = protobufContentTypeHeader
	}
	if id, ok := ctx.Value(traceIDKey{}).(string); ok && id != "" {
		httpReq.Header.Set("X-Vcap-Request-Id", id)
	}
	resp, err := hc.Do(httpReq)
	if err != nil {
		return nil, &transportError{route: route, err: err}
	}
	if err := checkResponse(resp); err != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64*1024))
		resp.Body.Close()
		return nil, err
	}
	return resp, nil
}

// setBody gives r the body payload as http.NewRequest does for a
// *bytes.Reader: its length, and GetBody so the transport can resend it on
// a pooled connection that turns out to be closed.
func setBody(r *http.Request, payload []byte) {
	r.ContentLength = int64(len(payload))
	if len(payload) == 0 {
		r.Body, r.GetBody = http.NoBody, func() (io.ReadCloser, error) { return http.NoBody, nil }
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(payload))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(payload)), nil }
}

// protobufContentTypeHeader is the Content-Type of every request with a
// body, shared so setting it allocates nothing (the transport only reads it).
var protobufContentTypeHeader = []string{protobufContentType}

// maxPresize bounds what a declared length alone may make the client
// allocate for a response.
const maxPresize = 16 << 20

// transportError is a request that got no answer from a BBS (it could not
// connect, or the connection failed or timed out before a response).
type transportError struct {
	route string
	err   error
}

func (e *transportError) Error() string { return fmt.Sprintf("bbs %s: %s", e.route, e.err) }
func (e *transportError) Unwrap() error { return e.err }

// checkResponse maps what is not a protobuf 200 to the spec's client-side
// errors: RouterError, "endpoint not found", InvalidResponse.
func checkResponse(resp *http.Response) error {
	if msg := resp.Header.Get("X-Cf-Routererror"); msg != "" {
		return models.NewError(models.Error_RouterError, msg)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return models.NewError(models.Error_InvalidResponse, "endpoint not found")
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return models.NewError(models.Error_InvalidResponse, fmt.Sprintf("Invalid Response with status code: %d", resp.StatusCode))
	}
	ct := resp.Header.Get("Content-Type")
	if ct != protobufContentType {
		ct, _, _ = mime.ParseMediaType(ct)
	}
	if ct != protobufContentType && ct != "text/event-stream" {
		return models.NewError(models.Error_InvalidResponse, fmt.Sprintf("Invalid Response with content type: %q", ct))
	}
	return nil
}
