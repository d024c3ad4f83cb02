package client_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/receptor/client"
)

var _ = Describe("Client", func() {
	// Decision 200: a caller with more requests in flight than decision
	// 161's 100 idle connections closed the surplus after each burst.
	It("keeps a connection for each of 150 concurrent requests, so the next burst dials none", func() {
		const concurrent = 150
		var dials atomic.Int64
		var mu sync.Mutex
		arrived, release := 0, make(chan struct{})
		server := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			arrived++
			if arrived == concurrent { // every request of the burst is in flight at once
				close(release)
			}
			wait := release
			mu.Unlock()
			<-wait
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte("[]"))
		}))
		server.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				dials.Add(1)
			}
		}
		server.Start()
		defer server.Close()
		c, err := client.New(client.Config{URL: server.URL})
		Expect(err).NotTo(HaveOccurred())

		burst := func() {
			mu.Lock()
			arrived, release = 0, make(chan struct{})
			mu.Unlock()
			var wg sync.WaitGroup
			for range concurrent {
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer GinkgoRecover()
					_, err := c.Domains(context.Background())
					Expect(err).NotTo(HaveOccurred())
				}()
			}
			wg.Wait()
		}
		burst()
		Expect(dials.Load()).To(BeEquivalentTo(concurrent))
		burst()
		Expect(dials.Load()).To(BeEquivalentTo(concurrent), "the second burst reuses the first one's connections")
	})
})
