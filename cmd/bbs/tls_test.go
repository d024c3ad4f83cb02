package main_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	clientv3 "go.etcd.io/etcd/client/v3"

	bbsconfig "diego/bbs/config"
	"diego/deploy/tlsconfig"
	"diego/models"
	"diego/test/etcdrunner"
)

var _ = Describe("against an etcd that requires client certificates", func() {
	It("stores records through the etcd block's mutual TLS", func() {
		tlsETCD, proc, err := etcdrunner.StartTLS(GinkgoT().TempDir(), GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { Expect(tlsETCD.Stop(proc)).To(Succeed()) })

		p := startBBS(false, func(c *bbsconfig.Config) { c.ETCD = tlsETCD.ETCDBlock() })
		client := newClient(p)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		Expect(client.UpsertDomain(ctx, "tls-domain", time.Minute)).To(Succeed())
		Expect(client.Domains(ctx)).To(ContainElement("tls-domain"))

		etcdClient, err := tlsETCD.Client()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(etcdClient.Close)
		resp, err := etcdClient.Get(ctx, "/diego", clientv3.WithPrefix(), clientv3.WithKeysOnly())
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Kvs).NotTo(BeEmpty())
	})
})

var _ = Describe("with mutual TLS to the reps", func() {
	BeforeEach(func() {
		Expect(etcd.Reset()).To(Succeed())
	})

	// tlsRep is a cell whose rep serves only mutual TLS at its rep_url
	// (its rep_address is a port nothing listens on); it hands over the
	// common name of each caller's certificate and the request path.
	tlsRep := func(cell string) chan string {
		GinkgoHelper()
		calls := make(chan string, 10)
		server := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls <- r.TLS.PeerCertificates[0].Subject.CommonName + " " + r.URL.Path
			w.WriteHeader(http.StatusAccepted)
		}))
		var err error
		server.TLS, err = tlsconfig.ServerConfig(certs.ServerCert, certs.ServerKey, certs.CA)
		Expect(err).NotTo(HaveOccurred())
		server.StartTLS()
		DeferCleanup(server.Close)
		body, err := json.Marshal(&models.CellPresence{CellId: cell, RepAddress: "http://127.0.0.1:1", RepUrl: server.URL,
			Zone: "z1", Capacity: &models.CellCapacity{MemoryMb: 1024, DiskMb: 2048, Containers: 10}})
		Expect(err).NotTo(HaveOccurred())
		putKey("/diego/v1/cell/"+cell, string(body))
		return calls
	}

	It("cancels a task on a TLS cell with its rep client certificate, and refuses a plain cell with rep_require_tls", func() {
		fakeAuctioneer()
		secureCalls := tlsRep("cell-tls")
		plainCalls := fakeRep("cell-plain")
		p := startBBS(false, func(c *bbsconfig.Config) {
			c.RepCACert, c.RepClientCert, c.RepClientKey, c.RepRequireTLS = certs.CA, certs.ClientCert, certs.ClientKey, true
		})
		client := newClient(p)

		for _, cell := range []string{"cell-tls", "cell-plain"} {
			guid := "task-on-" + cell
			Expect(client.DesireTask(ctx, guid, "d", taskDef())).To(Succeed())
			_, err := client.StartTask(ctx, guid, cell)
			Expect(err).NotTo(HaveOccurred())
			Expect(client.CancelTask(ctx, guid)).To(Succeed())
		}
		Eventually(secureCalls).Should(Receive(Equal("client /v1/tasks/task-on-cell-tls/cancel")))
		Eventually(p.session.Out).Should(gbytes.Say(`failed-to-tell-rep-to-cancel.*cell-plain.*TLS to reps is required`))
		Consistently(plainCalls, 200*time.Millisecond).ShouldNot(Receive())
	})
})
