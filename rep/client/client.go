// Package client is the rep's HTTP client: the auctioneer reads cell states
// and sends work with it; the BBS stops LRP instances and cancels tasks.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"diego/deploy/routes"
	"diego/rep"
)

// ErrCellUnhealthy is returned with the state of a cell whose executor or
// garden is unhealthy (the rep answers 503 with its CellState).
var ErrCellUnhealthy = errors.New("cell is unhealthy")

// Client talks to one rep.
type Client struct {
	http *http.Client
	gen  *routes.RequestGenerator
}

// New returns a client for the rep at address (its rep_address, http://ip:1800).
func New(httpClient *http.Client, address string) *Client {
	return &Client{http: httpClient, gen: routes.NewRequestGenerator(address, rep.Routes)}
}

// State fetches the cell's state.
func (c *Client) State(ctx context.Context) (rep.CellState, error) {
	var state rep.CellState
	resp, err := c.do(ctx, rep.StateRoute, nil, nil)
	if err != nil {
		return state, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusServiceUnavailable {
		return state, statusError(rep.StateRoute, resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(&state); err != nil {
		return state, fmt.Errorf("rep %s: decoding: %w", rep.StateRoute, err)
	}
	if resp.StatusCode == http.StatusServiceUnavailable {
		return state, ErrCellUnhealthy
	}
	return state, nil
}

// Perform asks the cell to run work and returns the part that failed.
func (c *Client) Perform(ctx context.Context, work rep.Work) (rep.Work, error) {
	var failed rep.Work
	payload, err := json.Marshal(work)
	if err != nil {
		return failed, fmt.Errorf("encoding work: %w", err)
	}
	resp, err := c.do(ctx, rep.PerformRoute, nil, payload)
	if err != nil {
		return failed, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return failed, statusError(rep.PerformRoute, resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(&failed); err != nil {
		return failed, fmt.Errorf("rep %s: decoding: %w", rep.PerformRoute, err)
	}
	return failed, nil
}

// StopLRPInstance asks the cell to stop one instance's container.
func (c *Client) StopLRPInstance(ctx context.Context, processGuid, instanceGuid string) error {
	return c.expect(ctx, rep.StopLRPInstanceRoute,
		routes.Params{"process_guid": processGuid, "instance_guid": instanceGuid}, http.StatusAccepted)
}

// CancelTask asks the cell to delete a task's container.
func (c *Client) CancelTask(ctx context.Context, taskGuid string) error {
	return c.expect(ctx, rep.CancelTaskRoute, routes.Params{"task_guid": taskGuid}, http.StatusAccepted)
}

// Ping reports whether the rep answers.
func (c *Client) Ping(ctx context.Context) error {
	return c.expect(ctx, rep.PingRoute, nil, http.StatusOK)
}

// Evacuate asks the cell to start evacuating.
func (c *Client) Evacuate(ctx context.Context) error {
	return c.expect(ctx, rep.EvacuateRoute, nil, http.StatusAccepted)
}

func (c *Client) expect(ctx context.Context, route string, params routes.Params, status int) error {
	resp, err := c.do(ctx, route, params, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != status {
		return statusError(route, resp)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

func (c *Client) do(ctx context.Context, route string, params routes.Params, body []byte) (*http.Response, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := c.gen.CreateRequest(route, params, r)
	if err != nil {
		return nil, err
	}
	req = req.WithContext(ctx)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("rep %s: %w", route, err)
	}
	return resp, nil
}

func statusError(route string, resp *http.Response) error {
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return fmt.Errorf("rep %s: status %d: %s", route, resp.StatusCode, bytes.TrimSpace(text))
}
