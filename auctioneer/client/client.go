// Package client is the auctioneer's HTTP client, used by the BBS to ask for
// LRP and task placements.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"diego/auctioneer"
	"diego/deploy/routes"
)

// Client talks to one auctioneer.
type Client struct {
	http *http.Client
	gen  *routes.RequestGenerator
}

// New returns a client for the auctioneer at address (http://host:port).
func New(httpClient *http.Client, address string) *Client {
	return &Client{http: httpClient, gen: routes.NewRequestGenerator(address, auctioneer.Routes)}
}

// RequestLRPAuctions queues LRP placements; the auctioneer answers 202 once
// they are queued.
func (c *Client) RequestLRPAuctions(ctx context.Context, reqs []*auctioneer.LRPStartRequest) error {
	return c.post(ctx, auctioneer.CreateLRPAuctionsRoute, reqs)
}

// RequestTaskAuctions queues task placements.
func (c *Client) RequestTaskAuctions(ctx context.Context, reqs []*auctioneer.TaskStartRequest) error {
	return c.post(ctx, auctioneer.CreateTaskAuctionsRoute, reqs)
}

func (c *Client) post(ctx context.Context, route string, body any) error {
	payload, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encoding %s request: %w", route, err)
	}
	req, err := c.gen.CreateRequest(route, nil, bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req = req.WithContext(ctx)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("auctioneer %s: %w", route, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusAccepted {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	var failure struct {
		Error string `json:"error"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64*1024)).Decode(&failure)
	return fmt.Errorf("auctioneer %s: status %d: %s", route, resp.StatusCode, failure.Error)
}
