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
	"google.golang.org/protobuf/proto"

	bbsclient "diego/bbs/client"
	"diego/models"
)

var _ = Describe("the client's connection pool", func() {
	// A caller with more requests in flight than the pool kept (the
	// receptor forwarding 200 desires) dialled again after every burst.
	It("keeps a connection for each of 150 concurrent requests, so the next burst dials none", func() {
		const concurrent = 150
		var (
			dials   atomic.Int64
			mu      sync.Mutex
			arrived int
			release = make(chan struct{})
		)
		body, err := proto.Marshal(&models.DomainsResponse{Domains: []string{"cf-apps"}})
		Expect(err).NotTo(HaveOccurred())
		server := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			arrived++
			if arrived == concurrent { // every request of the burst is in flight at once
				close(release)
			}
			wait := release
			mu.Unlock()
			<-wait
			w.Header().Set("Content-Type", "application/x-protobuf")
			_, _ = w.Write(body)
		}))
		server.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				dials.Add(1)
			}
		}
		server.Start()
		defer server.Close()
		c, err := bbsclient.New(bbsclient.Config{URL: server.URL})
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
					domains, err := c.Domains(context.Background())
					Expect(err).NotTo(HaveOccurred())
					Expect(domains).To(Equal([]string{"cf-apps"}))
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
