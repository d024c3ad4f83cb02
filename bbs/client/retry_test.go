package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"

	bbsclient "diego/bbs/client"
	"diego/models"
)

var _ = Describe("a request that gets no answer", func() {
	var (
		server   *httptest.Server
		requests atomic.Int32
		drop     atomic.Int32 // how many requests to drop unanswered
		answer   proto.Message
		client   *bbsclient.Client
	)

	BeforeEach(func() {
		requests.Store(0)
		drop.Store(0)
		server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			if drop.Add(-1) >= 0 {
				// The connection ends with no response, as one to a BBS
				// that died mid-request.
				conn, _, err := w.(http.Hijacker).Hijack()
				Expect(err).NotTo(HaveOccurred())
				conn.Close()
				return
			}
			body, err := proto.Marshal(answer)
			Expect(err).NotTo(HaveOccurred())
			w.Header().Set("Content-Type", "application/x-protobuf")
			_, _ = w.Write(body)
		}))
		DeferCleanup(server.Close)
		var err error
		client, err = bbsclient.New(bbsclient.Config{URL: server.URL})
		Expect(err).NotTo(HaveOccurred())
	})

	It("is sent again, as diego's client does", func() {
		answer = &models.PingResponse{Available: true}
		drop.Store(1)
		Expect(client.Ping(context.Background())).To(BeTrue())
		Expect(requests.Load()).To(BeEquivalentTo(2))
	})

	It("is sent at most three times", func() {
		answer = &models.PingResponse{Available: true}
		drop.Store(3)
		_, err := client.Domains(context.Background())
		Expect(err).To(MatchError(ContainSubstring("bbs Domains")))
		Expect(requests.Load()).To(BeEquivalentTo(bbsclient.Attempts))
	})

	It("is not sent again once the BBS has answered, even with an error", func() {
		answer = &models.DomainsResponse{Error: models.NewError(models.Error_UnknownError, "boom")}
		_, err := client.Domains(context.Background())
		Expect(err).To(MatchError(ContainSubstring("boom")))
		Expect(requests.Load()).To(BeEquivalentTo(1))
	})

	It("is not sent again once the caller's context has ended", func() {
		answer = &models.PingResponse{Available: true}
		drop.Store(3)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		Expect(client.Ping(ctx)).To(BeFalse())
		Expect(requests.Load()).To(BeNumerically("<=", 1))
	})
})
