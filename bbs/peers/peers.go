// Package peers is how the BBS reaches its neighbours: the active auctioneer,
// found through the value of its lock key as Diego 2015 did (spec core §5.1,
// decision 6), and the reps, found through their cell presences.
package peers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"diego/auctioneer"
	auctioneerclient "diego/auctioneer/client"
	repclient "diego/rep/client"
)

// LockValueReader reads the value of a lock key (bbs/lock.Reader).
type LockValueReader interface {
	Value(ctx context.Context, key string) ([]byte, error)
}

// Auctioneer sends auction requests to whichever auctioneer holds the lock.
type Auctioneer struct {
	locks   LockValueReader
	lockKey string
	http    *http.Client
}

// NewAuctioneer finds the auctioneer through lockKey (/diego/v1/locks/auctioneer).
func NewAuctioneer(locks LockValueReader, lockKey string, httpClient *http.Client) *Auctioneer {
	return &Auctioneer{locks: locks, lockKey: lockKey, http: httpClient}
}

func (a *Auctioneer) client(ctx context.Context) (*auctioneerclient.Client, error) {
	value, err := a.locks.Value(ctx, a.lockKey)
	if err != nil {
		return nil, fmt.Errorf("finding the auctioneer: %w", err)
	}
	var p auctioneer.Presence
	if err := json.Unmarshal(value, &p); err != nil || p.Address == "" {
		return nil, fmt.Errorf("finding the auctioneer: bad lock value %q", value)
	}
	return auctioneerclient.New(a.http, p.Address), nil
}

// RequestLRPAuctions asks the active auctioneer to place LRP instances.
func (a *Auctioneer) RequestLRPAuctions(ctx context.Context, reqs []*auctioneer.LRPStartRequest) error {
	c, err := a.client(ctx)
	if err != nil {
		return err
	}
	return c.RequestLRPAuctions(ctx, reqs)
}

// RequestTaskAuctions asks the active auctioneer to place tasks.
func (a *Auctioneer) RequestTaskAuctions(ctx context.Context, reqs []*auctioneer.TaskStartRequest) error {
	c, err := a.client(ctx)
	if err != nil {
		return err
	}
	return c.RequestTaskAuctions(ctx, reqs)
}

// Reps builds rep clients over one shared HTTP client. Nothing is cached
// per address: a client is two pointers, the BBS calls reps rarely (retire,
// cancel), and cells come and go.
type Reps struct {
	http *http.Client
}

// NewReps shares httpClient among the rep clients.
func NewReps(httpClient *http.Client) *Reps {
	return &Reps{http: httpClient}
}

// Rep returns a client for the rep at address.
func (r *Reps) Rep(address string) *repclient.Client {
	return repclient.New(r.http, address)
}
