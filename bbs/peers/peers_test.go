package peers_test

import (
	"context"
	"net/http"
	"net/http/httptest"

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
		Expect(err).To(MatchError(ContainSubstring("auctioneer_require_tls needs")))
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
