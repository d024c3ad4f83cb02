package local_test

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"os"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/local"
)

var _ = Describe("EnsureCerts", func() {
	It("makes a CA and mutual TLS certificates once, and keeps them", func() {
		dir, err := os.MkdirTemp("", "dl")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(os.RemoveAll, dir)
		p, err := local.NewPlan(local.Options{StateDir: dir, BinDir: "/bin", RootFS: "/rootfs", StackRootFS: "/stack", Cells: 1})
		Expect(err).NotTo(HaveOccurred())
		made, err := local.EnsureCerts(p.Certs)
		Expect(err).NotTo(HaveOccurred())
		Expect(made).To(BeTrue())
		key, err := os.Stat(p.Certs.BBSServerKey)
		Expect(err).NotTo(HaveOccurred())
		Expect(key.Mode().Perm()).To(Equal(os.FileMode(0o600)))

		// A server with the BBS's certificate accepts the receptor's
		// client certificate and refuses a client without one.
		caPEM, err := os.ReadFile(p.Certs.CAFile)
		Expect(err).NotTo(HaveOccurred())
		pool := x509.NewCertPool()
		Expect(pool.AppendCertsFromPEM(caPEM)).To(BeTrue())
		serverPair, err := tls.LoadX509KeyPair(p.Certs.BBSServerCert, p.Certs.BBSServerKey)
		Expect(err).NotTo(HaveOccurred())
		server := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		server.TLS = &tls.Config{Certificates: []tls.Certificate{serverPair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
		server.StartTLS()
		defer server.Close()
		_, port, _ := net.SplitHostPort(server.Listener.Addr().String())

		files := p.Certs.Clients["receptor"]
		clientPair, err := tls.LoadX509KeyPair(files[0], files[1])
		Expect(err).NotTo(HaveOccurred())
		get := func(certs []tls.Certificate) error {
			c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: certs}}}
			resp, err := c.Get("https://localhost:" + port + "/")
			if err == nil {
				resp.Body.Close()
			}
			return err
		}
		Expect(get([]tls.Certificate{clientPair})).To(Succeed())
		Expect(get(nil)).NotTo(Succeed())

		made, err = local.EnsureCerts(p.Certs)
		Expect(err).NotTo(HaveOccurred())
		Expect(made).To(BeFalse())

		Expect(os.Remove(files[0])).To(Succeed())
		made, err = local.EnsureCerts(p.Certs)
		Expect(err).NotTo(HaveOccurred())
		Expect(made).To(BeTrue())
	})
})
