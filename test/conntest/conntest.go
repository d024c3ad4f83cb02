// Package conntest checks that an HTTP client keeps its connections: a
// server that holds a burst of requests until all of them are in flight at
// once, and counts the connections its clients open.
package conntest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
)

// BurstServer answers every request with one fixed body, but only once
// Concurrent requests have arrived, so that each burst has them all in
// flight together.
type BurstServer struct {
	URL        string
	Concurrent int

	dials   atomic.Int64
	mu      sync.Mutex
	arrived int
	release chan struct{}
}

// NewBurstServer starts a server answering contentType and body; it stops
// when the spec ends.
func NewBurstServer(concurrent int, contentType string, body []byte) *BurstServer {
	b := &BurstServer{Concurrent: concurrent, release: make(chan struct{})}
	server := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		b.mu.Lock()
		b.arrived++
		if b.arrived == b.Concurrent {
			close(b.release)
		}
		wait := b.release
		b.mu.Unlock()
		<-wait
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(body)
	}))
	server.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			b.dials.Add(1)
		}
	}
	server.Start()
	DeferCleanup(server.Close)
	b.URL = server.URL
	return b
}

// Dials is how many connections clients have opened so far.
func (b *BurstServer) Dials() int64 { return b.dials.Load() }

// Burst runs call Concurrent times at once and waits for every one.
func (b *BurstServer) Burst(call func()) {
	b.mu.Lock()
	b.arrived, b.release = 0, make(chan struct{})
	b.mu.Unlock()
	var wg sync.WaitGroup
	for range b.Concurrent {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer GinkgoRecover()
			call()
		}()
	}
	wg.Wait()
}
