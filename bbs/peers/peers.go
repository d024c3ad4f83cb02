// Package peers is how the BBS reaches its neighbours: the active auctioneer,
// found through the value of its lock key as Diego 2015 did (spec core §5.1,
// decision 6), and the reps, found through their cell presences.
package peers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"diego/auctioneer"
	auctioneerclient "diego/auctioneer/client"
	"diego/deploy/tlsconfig"
	repclient "diego/rep/client"
)

// LockValueReader reads the value of a lock key (bbs/lock.Reader).
type LockValueReader interface {
	Value(ctx context.Context, key string) ([]byte, error)
}

// AddressTTL is how long the auctioneer's address, once read from its lock,
// is used without reading the lock again. A burst of desires would
// otherwise put one etcd read in front of every auction request (decision
// 126); a request that fails forgets the address, so the next one reads
// the lock afresh.
const AddressTTL = time.Second

// Auctioneer sends auction requests to whichever auctioneer holds the lock.
type Auctioneer struct {
	locks   LockValueReader
	lockKey string
	http    *http.Client
	tls     AuctioneerTLS
	now     func() time.Time

	mu     sync.Mutex
	cached *auctioneerclient.Client
	readAt time.Time
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
	switch {
	case t.CAFile != "" && t.CertFile != "" && t.KeyFile != "":
		if err := tlsconfig.SetClientTransport(httpClient, t.CertFile, t.KeyFile, t.CAFile); err != nil {
			return nil, fmt.Errorf("auctioneer client TLS: %w", err)
		}
	case t.Require || t.CAFile != "" || t.CertFile != "" || t.KeyFile != "":
		return nil, errors.New("auctioneer client TLS: set all of auctioneer_ca_cert, auctioneer_client_cert and auctioneer_client_key (or none, without auctioneer_require_tls)")
	}
	return &Auctioneer{locks: locks, lockKey: lockKey, http: httpClient, tls: t, now: time.Now}, nil
}

// client returns the auctioneer's client and whether it came from the
// cache rather than a fresh read of the lock.
func (a *Auctioneer) client(ctx context.Context) (*auctioneerclient.Client, bool, error) {
	a.mu.Lock()
	if a.cached != nil && a.now().Sub(a.readAt) < AddressTTL {
		c := a.cached
		a.mu.Unlock()
		return c, true, nil
	}
	a.mu.Unlock()
	readAt := a.now()
	value, err := a.locks.Value(ctx, a.lockKey)
	if err != nil {
		return nil, false, fmt.Errorf("finding the auctioneer: %w", err)
	}
	var p auctioneer.Presence
	if err := json.Unmarshal(value, &p); err != nil || p.Address == "" {
		return nil, false, fmt.Errorf("finding the auctioneer: bad lock value %q", value)
	}
	secure := strings.HasPrefix(p.Address, "https://")
	switch {
	case a.tls.Require && !secure:
		return nil, false, fmt.Errorf("TLS to the auctioneer is required but it advertises %s: give the auctioneer its server certificate, or unset auctioneer_require_tls", p.Address)
	case secure && a.tls.CertFile == "":
		return nil, false, fmt.Errorf("the auctioneer advertises %s but no auctioneer client certificate is configured: set auctioneer_ca_cert, auctioneer_client_cert and auctioneer_client_key", p.Address)
	}
	c := auctioneerclient.New(a.http, p.Address)
	a.mu.Lock()
	a.cached, a.readAt = c, readAt
	a.mu.Unlock()
	return c, false, nil
}

// forget drops the address c came from, unless a newer one replaced it.
func (a *Auctioneer) forget(c *auctioneerclient.Client) {
	a.mu.Lock()
	if a.cached == c {
		a.cached = nil
	}
	a.mu.Unlock()
}

// RequestLRPAuctions asks the active auctioneer to place LRP instances.
func (a *Auctioneer) RequestLRPAuctions(ctx context.Context, reqs []*auctioneer.LRPStartRequest) error {
	return a.send(ctx, func(c *auctioneerclient.Client) error { return c.RequestLRPAuctions(ctx, reqs) })
}

// RequestTaskAuctions asks the active auctioneer to place tasks.
func (a *Auctioneer) RequestTaskAuctions(ctx context.Context, reqs []*auctioneer.TaskStartRequest) error {
	return a.send(ctx, func(c *auctioneerclient.Client) error { return c.RequestTaskAuctions(ctx, reqs) })
}

// send makes one request. A failure forgets the address; when the address
// came from the cache and nothing reached it (the connection was refused:
// the auctioneer it names is gone), the lock is read again and the request
// sent once more, so the cache never loses a request a fresh read would
// have delivered.
func (a *Auctioneer) send(ctx context.Context, request func(*auctioneerclient.Client) error) error {
	c, cached, err := a.client(ctx)
	if err != nil {
		return err
	}
	err = request(c)
	if err == nil {
		return nil
	}
	a.forget(c)
	if !cached || !notDelivered(err) {
		return err
	}
	if c, _, err = a.client(ctx); err != nil {
		return err
	}
	if err = request(c); err != nil {
		a.forget(c)
	}
	return err
}

// notDelivered says whether err is a failure to connect, so the request
// never reached the server.
func notDelivered(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
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
