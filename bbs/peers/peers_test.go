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
)

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
		a = peers.NewAuctioneer(locks, key, server.Client())
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
		a = peers.NewAuctioneer(locks, key, server.Client())
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
		a := peers.NewAuctioneer(locks, key, &http.Client{})
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
