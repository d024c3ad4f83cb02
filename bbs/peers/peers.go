// Package peers is how the BBS reaches its neighbours: the active auctioneer,
// found through the value of its lock key as Diego 2015 did (spec core §5.1,
// decision 6), and the reps, found through their cell presences.
package peers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"diego/auctioneer"
	auctioneerclient "diego/auctioneer/client"
	"diego/deploy/tlsconfig"
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
	tls     AuctioneerTLS
}

// AuctioneerTLS is how the BBS reaches the auctioneer (diego-release's
// auctioneer_ca_cert, auctioneer_client_cert, auctioneer_client_key and
// auctioneer_require_tls): the scheme the auctioneer advertises in its
// lock value decides, https needing the client certificate, and Require
// refusing an http one.
type AuctioneerTLS struct {
	CAFile, CertFile, KeyFile string
	Require                   bool
}

// NewAuctioneer finds the auctioneer through lockKey
// (/diego/v1/locks/auctioneer). With a client certificate in t, it sets the
// TLS configuration of httpClient's transport (an *http.Transport, or nil
// for a clone of http.DefaultTransport).
func NewAuctioneer(locks LockValueReader, lockKey string, httpClient *http.Client, t AuctioneerTLS) (*Auctioneer, error) {
	creds := t.CAFile != "" && t.CertFile != "" && t.KeyFile != ""
	if creds {
		if err := setClientTLS(httpClient, t.CertFile, t.KeyFile, t.CAFile); err != nil {
			return nil, fmt.Errorf("auctioneer client TLS: %w", err)
		}
	} else if t.Require {
		return nil, errors.New("auctioneer client TLS: auctioneer_require_tls needs a CA, a client certificate and its key")
	}
	return &Auctioneer{locks: locks, lockKey: lockKey, http: httpClient, tls: t}, nil
}

func setClientTLS(httpClient *http.Client, certFile, keyFile, caFile string) error {
	cfg, err := tlsconfig.ClientConfig(certFile, keyFile, caFile)
	if err != nil {
		return err
	}
	if httpClient.Transport == nil {
		httpClient.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	transport, ok := httpClient.Transport.(*http.Transport)
	if !ok {
		return errors.New("the HTTP client's transport is not an *http.Transport")
	}
	transport.TLSClientConfig = cfg
	return nil
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
	secure := strings.HasPrefix(p.Address, "https://")
	switch {
	case a.tls.Require && !secure:
		return nil, fmt.Errorf("TLS to the auctioneer is required but it advertises %s", p.Address)
	case secure && a.tls.CertFile == "":
		return nil, fmt.Errorf("the auctioneer advertises %s but no auctioneer client certificate is configured", p.Address)
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
	factory *repclient.Factory
}

// NewReps shares httpClient among the rep clients, which present the
// client certificate of t, if any.
func NewReps(httpClient *http.Client, t repclient.TLS) (*Reps, error) {
	f, err := repclient.NewFactory(httpClient, t)
	if err != nil {
		return nil, err
	}
	return &Reps{factory: f}, nil
}

// Rep returns a client for the rep whose presence holds address
// (rep_address) and url (rep_url), as the TLS settings pick.
func (r *Reps) Rep(address, url string) (*repclient.Client, error) {
	return r.factory.Client(address, url)
}
