// Package client is the executor API's client (spec cell §3.2), used by the
// rep. Errors named in X-Executor-Error come back as the executor's own
// error values, so callers compare with errors.Is.
package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"diego/deploy/routes"
	"diego/deploy/sse"
	"diego/executor"
)

// Client talks to one executor.
type Client struct {
	reqs      *routes.RequestGenerator
	http      *http.Client
	streaming *http.Client
}

// New returns a client of the executor at baseURL (e.g.
// "http://127.0.0.1:1700"); timeout bounds every call but the event stream
// and file streams.
func New(baseURL string, timeout time.Duration) *Client {
	transport := &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}
	return &Client{
		reqs:      routes.NewRequestGenerator(baseURL, executor.Routes),
		http:      &http.Client{Transport: transport, Timeout: timeout},
		streaming: &http.Client{Transport: transport},
	}
}

func (c *Client) do(hc *http.Client, route string, params routes.Params, query url.Values, body, out any, okStatus int) (*http.Response, error) {
	var reader io.Reader
	if body != nil {
		encoded, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		reader = bytes.NewReader(encoded)
	}
	req, err := c.reqs.CreateRequest(route, params, reader)
	if err != nil {
		return nil, err
	}
	if query != nil {
		req.URL.RawQuery = query.Encode()
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("executor %s: %w", route, err)
	}
	if resp.StatusCode != okStatus {
		defer resp.Body.Close()
		if e := executor.ErrorByName(resp.Header.Get(executor.ErrorHeader)); e != nil {
			return nil, e
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("executor %s: status %d: %s", route, resp.StatusCode, bytes.TrimSpace(msg))
	}
	if out == nil {
		return resp, nil
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return nil, fmt.Errorf("executor %s: decoding answer: %w", route, err)
	}
	return resp, nil
}

func (c *Client) call(route string, params routes.Params, query url.Values, body, out any, okStatus int) error {
	resp, err := c.do(c.http, route, params, query, body, out, okStatus)
	if err == nil && out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return err
}

// Ping reports whether the executor is healthy.
func (c *Client) Ping() error {
	return c.call(executor.PingRoute, nil, nil, nil, nil, http.StatusOK)
}

// AllocateContainers reserves containers and returns those that failed.
func (c *Client) AllocateContainers(requests []executor.AllocationRequest) ([]executor.AllocationFailure, error) {
	var failures []executor.AllocationFailure
	err := c.call(executor.AllocateContainersRoute, nil, nil, requests, &failures, http.StatusOK)
	return failures, err
}

// GetContainer returns one container.
func (c *Client) GetContainer(guid string) (executor.Container, error) {
	var out executor.Container
	err := c.call(executor.GetContainerRoute, routes.Params{"guid": guid}, nil, nil, &out, http.StatusOK)
	return out, err
}

// ListContainers returns the containers carrying every tag of filter.
func (c *Client) ListContainers(filter executor.Tags) ([]executor.Container, error) {
	query := url.Values{}
	for k, v := range filter {
		query.Add("tag", k+":"+v)
	}
	var out []executor.Container
	err := c.call(executor.ListContainersRoute, nil, query, nil, &out, http.StatusOK)
	return out, err
}

// RunContainer starts a reserved container.
func (c *Client) RunContainer(req executor.RunRequest) error {
	return c.call(executor.RunContainerRoute, routes.Params{"guid": req.Guid}, nil, req, nil, http.StatusCreated)
}

// StopContainer interrupts a container.
func (c *Client) StopContainer(guid string) error {
	return c.call(executor.StopContainerRoute, routes.Params{"guid": guid}, nil, nil, nil, http.StatusOK)
}

// DeleteContainer stops, destroys and forgets a container.
func (c *Client) DeleteContainer(guid string) error {
	resp, err := c.do(c.streaming, executor.DeleteContainerRoute, routes.Params{"guid": guid}, nil, nil, nil, http.StatusOK)
	if err == nil {
		resp.Body.Close()
	}
	return err
}

// GetFiles streams a container path as a tar.
func (c *Client) GetFiles(guid, source string) (io.ReadCloser, error) {
	resp, err := c.do(c.streaming, executor.GetFilesRoute, routes.Params{"guid": guid}, url.Values{"source": {source}}, nil, nil, http.StatusOK)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// GetMetrics is one container's usage.
func (c *Client) GetMetrics(guid string) (executor.ContainerMetrics, error) {
	var out executor.ContainerMetrics
	err := c.call(executor.GetMetricsRoute, routes.Params{"guid": guid}, nil, nil, &out, http.StatusOK)
	return out, err
}

// GetAllMetrics is every container's usage.
func (c *Client) GetAllMetrics() (map[string]executor.ContainerMetrics, error) {
	var out map[string]executor.ContainerMetrics
	err := c.call(executor.GetAllMetricsRoute, nil, nil, nil, &out, http.StatusOK)
	return out, err
}

// RemainingResources is the capacity left.
func (c *Client) RemainingResources() (executor.ExecutorResources, error) {
	var out executor.ExecutorResources
	err := c.call(executor.RemainingResourcesRoute, nil, nil, nil, &out, http.StatusOK)
	return out, err
}

// TotalResources is the cell's capacity.
func (c *Client) TotalResources() (executor.ExecutorResources, error) {
	var out executor.ExecutorResources
	err := c.call(executor.TotalResourcesRoute, nil, nil, nil, &out, http.StatusOK)
	return out, err
}

// EventSource is a subscription to GET /events.
type EventSource struct {
	reader *sse.Reader
}

// SubscribeToEvents opens the event stream.
func (c *Client) SubscribeToEvents() (*EventSource, error) {
	resp, err := c.do(c.streaming, executor.EventsRoute, nil, nil, nil, nil, http.StatusOK)
	if err != nil {
		return nil, err
	}
	return &EventSource{reader: sse.NewReader(resp.Body)}, nil
}

// ErrUnknownEvent is an event whose type this client does not know.
var ErrUnknownEvent = errors.New("unknown executor event")

// Next blocks for the next event; io.EOF when the executor ends the stream.
func (s *EventSource) Next() (executor.Event, error) {
	raw, err := s.reader.Next()
	if err != nil {
		return executor.Event{}, err
	}
	e := executor.Event{Type: executor.EventType(raw.Name)}
	switch e.Type {
	case executor.EventTypeContainerReserved, executor.EventTypeContainerRunning, executor.EventTypeContainerComplete:
	default:
		return e, fmt.Errorf("%w: %q", ErrUnknownEvent, raw.Name)
	}
	if err := json.Unmarshal([]byte(raw.Data), &e); err != nil {
		return e, fmt.Errorf("decoding %s event: %w", raw.Name, err)
	}
	return e, nil
}

// Close ends the subscription.
func (s *EventSource) Close() error { return s.reader.Close() }
