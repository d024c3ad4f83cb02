// Package client is the Go client of the receptor's 2015 JSON API (spec
// core §3.5). Every failure the receptor reports comes back as a
// *receptor.Error carrying its error name.
package client

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

	"diego/deploy/dialer"
	"diego/deploy/routes"
	"diego/deploy/tlsconfig"
	"diego/receptor"
)

// Config says where the receptor is and how to authenticate.
type Config struct {
	// URL is http://host:port or https://host:port.
	URL string
	// Username and Password are sent as basic auth when Username is set.
	Username, Password string
	// CAFile verifies an https receptor's certificate (optional).
	CAFile string
	// Timeout bounds each request (not event streams); 0 means 30s.
	Timeout time.Duration
}

// MaxIdleConns is how many idle connections a client keeps to its receptor:
// more than the requests any caller keeps in flight at once (B2's harness
// keeps 200; the CC bridge's workers fewer).
const MaxIdleConns = 1000

// Client calls one receptor.
type Client struct {
	cfg        Config
	gen        *routes.RequestGenerator
	http       *http.Client
	streamHTTP *http.Client
}

// New builds a client.
func New(cfg Config) (*Client, error) {
	if !strings.HasPrefix(cfg.URL, "http://") && !strings.HasPrefix(cfg.URL, "https://") {
		return nil, fmt.Errorf("receptor client: URL %q must start with http:// or https://", cfg.URL)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	// Any receptor of receptor.service.cf.internal will do (decision 110).
	// The idle pool holds as many connections as a busy caller has requests
	// in flight, so that none is closed after one request and dialled again
	// (decisions 161, 200); unused ones close after IdleConnTimeout.
	transport := &http.Transport{Proxy: http.ProxyFromEnvironment, DialContext: dialer.New().DialContext,
		MaxIdleConnsPerHost: MaxIdleConns, IdleConnTimeout: 90 * time.Second}
	if cfg.CAFile != "" {
		tc, err := tlsconfig.ClientConfig("", "", cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("receptor client TLS: %w", err)
		}
		transport.TLSClientConfig = tc
	}
	return &Client{
		cfg:        cfg,
		gen:        routes.NewRequestGenerator(cfg.URL, receptor.Routes),
		http:       &http.Client{Transport: transport, Timeout: cfg.Timeout},
		streamHTTP: &http.Client{Transport: transport.Clone()},
	}, nil
}

// request is one call: a route, its params, an optional query, body and
// headers.
type request struct {
	route   string
	params  routes.Params
	query   url.Values
	body    any
	headers http.Header
}

func (c *Client) newRequest(ctx context.Context, req request) (*http.Request, error) {
	var body io.Reader
	if req.body != nil {
		payload, err := json.Marshal(req.body)
		if err != nil {
			return nil, fmt.Errorf("receptor %s: encoding request: %w", req.route, err)
		}
		body = bytes.NewReader(payload)
	}
	httpReq, err := c.gen.CreateRequest(req.route, req.params, body)
	if err != nil {
		return nil, err
	}
	httpReq = httpReq.WithContext(ctx)
	if len(req.query) > 0 {
		httpReq.URL.RawQuery = req.query.Encode()
	}
	if req.body != nil {
		httpReq.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range req.headers {
		for _, v := range vs {
			httpReq.Header.Add(k, v)
		}
	}
	if c.cfg.Username != "" {
		httpReq.SetBasicAuth(c.cfg.Username, c.cfg.Password)
	}
	return httpReq, nil
}

// do sends a request and decodes a 2xx JSON body into out (when not nil);
// any other status becomes a *receptor.Error.
func (c *Client) do(ctx context.Context, req request, out any) error {
	_, err := c.doResponse(ctx, req, out)
	return err
}

func (c *Client) doResponse(ctx context.Context, req request, out any) (*http.Response, error) {
	httpReq, err := c.newRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(httpReq)
	if err != nil {
		return nil, fmt.Errorf("receptor %s: %w", req.route, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp, fmt.Errorf("receptor %s: reading response: %w", req.route, err)
	}
	if err := responseError(resp, body); err != nil {
		return resp, err
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return resp, receptor.NewError(receptor.InvalidJSON, fmt.Sprintf("receptor %s: %s", req.route, err))
		}
	}
	return resp, nil
}

// responseError turns a non-2xx answer into the receptor's error, or an
// InvalidResponse when the body names none.
func responseError(resp *http.Response, body []byte) error {
	if msg := resp.Header.Get("X-Cf-Routererror"); msg != "" {
		return receptor.NewError(receptor.RouterError, msg)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	var e receptor.Error
	if json.Unmarshal(body, &e) == nil && e.Type != "" {
		return &e
	}
	return receptor.NewError(receptor.InvalidResponse, fmt.Sprintf("Invalid Response with status code: %d", resp.StatusCode))
}

func domainQuery(domain string) url.Values {
	if domain == "" {
		return nil
	}
	return url.Values{"domain": {domain}}
}

// CreateTask desires a task.
func (c *Client) CreateTask(ctx context.Context, req receptor.TaskCreateRequest) error {
	return c.do(ctx, request{route: receptor.CreateTaskRoute, body: req}, nil)
}

// Tasks lists every task.
func (c *Client) Tasks(ctx context.Context) ([]receptor.TaskResponse, error) {
	return c.TasksByDomain(ctx, "")
}

// TasksByDomain lists the tasks of one domain.
func (c *Client) TasksByDomain(ctx context.Context, domain string) ([]receptor.TaskResponse, error) {
	var out []receptor.TaskResponse
	err := c.do(ctx, request{route: receptor.TasksRoute, query: domainQuery(domain)}, &out)
	return out, err
}

// GetTask returns one task.
func (c *Client) GetTask(ctx context.Context, taskGuid string) (receptor.TaskResponse, error) {
	var out receptor.TaskResponse
	err := c.do(ctx, request{route: receptor.GetTaskRoute, params: routes.Params{"task_guid": taskGuid}}, &out)
	return out, err
}

// DeleteTask resolves and deletes a completed task.
func (c *Client) DeleteTask(ctx context.Context, taskGuid string) error {
	return c.do(ctx, request{route: receptor.DeleteTaskRoute, params: routes.Params{"task_guid": taskGuid}}, nil)
}

// CancelTask cancels a pending or running task.
func (c *Client) CancelTask(ctx context.Context, taskGuid string) error {
	return c.do(ctx, request{route: receptor.CancelTaskRoute, params: routes.Params{"task_guid": taskGuid}}, nil)
}

// CreateDesiredLRP desires an LRP.
func (c *Client) CreateDesiredLRP(ctx context.Context, req receptor.DesiredLRPCreateRequest) error {
	return c.do(ctx, request{route: receptor.CreateDesiredLRPRoute, body: req}, nil)
}

// GetDesiredLRP returns one desired LRP.
func (c *Client) GetDesiredLRP(ctx context.Context, processGuid string) (receptor.DesiredLRPResponse, error) {
	var out receptor.DesiredLRPResponse
	err := c.do(ctx, request{route: receptor.GetDesiredLRPRoute, params: routes.Params{"process_guid": processGuid}}, &out)
	return out, err
}

// UpdateDesiredLRP changes instances, routes or annotation.
func (c *Client) UpdateDesiredLRP(ctx context.Context, processGuid string, req receptor.DesiredLRPUpdateRequest) error {
	return c.do(ctx, request{route: receptor.UpdateDesiredLRPRoute, params: routes.Params{"process_guid": processGuid}, body: req}, nil)
}

// DeleteDesiredLRP removes a desired LRP (its instances stop).
func (c *Client) DeleteDesiredLRP(ctx context.Context, processGuid string) error {
	return c.do(ctx, request{route: receptor.DeleteDesiredLRPRoute, params: routes.Params{"process_guid": processGuid}}, nil)
}

// DesiredLRPs lists every desired LRP.
func (c *Client) DesiredLRPs(ctx context.Context) ([]receptor.DesiredLRPResponse, error) {
	return c.DesiredLRPsByDomain(ctx, "")
}

// DesiredLRPsByDomain lists the desired LRPs of one domain.
func (c *Client) DesiredLRPsByDomain(ctx context.Context, domain string) ([]receptor.DesiredLRPResponse, error) {
	var out []receptor.DesiredLRPResponse
	err := c.do(ctx, request{route: receptor.DesiredLRPsRoute, query: domainQuery(domain)}, &out)
	return out, err
}

// ActualLRPs lists every index of every LRP.
func (c *Client) ActualLRPs(ctx context.Context) ([]receptor.ActualLRPResponse, error) {
	return c.ActualLRPsByDomain(ctx, "")
}

// ActualLRPsByDomain lists the actual LRPs of one domain.
func (c *Client) ActualLRPsByDomain(ctx context.Context, domain string) ([]receptor.ActualLRPResponse, error) {
	var out []receptor.ActualLRPResponse
	err := c.do(ctx, request{route: receptor.ActualLRPsRoute, query: domainQuery(domain)}, &out)
	return out, err
}

// ActualLRPsByProcessGuid lists the indices of one LRP.
func (c *Client) ActualLRPsByProcessGuid(ctx context.Context, processGuid string) ([]receptor.ActualLRPResponse, error) {
	var out []receptor.ActualLRPResponse
	err := c.do(ctx, request{route: receptor.ActualLRPsByProcessGuidRoute, params: routes.Params{"process_guid": processGuid}}, &out)
	return out, err
}

func indexParams(processGuid string, index int) routes.Params {
	return routes.Params{"process_guid": processGuid, "index": strconv.Itoa(index)}
}

// ActualLRPByProcessGuidAndIndex returns one index; a missing one is an
// ActualLRPIndexNotFound error (the receptor answers 404 with null).
func (c *Client) ActualLRPByProcessGuidAndIndex(ctx context.Context, processGuid string, index int) (receptor.ActualLRPResponse, error) {
	var out receptor.ActualLRPResponse
	resp, err := c.doResponse(ctx, request{route: receptor.ActualLRPByProcessGuidAndIndexRoute, params: indexParams(processGuid, index)}, &out)
	if resp != nil && resp.StatusCode == http.StatusNotFound {
		return out, receptor.NewError(receptor.ActualLRPIndexNotFound,
			fmt.Sprintf("process-guid '%s' does not exist or has no instance at index %d", processGuid, index))
	}
	return out, err
}

// KillActualLRPByProcessGuidAndIndex stops one index; it is restarted.
func (c *Client) KillActualLRPByProcessGuidAndIndex(ctx context.Context, processGuid string, index int) error {
	return c.do(ctx, request{route: receptor.KillActualLRPByProcessGuidAndIndexRoute, params: indexParams(processGuid, index)}, nil)
}

// Cells lists the present cells.
func (c *Client) Cells(ctx context.Context) ([]receptor.CellResponse, error) {
	var out []receptor.CellResponse
	err := c.do(ctx, request{route: receptor.CellsRoute}, &out)
	return out, err
}

// UpsertDomain marks a domain fresh for ttl (0: forever), rounded up to
// whole seconds so that a short TTL never becomes "forever".
func (c *Client) UpsertDomain(ctx context.Context, domain string, ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("domain %s: the TTL must not be negative (0 means forever)", domain)
	}
	var headers http.Header
	if ttl > 0 {
		seconds := (ttl + time.Second - 1) / time.Second
		headers = http.Header{"Cache-Control": {fmt.Sprintf("max-age=%d", int64(seconds))}}
	}
	return c.do(ctx, request{route: receptor.UpsertDomainRoute, params: routes.Params{"domain": domain}, headers: headers}, nil)
}

// Domains lists the fresh domains.
func (c *Client) Domains(ctx context.Context) ([]string, error) {
	var out []string
	err := c.do(ctx, request{route: receptor.DomainsRoute}, &out)
	return out, err
}

// AuthCookie asks for the receptor_authorization cookie standing for this
// client's credentials.
func (c *Client) AuthCookie(ctx context.Context) (*http.Cookie, error) {
	resp, err := c.doResponse(ctx, request{route: receptor.CreateAuthCookieRoute}, nil)
	if err != nil {
		return nil, err
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == receptor.AuthorizationCookieName {
			return ck, nil
		}
	}
	return nil, receptor.NewError(receptor.InvalidResponse, "no "+receptor.AuthorizationCookieName+" cookie in the response")
}

// Version returns the receptor's version information.
func (c *Client) Version(ctx context.Context) (receptor.VersionResponse, error) {
	var out receptor.VersionResponse
	err := c.do(ctx, request{route: receptor.VersionRoute}, &out)
	return out, err
}
