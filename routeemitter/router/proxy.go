package router

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// The X-Cf-Routererror values gorouter sends.
const (
	routerErrorHeader = "X-Cf-RouterError"
	unknownRoute      = "unknown_route"
	endpointFailure   = "endpoint_failure"
)

type endpointsKey struct{}

// Proxy routes requests by Host header (and path prefix) to the registered
// endpoints, round-robin, on net/http/httputil.ReverseProxy; websocket
// upgrades pass through it.
type Proxy struct {
	registry *Registry
	logger   *slog.Logger
	proxy    *httputil.ReverseProxy
}

// NewProxy builds the proxy; dialTimeout bounds the connect to one
// endpoint before the next is tried.
func NewProxy(logger *slog.Logger, registry *Registry, dialTimeout time.Duration) *Proxy {
	dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	base := &http.Transport{
		DialContext:         dialer.DialContext,
		MaxIdleConnsPerHost: 100,
		IdleConnTimeout:     90 * time.Second,
	}
	tlsBase := base.Clone()
	p := &Proxy{registry: registry, logger: logger}
	p.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetXForwarded()
			if proto := pr.In.Header.Get("X-Forwarded-Proto"); proto != "" {
				pr.Out.Header.Set("X-Forwarded-Proto", proto)
			}
			pr.Out.Host = pr.In.Host
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", "endpoint"
		},
		Transport:     &retrying{base: base, tlsBase: tlsBase},
		FlushInterval: -1,
		ErrorLog:      slog.NewLogLogger(logger.Handler(), slog.LevelInfo),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			logger.Error("endpoint-failed", "host", r.Host, "error", err)
			w.Header()[routerErrorHeader] = []string{endpointFailure}
			http.Error(w, "502 Bad Gateway: Registered endpoint failed to handle the request.", http.StatusBadGateway)
		},
	}
	return p
}

// ServeHTTP answers 404 unknown_route for a host nobody registered, and
// proxies the rest with gorouter's request headers.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := r.Header.Get("X-Vcap-Request-Id")
	if requestID == "" {
		requestID = uuid.NewString()
	}
	r.Header.Set("X-Vcap-Request-Id", requestID)
	r.Header.Set("X-Request-Start", strconv.FormatInt(time.Now().UnixMilli(), 10))
	endpoints := p.registry.Lookup(r.Host, r.URL.Path)
	if len(endpoints) == 0 {
		w.Header()[routerErrorHeader] = []string{unknownRoute}
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		http.Error(w, fmt.Sprintf("404 Not Found: Requested route ('%s') does not exist.", host), http.StatusNotFound)
		return
	}
	p.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), endpointsKey{}, endpoints)))
}

// retrying sends a request to the first of its endpoints and, when a
// connection cannot even be made (nothing was sent), to the next.
type retrying struct {
	base, tlsBase *http.Transport
}

func (t *retrying) RoundTrip(r *http.Request) (*http.Response, error) {
	endpoints, _ := r.Context().Value(endpointsKey{}).([]Endpoint)
	var errs []error
	for _, e := range endpoints {
		out := r.Clone(r.Context())
		out.URL.Host = e.Addr
		transport := t.base
		if e.TLS {
			out.URL.Scheme = "https"
			transport = t.tlsBase
			if transport.TLSClientConfig == nil || transport.TLSClientConfig.ServerName != e.ServerCertSAN {
				// One transport per SAN would be kinder to connection reuse;
				// TLS endpoints are rare here.
				transport = t.tlsBase.Clone()
				transport.TLSClientConfig = &tls.Config{ServerName: e.ServerCertSAN, MinVersion: tls.VersionTLS12}
			}
		}
		if e.App != "" {
			out.Header["X-CF-ApplicationID"] = []string{e.App}
		}
		if e.InstanceIndex != "" {
			out.Header["X-CF-InstanceIndex"] = []string{e.InstanceIndex}
		}
		if e.InstanceID != "" {
			out.Header["X-CF-InstanceID"] = []string{e.InstanceID}
		}
		resp, err := transport.RoundTrip(out)
		if err == nil {
			return resp, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", e.Addr, err))
		var op *net.OpError
		if !errors.As(err, &op) || op.Op != "dial" || r.Context().Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}
