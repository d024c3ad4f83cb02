// Package client is a Garden API client (spec cell §2) over TCP or a unix
// socket. Errors come back typed: the error JSON is mapped with
// (*garden.Error).Err, so an unknown handle is a garden.ContainerNotFoundError.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"diego/deploy/routes"
	"diego/garden"
)

// dialTimeout bounds connecting to garden; requests themselves have no
// deadline (streams and processes run as long as they run).
const dialTimeout = 10 * time.Second

// Client talks to one garden server. It implements garden.Client.
type Client struct {
	network, address string
	http             *http.Client
	reqGen           *routes.RequestGenerator
}

var _ garden.Client = (*Client)(nil)

// New returns a client for the garden at address on network: "tcp" with
// host:port, or "unix" with a socket path.
func New(network, address string) *Client {
	dialer := &net.Dialer{Timeout: dialTimeout}
	transport := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, address)
		},
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	// The host only names the connection pool; every connection is
	// dialled to network/address above.
	base := "http://garden"
	if network == "tcp" {
		base = "http://" + address
	}
	return &Client{
		network: network,
		address: address,
		http:    &http.Client{Transport: transport},
		reqGen:  routes.NewRequestGenerator(base, garden.Routes),
	}
}

// Ping checks the server and its backend.
func (c *Client) Ping() error {
	return c.do(garden.PingRoute, nil, nil, nil, nil)
}

// Capacity is the host's capacity.
func (c *Client) Capacity() (garden.Capacity, error) {
	var capacity garden.Capacity
	err := c.do(garden.CapacityRoute, nil, nil, nil, &capacity)
	return capacity, err
}

// Create makes a container.
func (c *Client) Create(spec garden.ContainerSpec) (garden.Container, error) {
	var resp garden.CreateResponse
	if err := c.do(garden.CreateRoute, nil, nil, spec, &resp); err != nil {
		return nil, err
	}
	return &container{handle: resp.Handle, client: c}, nil
}

// Destroy removes a container.
func (c *Client) Destroy(handle string) error {
	return c.do(garden.DestroyRoute, routes.Params{"handle": handle}, nil, nil, nil)
}

// Containers lists containers whose properties match the filter.
func (c *Client) Containers(filter garden.Properties) ([]garden.Container, error) {
	query := url.Values{}
	for k, v := range filter {
		query.Set(k, v)
	}
	var resp garden.ListResponse
	if err := c.do(garden.ListRoute, nil, query, nil, &resp); err != nil {
		return nil, err
	}
	containers := make([]garden.Container, 0, len(resp.Handles))
	for _, h := range resp.Handles {
		containers = append(containers, &container{handle: h, client: c})
	}
	return containers, nil
}

// BulkInfo is the info of several containers; a handle's failure is in its
// entry's Err.
func (c *Client) BulkInfo(handles []string) (map[string]garden.ContainerInfoEntry, error) {
	infos := map[string]garden.ContainerInfoEntry{}
	err := c.do(garden.BulkInfoRoute, nil, url.Values{"handles": {strings.Join(handles, ",")}}, nil, &infos)
	return infos, err
}

// BulkMetrics is the metrics of several containers; a handle's failure is
// in its entry's Err.
func (c *Client) BulkMetrics(handles []string) (map[string]garden.ContainerMetricsEntry, error) {
	metrics := map[string]garden.ContainerMetricsEntry{}
	err := c.do(garden.BulkMetricsRoute, nil, url.Values{"handles": {strings.Join(handles, ",")}}, nil, &metrics)
	return metrics, err
}

// Lookup returns the container called handle, or a
// garden.ContainerNotFoundError. Containers still being created count.
func (c *Client) Lookup(handle string) (garden.Container, error) {
	containers, err := c.Containers(garden.Properties{garden.StateProperty: garden.StateAll})
	if err != nil {
		return nil, err
	}
	for _, ct := range containers {
		if ct.Handle() == handle {
			return ct, nil
		}
	}
	return nil, garden.ContainerNotFoundError{Handle: handle}
}

// request builds the request for a route; body is JSON-encoded unless it
// is an io.Reader, which is sent as is.
func (c *Client) request(route string, params routes.Params, query url.Values, body any) (*http.Request, error) {
	var reader io.Reader
	contentType := ""
	switch b := body.(type) {
	case nil:
	case io.Reader:
		reader = b
		contentType = "application/x-tar"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("encoding %s request: %w", route, err)
		}
		reader = bytes.NewReader(data)
		contentType = "application/json"
	}
	req, err := c.reqGen.CreateRequest(route, params, reader)
	if err != nil {
		return nil, err
	}
	if len(query) > 0 {
		req.URL.RawQuery = query.Encode()
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req, nil
}

// do sends a request and decodes a JSON answer into out (nil: discard).
func (c *Client) do(route string, params routes.Params, query url.Values, body, out any) error {
	resp, err := c.send(route, params, query, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("garden %s: decoding response: %w", route, err)
	}
	return nil
}

// send sends a request and returns a successful response, whose body the
// caller closes; an error answer becomes its typed error.
func (c *Client) send(route string, params routes.Params, query url.Values, body any) (*http.Response, error) {
	req, err := c.request(route, params, query, body)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("garden %s: %w", route, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		return nil, errorFromResponse(resp)
	}
	return resp, nil
}

// errorFromResponse maps the error JSON of spec cell §2.1 back to its typed
// error; a body that is not error JSON gives a generic error naming the
// status.
func errorFromResponse(resp *http.Response) error {
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("garden: status %d: reading error body: %w", resp.StatusCode, err)
	}
	var e garden.Error
	if json.Unmarshal(data, &e) == nil && (e.Message != "" || e.Type != "") {
		return e.Err()
	}
	return fmt.Errorf("garden: unexpected status %d: %s", resp.StatusCode, strings.TrimSpace(string(data)))
}

// errUnexpected is for answers the protocol does not allow.
var errUnexpected = errors.New("unexpected answer from garden")

// errPersistentConnectionClosed is the text of net/http/httputil's
// ErrPersistEOF, which Diego's Garden client returns for a hijacked reply
// marked to close.
var errPersistentConnectionClosed = errors.New("persistent connection closed")
