package client_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/tlsconfig"
	"diego/rep"
	"diego/rep/client"
	"diego/test/certauthority"
)

var _ = Describe("Factory", func() {
	Describe("picking a presence's address", func() {
		creds := client.TLS{CAFile: "ca", CertFile: "c", KeyFile: "k"}

		DescribeTable("picks",
			func(t client.TLS, address, url, want string) {
				Expect(t.Pick(address, url)).To(Equal(want))
			},
			Entry("rep_url without TLS settings", client.TLS{}, "http://ip:1800", "http://ip:1801", "http://ip:1801"),
			Entry("rep_address when there is no rep_url", client.TLS{}, "http://ip:1800", "", "http://ip:1800"),
			Entry("an https rep_url with a client certificate", creds, "http://ip:1800", "https://ip:1801", "https://ip:1801"),
			Entry("a plain cell with a certificate that is not required", creds, "http://ip:1800", "", "http://ip:1800"),
			Entry("an https rep_url when TLS is required", client.TLS{CAFile: "ca", CertFile: "c", KeyFile: "k", Require: true},
				"http://ip:1800", "https://ip:1801", "https://ip:1801"),
		)

		DescribeTable("refuses",
			func(t client.TLS, address, url, why string) {
				_, err := t.Pick(address, url)
				Expect(err).To(MatchError(ContainSubstring(why)))
			},
			Entry("an https rep_url without a client certificate", client.TLS{}, "http://ip:1800", "https://ip:1801",
				"no rep client certificate is configured"),
			Entry("a plain cell when TLS is required", client.TLS{CAFile: "ca", CertFile: "c", KeyFile: "k", Require: true},
				"http://ip:1800", "http://ip:1801", "TLS to reps is required"),
			Entry("a presence with no address", client.TLS{}, "", "", "neither rep_address nor rep_url"),
		)
	})

	It("refuses part of a client certificate", func() {
		_, err := client.NewFactory(&http.Client{}, client.TLS{CertFile: "c", Require: true})
		Expect(err).To(MatchError(ContainSubstring("set all of rep_ca_cert, rep_client_cert and rep_client_key")))
	})

	It("reaches a rep that requires client certificates, presenting its own", func() {
		dir := GinkgoT().TempDir()
		ca, err := certauthority.New(dir)
		Expect(err).NotTo(HaveOccurred())
		serverCert, serverKey, err := ca.GenerateServer("rep")
		Expect(err).NotTo(HaveOccurred())
		clientCert, clientKey, err := ca.GenerateClient("auctioneer")
		Expect(err).NotTo(HaveOccurred())

		serverTLS, err := tlsconfig.ServerConfig(serverCert, serverKey, ca.CAFile())
		Expect(err).NotTo(HaveOccurred())
		server := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_ = json.NewEncoder(w).Encode(rep.CellState{CellID: r.TLS.PeerCertificates[0].Subject.CommonName})
		}))
		server.TLS = serverTLS
		server.StartTLS()
		DeferCleanup(server.Close)

		f, err := client.NewFactory(&http.Client{}, client.TLS{CAFile: ca.CAFile(), CertFile: clientCert, KeyFile: clientKey, Require: true})
		Expect(err).NotTo(HaveOccurred())
		c, err := f.Client("http://unused:1800", server.URL)
		Expect(err).NotTo(HaveOccurred())
		state, err := c.State(context.Background())
		Expect(err).NotTo(HaveOccurred())
		Expect(state.CellID).To(Equal("auctioneer"))

		plain, err := client.NewFactory(&http.Client{}, client.TLS{})
		Expect(err).NotTo(HaveOccurred())
		_, err = plain.Client("http://unused:1800", server.URL)
		Expect(err).To(MatchError(ContainSubstring("no rep client certificate")))
	})
})
