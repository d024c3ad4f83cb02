// Package client reads the doppler's traffic-controller routes the way the
// noaa consumer (what `cf logs` uses) does: recent logs and container
// metrics as multipart/x-protobuf, and the live stream over a websocket.
package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"diego/deploy/routes"
	"diego/metron"
	"diego/metron/events"
)

// Config says where the doppler is and how to authorize.
type Config struct {
	// URL is the doppler's http:// address.
	URL string
	// Authorization is sent verbatim (e.g. "bearer TOKEN"); empty sends none.
	Authorization string
	// Timeout bounds the multipart reads (not the stream).
	Timeout time.Duration
	// Origin, when set, is the stream handshake's Origin header (the cf
	// CLI sends http://localhost).
	Origin string
}

// Client is a doppler consumer.
type Client struct {
	cfg  Config
	reqs *routes.RequestGenerator
	http *http.Client
}

// Error is a refusal by the doppler (401, 403, 404, 503...).
type Error struct {
	StatusCode int
	Body       string
}

func (e *Error) Error() string {
	return fmt.Sprintf("doppler answered %d %s", e.StatusCode, strings.TrimSpace(e.Body))
}

// New builds a client.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("doppler URL %q must be http(s)://host:port", cfg.URL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &Client{cfg: cfg, reqs: routes.NewRequestGenerator(strings.TrimSuffix(cfg.URL, "/"), metron.Routes),
		http: &http.Client{Timeout: cfg.Timeout}}, nil
}

// As is a client that sends authorization instead of the configured one,
// over the same connections: a server passing on its own callers'
// Authorization header (TPS's stats route) makes one per request.
func (c *Client) As(authorization string) *Client {
	cp := *c
	cp.cfg.Authorization = authorization
	return &cp
}

// RecentLogs returns an app's kept logs sorted by timestamp (noaa's
// SortRecent).
func (c *Client) RecentLogs(ctx context.Context, appID string) ([]*events.Envelope, error) {
	envs, err := c.multipart(ctx, metron.RecentLogsRoute, appID)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(envs, func(i, j int) bool {
		return envs[i].GetLogMessage().GetTimestamp() < envs[j].GetLogMessage().GetTimestamp()
	})
	return envs, nil
}

// ContainerMetrics returns the latest metric of each instance of an app.
func (c *Client) ContainerMetrics(ctx context.Context, appID string) ([]*events.Envelope, error) {
	return c.multipart(ctx, metron.ContainerMetricsRoute, appID)
}

func (c *Client) multipart(ctx context.Context, route, appID string) ([]*events.Envelope, error) {
	req, err := c.reqs.CreateRequest(route, routes.Params{"app_id": appID}, nil)
	if err != nil {
		return nil, err
	}
	req = req.WithContext(ctx)
	if c.cfg.Authorization != "" {
		req.Header.Set("Authorization", c.cfg.Authorization)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", route, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return nil, &Error{StatusCode: resp.StatusCode, Body: string(body)}
	}
	mediaType, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/x-protobuf" || params["boundary"] == "" {
		return nil, fmt.Errorf("reading %s: unexpected content type %q", route, resp.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	var out []*events.Envelope
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", route, err)
		}
		b, err := io.ReadAll(part)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", route, err)
		}
		env, err := metron.DecodeEnvelope(b)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", route, err)
		}
		out = append(out, env)
	}
}

// Stream tails an app's envelopes until ctx ends or the doppler closes;
// the error channel gets one value (nil on ctx's end) and then closes.
func (c *Client) Stream(ctx context.Context, appID string) (<-chan *events.Envelope, <-chan error, error) {
	path, err := streamPath(routes.Params{"app_id": appID})
	if err != nil {
		return nil, nil, err
	}
	wsURL := "ws" + strings.TrimPrefix(strings.TrimSuffix(c.cfg.URL, "/"), "http") + path
	header := http.Header{}
	if c.cfg.Authorization != "" {
		header.Set("Authorization", c.cfg.Authorization)
	}
	if c.cfg.Origin != "" {
		header.Set("Origin", c.cfg.Origin)
	}
	conn, resp, err := websocket.DefaultDialer.DialContext(ctx, wsURL, header)
	if err != nil {
		if resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			resp.Body.Close()
			return nil, nil, &Error{StatusCode: resp.StatusCode, Body: string(body)}
		}
		return nil, nil, fmt.Errorf("streaming %s: %w", appID, err)
	}
	out := make(chan *events.Envelope, 64)
	errs := make(chan error, 1)
	go func() { <-ctx.Done(); conn.Close() }()
	go func() {
		defer close(errs)
		defer close(out)
		for {
			_, b, err := conn.ReadMessage()
			if err != nil {
				if ctx.Err() != nil || websocket.IsCloseError(err, websocket.CloseNormalClosure) {
					errs <- nil
				} else {
					errs <- fmt.Errorf("streaming %s: %w", appID, err)
				}
				return
			}
			env, err := metron.DecodeEnvelope(b)
			if err != nil {
				continue // one bad message does not end a tail
			}
			select {
			case out <- env:
			case <-ctx.Done():
				errs <- nil
				return
			}
		}
	}()
	return out, errs, nil
}

func streamPath(p routes.Params) (string, error) {
	r, _ := metron.Routes.Lookup(metron.StreamRoute)
	return r.CreatePath(p)
}
