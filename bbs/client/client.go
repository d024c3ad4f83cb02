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

// Client calls one BBS (or a load balancer in front of several).
type Client struct {
	gen        *routes.RequestGenerator
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
		MaxIdleConnsPerHost: 100,
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
	return &Client{
		gen:        routes.NewRequestGenerator(cfg.URL, bbs.Routes),
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
	body, err := io.ReadAll(httpResp.Body)
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
	var body io.Reader
	if req != nil {
		payload, err := proto.Marshal(req)
		if err != nil {
			return nil, fmt.Errorf("bbs %s: encoding request: %w", route, err)
		}
		body = bytes.NewReader(payload)
	}
	httpReq, err := c.gen.CreateRequest(route, nil, body)
	if err != nil {
		return nil, err
	}
	httpReq = httpReq.WithContext(ctx)
	if req != nil {
		httpReq.Header.Set("Content-Type", protobufContentType)
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
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if ct != protobufContentType && ct != "text/event-stream" {
		return models.NewError(models.Error_InvalidResponse, fmt.Sprintf("Invalid Response with content type: %q", ct))
	}
	return nil
}
