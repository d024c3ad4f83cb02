package peers_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/auctioneer"
	"diego/bbs/peers"
	"diego/deploy/tlsconfig"
	repclient "diego/rep/client"
	"diego/test/certauthority"
)

// lockValue is a lock reader holding one value.
type lockValue string

func (v lockValue) Value(context.Context, string) ([]byte, error) { return []byte(v), nil }

var _ = Describe("Auctioneer", func() {
	var (
		ca                    *certauthority.CA
		clientCert, clientKey string
		server                *httptest.Server
		requests              chan string
		creds                 peers.AuctioneerTLS
	)

	BeforeEach(func() {
		var err error
		ca, err = certauthority.New(GinkgoT().TempDir())
		Expect(err).NotTo(HaveOccurred())
		serverCert, serverKey, err := ca.GenerateServer("auctioneer")
		Expect(err).NotTo(HaveOccurred())
		clientCert, clientKey, err = ca.GenerateClient("bbs")
		Expect(err).NotTo(HaveOccurred())
		creds = peers.AuctioneerTLS{CAFile: ca.CAFile(), CertFile: clientCert, KeyFile: clientKey}

		requests = make(chan string, 4)
		server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests <- r.TLS.PeerCertificates[0].Subject.CommonName + " " + r.URL.Path
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte("{}"))
		}))
		server.TLS, err = tlsconfig.ServerConfig(serverCert, serverKey, ca.CAFile())
		Expect(err).NotTo(HaveOccurred())
		server.StartTLS()
		DeferCleanup(server.Close)
	})

	presence := func(address string) lockValue {
		return lockValue(`{"auctioneer_id":"a1","auctioneer_address":"` + address + `"}`)
	}

	It("reaches an https auctioneer with the client certificate", func() {
		a, err := peers.NewAuctioneer(presence(server.URL), "/k", &http.Client{}, creds)
		Expect(err).NotTo(HaveOccurred())
		Expect(a.RequestTaskAuctions(context.Background(), []*auctioneer.TaskStartRequest{})).To(Succeed())
		Expect(requests).To(Receive(Equal("bbs /v1/tasks")))
	})

	It("refuses an https auctioneer without a client certificate", func() {
		a, err := peers.NewAuctioneer(presence(server.URL), "/k", &http.Client{}, peers.AuctioneerTLS{})
		Expect(err).NotTo(HaveOccurred())
		err = a.RequestTaskAuctions(context.Background(), nil)
		Expect(err).To(MatchError(ContainSubstring("no auctioneer client certificate is configured")))
		Expect(requests).NotTo(Receive())
	})

	It("refuses a plain auctioneer when TLS is required", func() {
		creds.Require = true
		a, err := peers.NewAuctioneer(presence("http://127.0.0.1:9016"), "/k", &http.Client{}, creds)
		Expect(err).NotTo(HaveOccurred())
		err = a.RequestLRPAuctions(context.Background(), nil)
		Expect(err).To(MatchError(ContainSubstring("TLS to the auctioneer is required but it advertises http://127.0.0.1:9016")))
	})

	It("refuses to require TLS without the client certificate", func() {
		_, err := peers.NewAuctioneer(presence(server.URL), "/k", &http.Client{}, peers.AuctioneerTLS{Require: true})
		Expect(err).To(MatchError(ContainSubstring("set all of auctioneer_ca_cert, auctioneer_client_cert and auctioneer_client_key")))
	})

	It("refuses half a client certificate, as the rep client factory does", func() {
		_, err := peers.NewAuctioneer(presence(server.URL), "/k", &http.Client{}, peers.AuctioneerTLS{CAFile: "/ca.crt"})
		Expect(err).To(MatchError(ContainSubstring("set all of auctioneer_ca_cert")))
	})
})

var _ = Describe("Reps", func() {
	It("picks the cell's address with its TLS settings", func() {
		reps, err := peers.NewReps(&http.Client{}, repclient.TLS{})
		Expect(err).NotTo(HaveOccurred())
		_, err = reps.Rep("http://10.0.0.5:1800", "https://10.0.0.5:1801")
		Expect(err).To(MatchError(ContainSubstring("no rep client certificate")))
		c, err := reps.Rep("http://10.0.0.5:1800", "")
		Expect(err).NotTo(HaveOccurred())
		Expect(c).NotTo(BeNil())
	})
})

// plainAuctioneer reaches an http auctioneer, with no TLS settings.
func plainAuctioneer(locks peers.LockValueReader, key string, c *http.Client) *peers.Auctioneer {
	GinkgoHelper()
	a, err := peers.NewAuctioneer(locks, key, c, peers.AuctioneerTLS{})
	Expect(err).NotTo(HaveOccurred())
	return a
}

// lockValues answers lock reads from a map and counts them.
type lockValues struct {
	mu     sync.Mutex
	values map[string][]byte
	reads  int
}

func (l *lockValues) Value(_ context.Context, key string) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reads++
	v, ok := l.values[key]
	if !ok {
		return nil, errors.New("not found")
	}
	return v, nil
}

func (l *lockValues) set(key, address string) {
	body, _ := json.Marshal(auctioneer.Presence{ID: "a", Address: address})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.values[key] = body
}

func (l *lockValues) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reads
}

var _ = Describe("Auctioneer", func() {
	const key = "/diego/v1/locks/auctioneer"
	var (
		locks    *lockValues
		now      time.Time
		a        *peers.Auctioneer
		received atomic.Int64
		status   atomic.Int64
		server   *httptest.Server
		reqs     []*auctioneer.LRPStartRequest
	)

	BeforeEach(func() {
		received.Store(0)
		status.Store(http.StatusAccepted)
		server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			received.Add(1)
			w.WriteHeader(int(status.Load()))
			_, _ = w.Write([]byte("{}"))
		}))
		DeferCleanup(server.Close)
		locks = &lockValues{values: map[string][]byte{}}
		locks.set(key, server.URL)
		now = time.Unix(1000, 0)
		a = plainAuctioneer(locks, key, server.Client())
		a.SetClock(func() time.Time { return now })
		reqs = []*auctioneer.LRPStartRequest{{ProcessGuid: "pg", Domain: "d", Indices: []int{0}}}
	})

	It("reads the lock once for the requests of one address TTL", func() {
		for range 5 {
			Expect(a.RequestLRPAuctions(context.Background(), reqs)).To(Succeed())
		}
		Expect(a.RequestTaskAuctions(context.Background(), nil)).To(Succeed())
		Expect(received.Load()).To(BeEquivalentTo(6))
		Expect(locks.count()).To(Equal(1))
	})

	It("reads the lock again once the address is older than the TTL, and follows a new holder", func() {
		Expect(a.RequestLRPAuctions(context.Background(), reqs)).To(Succeed())
		var other atomic.Int64
		next := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			other.Add(1)
			w.WriteHeader(http.StatusAccepted)
		}))
		DeferCleanup(next.Close)
		locks.set(key, next.URL)

		now = now.Add(peers.AddressTTL - time.Millisecond)
		Expect(a.RequestLRPAuctions(context.Background(), reqs)).To(Succeed())
		Expect(locks.count()).To(Equal(1))
		Expect(other.Load()).To(BeZero())

		now = now.Add(time.Millisecond)
		Expect(a.RequestLRPAuctions(context.Background(), reqs)).To(Succeed())
		Expect(locks.count()).To(Equal(2))
		Expect(other.Load()).To(BeEquivalentTo(1))
	})

	It("forgets the address when a request fails, so the next one reads the lock", func() {
		Expect(a.RequestLRPAuctions(context.Background(), reqs)).To(Succeed())
		status.Store(http.StatusInternalServerError)
		Expect(a.RequestLRPAuctions(context.Background(), reqs)).To(MatchError(ContainSubstring("status 500")))
		Expect(locks.count()).To(Equal(1))
		status.Store(http.StatusAccepted)
		Expect(a.RequestLRPAuctions(context.Background(), reqs)).To(Succeed())
		Expect(locks.count()).To(Equal(2))
	})

	It("fails when no auctioneer holds the lock, and reads again next time", func() {
		locks = &lockValues{values: map[string][]byte{}}
		a = plainAuctioneer(locks, key, server.Client())
		Expect(a.RequestLRPAuctions(context.Background(), reqs)).To(MatchError(ContainSubstring("finding the auctioneer")))
		Expect(a.RequestLRPAuctions(context.Background(), reqs)).To(HaveOccurred())
		Expect(locks.count()).To(Equal(2))
		Expect(received.Load()).To(BeZero())
	})
})

var _ = Describe("Auctioneer after a failover", func() {
	const key = "/diego/v1/locks/auctioneer"

	It("reads the lock again and resends when the cached auctioneer refuses the connection", func() {
		var first, second atomic.Int64
		old := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			first.Add(1)
			w.WriteHeader(http.StatusAccepted)
		}))
		locks := &lockValues{values: map[string][]byte{}}
		locks.set(key, old.URL)
		a := plainAuctioneer(locks, key, &http.Client{})
		reqs := []*auctioneer.LRPStartRequest{{ProcessGuid: "pg", Domain: "d", Indices: []int{0}}}
		Expect(a.RequestLRPAuctions(context.Background(), reqs)).To(Succeed())

		old.Close() // the holder dies; another takes the lock
		next := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			second.Add(1)
			w.WriteHeader(http.StatusAccepted)
		}))
		DeferCleanup(next.Close)
		locks.set(key, next.URL)

		Expect(a.RequestLRPAuctions(context.Background(), reqs)).To(Succeed())
		Expect(first.Load()).To(BeEquivalentTo(1))
		Expect(second.Load()).To(BeEquivalentTo(1))
		Expect(locks.count()).To(Equal(2))
	})
})
