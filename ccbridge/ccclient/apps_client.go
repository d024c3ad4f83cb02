package ccclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"diego/deploy/routes"
)

// AppsConfig says where the CC's internal API is and how to authenticate.
type AppsConfig struct {
	// BaseURL is http://host:port of the CC's internal API.
	BaseURL string
	// Username and Password are sent as basic auth when Username is set.
	Username, Password string
	// Timeout bounds each request; 0 means 30s.
	Timeout time.Duration
}

// AppsClient calls the CC's bulk app API and its app report routes.
type AppsClient struct {
	cfg  AppsConfig
	gen  *routes.RequestGenerator
	http *http.Client
}

// NewAppsClient builds a client.
func NewAppsClient(cfg AppsConfig) (*AppsClient, error) {
	if !strings.HasPrefix(cfg.BaseURL, "http://") && !strings.HasPrefix(cfg.BaseURL, "https://") {
		return nil, fmt.Errorf("cc client: URL %q must start with http:// or https://", cfg.BaseURL)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &AppsClient{
		cfg:  cfg,
		gen:  routes.NewRequestGenerator(cfg.BaseURL, AppRoutes),
		http: &http.Client{Timeout: cfg.Timeout},
	}, nil
}

// StatusError is a CC answer with an unexpected status.
type StatusError struct {
	Route  string
	Status int
	Body   string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("cc %s: status %d: %s", e.Route, e.Status, e.Body)
}

// InitialToken is the first bulk token: the raw JSON {} (spec bridge §3.4).
var InitialToken = json.RawMessage(`{}`)

// Fingerprints fetches one page of fingerprints after token.
func (c *AppsClient) Fingerprints(ctx context.Context, token json.RawMessage, batchSize int) (CCDesiredStateFingerprintResponse, error) {
	var out CCDesiredStateFingerprintResponse
	query := url.Values{
		"batch_size": {strconv.Itoa(batchSize)},
		"format":     {"fingerprint"},
		"token":      {string(token)},
	}
	err := c.call(ctx, BulkAppsRoute, nil, query, nil, &out)
	if err != nil {
		return out, err
	}
	if len(out.Token) == 0 || string(out.Token) == "null" {
		return out, fmt.Errorf("cc %s: the answer has no token", BulkAppsRoute)
	}
	return out, nil
}

// DesireAppRequests fetches the desire-app messages of the given process
// guids; guids the CC no longer knows are left out of the answer.
func (c *AppsClient) DesireAppRequests(ctx context.Context, processGuids []string) ([]DesireAppRequestFromCC, error) {
	var out []DesireAppRequestFromCC
	if processGuids == nil {
		processGuids = []string{}
	}
	err := c.call(ctx, BulkAppsByGuidsRoute, nil, nil, processGuids, &out)
	return out, err
}

// AppCrashed reports a crashed instance.
func (c *AppsClient) AppCrashed(ctx context.Context, processGuid string, req AppCrashedRequest) error {
	return c.call(ctx, AppCrashedRoute, routes.Params{"process_guid": processGuid}, nil, req, nil)
}

// AppRescheduling reports an instance rescheduled off an evacuating cell.
func (c *AppsClient) AppRescheduling(ctx context.Context, processGuid string, req AppReschedulingRequest) error {
	return c.call(ctx, AppReschedulingRoute, routes.Params{"process_guid": processGuid}, nil, req, nil)
}

// AppReadinessChanged reports an instance's readiness flip.
func (c *AppsClient) AppReadinessChanged(ctx context.Context, processGuid string, req AppReadinessChangedRequest) error {
	return c.call(ctx, AppReadinessChangedRoute, routes.Params{"process_guid": processGuid}, nil, req, nil)
}

// call sends one request and decodes a 200 answer into out; every other
// status is a *StatusError.
func (c *AppsClient) call(ctx context.Context, route string, params routes.Params, query url.Values, body, out any) error {
	var reader io.Reader
	if body != nil {
		payload, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("cc %s: encoding request: %w", route, err)
		}
		reader = bytes.NewReader(payload)
	}
	req, err := c.gen.CreateRequest(route, params, reader)
	if err != nil {
		return err
	}
	req = req.WithContext(ctx)
	if query != nil {
		req.URL.RawQuery = query.Encode()
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.cfg.Username != "" {
		req.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cc %s: %w", route, err)
	}
	defer resp.Body.Close()
	payload, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("cc %s: reading answer: %w", route, err)
	}
	if resp.StatusCode != http.StatusOK {
		return &StatusError{Route: route, Status: resp.StatusCode, Body: strings.TrimSpace(string(payload))}
	}
	if out != nil {
		if err := json.Unmarshal(payload, out); err != nil {
			return fmt.Errorf("cc %s: decoding answer: %w", route, err)
		}
	}
	return nil
}
