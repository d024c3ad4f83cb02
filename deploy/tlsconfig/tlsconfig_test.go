package tlsconfig_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/tlsconfig"
	"diego/test/certauthority"
)

// handshake connects a client to a server over loopback and reports each
// side's outcome. With TLS 1.3 the client may finish its handshake before
// the server rejects its certificate, so the client also reads one byte,
// which the server writes only after a successful handshake.
func handshake(serverCfg, clientCfg *tls.Config) (serverErr, clientErr error) {
	ln, err := tls.Listen("tcp", "127.0.0.1:0", serverCfg)
	Expect(err).NotTo(HaveOccurred())
	defer ln.Close()

	serverResult := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			serverResult <- err
			return
		}
		defer conn.Close()
		err = conn.(*tls.Conn).Handshake()
		if err == nil {
			_, err = conn.Write([]byte("k"))
		}
		serverResult <- err
	}()

	conn, err := tls.Dial("tcp", ln.Addr().String(), clientCfg)
	if err == nil {
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	clientErr = err

	Eventually(serverResult).Should(Receive(&serverErr))
	return serverErr, clientErr
}

// The certificates are read-only fixtures, made once because RSA keys are slow.
var (
	dir                   string
	ca                    *certauthority.CA
	serverCert, serverKey string
	clientCert, clientKey string
)

var _ = BeforeSuite(func() {
	dir = GinkgoT().TempDir()
	var err error
	ca, err = certauthority.New(dir)
	Expect(err).NotTo(HaveOccurred())
	serverCert, serverKey, err = ca.GenerateServer("bbs")
	Expect(err).NotTo(HaveOccurred())
	clientCert, clientKey, err = ca.GenerateClient("client")
	Expect(err).NotTo(HaveOccurred())
})

var _ = Describe("tlsconfig", func() {
	Describe("ServerConfig", func() {
		var serverCfg *tls.Config

		BeforeEach(func() {
			var err error
			serverCfg, err = tlsconfig.ServerConfig(serverCert, serverKey, ca.CAFile())
			Expect(err).NotTo(HaveOccurred())
		})

		It("requires verified client certificates and TLS 1.2", func() {
			Expect(serverCfg.ClientAuth).To(Equal(tls.RequireAndVerifyClientCert))
			Expect(serverCfg.MinVersion).To(BeNumerically("==", tls.VersionTLS12))
		})

		It("accepts a client with a certificate from the CA", func() {
			clientCfg, err := tlsconfig.ClientConfig(clientCert, clientKey, ca.CAFile())
			Expect(err).NotTo(HaveOccurred())

			serverErr, clientErr := handshake(serverCfg, clientCfg)
			Expect(serverErr).NotTo(HaveOccurred())
			Expect(clientErr).NotTo(HaveOccurred())
		})

		It("rejects a client without a certificate", func() {
			clientCfg, err := tlsconfig.ClientConfig("", "", ca.CAFile())
			Expect(err).NotTo(HaveOccurred())

			serverErr, clientErr := handshake(serverCfg, clientCfg)
			Expect(serverErr).To(MatchError(ContainSubstring("didn't provide a certificate")))
			Expect(clientErr).To(HaveOccurred())
		})

		It("rejects a client whose certificate is from another CA", func() {
			other, err := certauthority.New(filepath.Join(GinkgoT().TempDir(), "other"))
			Expect(err).NotTo(HaveOccurred())
			otherCert, otherKey, err := other.GenerateClient("stranger")
			Expect(err).NotTo(HaveOccurred())
			clientCfg, err := tlsconfig.ClientConfig(otherCert, otherKey, ca.CAFile())
			Expect(err).NotTo(HaveOccurred())

			serverErr, clientErr := handshake(serverCfg, clientCfg)
			Expect(serverErr).To(HaveOccurred())
			Expect(clientErr).To(HaveOccurred())
		})

		It("needs a CA file", func() {
			_, err := tlsconfig.ServerConfig(serverCert, serverKey, "")
			Expect(err).To(MatchError(ContainSubstring("needs a CA file")))
		})

		It("names an unreadable CA file", func() {
			missing := filepath.Join(dir, "missing.crt")
			_, err := tlsconfig.ServerConfig(serverCert, serverKey, missing)
			Expect(err).To(MatchError(os.ErrNotExist))
			Expect(err).To(MatchError(ContainSubstring("reading CA file: open " + missing)))
		})

		It("rejects a CA file with no certificates", func() {
			_, err := tlsconfig.ServerConfig(serverCert, serverKey, serverKey)
			Expect(err).To(MatchError(ContainSubstring("holds no PEM certificates")))
		})
	})

	Describe("ServerConfigNoClientAuth", func() {
		It("accepts a client without a certificate", func() {
			serverCfg, err := tlsconfig.ServerConfigNoClientAuth(serverCert, serverKey)
			Expect(err).NotTo(HaveOccurred())
			Expect(serverCfg.ClientAuth).To(Equal(tls.NoClientCert))
			clientCfg, err := tlsconfig.ClientConfig("", "", ca.CAFile())
			Expect(err).NotTo(HaveOccurred())

			serverErr, clientErr := handshake(serverCfg, clientCfg)
			Expect(serverErr).NotTo(HaveOccurred())
			Expect(clientErr).NotTo(HaveOccurred())
		})

		It("names unreadable certificate files", func() {
			missing := filepath.Join(dir, "missing.crt")
			_, err := tlsconfig.ServerConfigNoClientAuth(missing, serverKey)
			Expect(err).To(MatchError(os.ErrNotExist))
			Expect(err).To(MatchError(ContainSubstring("loading certificate " + missing)))
		})

		It("rejects a key that does not match the certificate", func() {
			_, err := tlsconfig.ServerConfigNoClientAuth(serverCert, clientKey)
			Expect(err).To(MatchError(ContainSubstring("loading certificate " + serverCert + " and key " + clientKey)))
		})
	})

	Describe("ClientConfig", func() {
		It("uses TLS 1.2 or later", func() {
			cfg, err := tlsconfig.ClientConfig("", "", "")
			Expect(err).NotTo(HaveOccurred())
			Expect(cfg.MinVersion).To(BeNumerically("==", tls.VersionTLS12))
			Expect(cfg.Certificates).To(BeEmpty())
			Expect(cfg.RootCAs).To(BeNil(), "nil means the system roots")
		})

		It("falls back to the system roots, which do not trust a private CA", func() {
			serverCfg, err := tlsconfig.ServerConfigNoClientAuth(serverCert, serverKey)
			Expect(err).NotTo(HaveOccurred())
			clientCfg, err := tlsconfig.ClientConfig("", "", "")
			Expect(err).NotTo(HaveOccurred())

			_, clientErr := handshake(serverCfg, clientCfg)
			var unknownAuthority x509.UnknownAuthorityError
			Expect(errors.As(clientErr, &unknownAuthority)).To(BeTrue(), "got %v", clientErr)
		})

		It("needs the certificate and key together", func() {
			_, err := tlsconfig.ClientConfig(clientCert, "", "")
			Expect(err).To(MatchError(ContainSubstring("must be given together")))
		})
	})

	Describe("SetClientTransport", func() {
		It("gives a client without a transport a clone of the default one with the client certificate", func() {
			hc := &http.Client{}
			Expect(tlsconfig.SetClientTransport(hc, clientCert, clientKey, ca.CAFile())).To(Succeed())
			transport, ok := hc.Transport.(*http.Transport)
			Expect(ok).To(BeTrue())
			Expect(transport).NotTo(BeIdenticalTo(http.DefaultTransport))
			Expect(transport.TLSClientConfig.Certificates).To(HaveLen(1))
			Expect(transport.TLSClientConfig.RootCAs).NotTo(BeNil())
			Expect(http.DefaultTransport.(*http.Transport).TLSClientConfig).NotTo(BeIdenticalTo(transport.TLSClientConfig), "the default keeps its own")
		})

		It("refuses a transport it cannot configure, and bad files", func() {
			Expect(tlsconfig.SetClientTransport(&http.Client{Transport: roundTripper{}}, clientCert, clientKey, ca.CAFile())).To(
				MatchError(ContainSubstring("not an *http.Transport")))
			Expect(tlsconfig.SetClientTransport(&http.Client{}, clientCert, "", "")).To(MatchError(ContainSubstring("must be given together")))
		})
	})
})

type roundTripper struct{}

func (roundTripper) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("unused")
}
