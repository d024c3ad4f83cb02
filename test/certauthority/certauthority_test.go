package certauthority_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/test/certauthority"
)

var _ = Describe("CA", func() {
	var (
		dir string
		ca  *certauthority.CA
	)

	BeforeEach(func() {
		dir = GinkgoT().TempDir()
		var err error
		ca, err = certauthority.New(dir)
		Expect(err).NotTo(HaveOccurred())
	})

	pool := func() *x509.CertPool {
		pem, err := os.ReadFile(ca.CAFile())
		Expect(err).NotTo(HaveOccurred())
		p := x509.NewCertPool()
		Expect(p.AppendCertsFromPEM(pem)).To(BeTrue())
		return p
	}

	leaf := func(certFile, keyFile string) *x509.Certificate {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		Expect(err).NotTo(HaveOccurred())
		return pair.Leaf
	}

	It("writes a self-signed CA", func() {
		Expect(ca.CAFile()).To(Equal(filepath.Join(dir, "ca.crt")))
		cert := leaf(ca.CAFile(), filepath.Join(dir, "ca.key"))
		Expect(cert.IsCA).To(BeTrue())
		Expect(cert.CheckSignatureFrom(cert)).To(Succeed())
	})

	It("issues a server certificate for the given hosts plus loopback", func() {
		certFile, keyFile, err := ca.GenerateServer("bbs", "bbs.service.cf.internal", "10.0.0.5", "localhost")
		Expect(err).NotTo(HaveOccurred())
		Expect(certFile).To(Equal(filepath.Join(dir, "bbs.crt")))
		Expect(keyFile).To(Equal(filepath.Join(dir, "bbs.key")))

		cert := leaf(certFile, keyFile)
		Expect(cert.DNSNames).To(ConsistOf("localhost", "bbs.service.cf.internal"))
		Expect(cert.IPAddresses).To(HaveLen(3))
		Expect(cert.ExtKeyUsage).To(ConsistOf(x509.ExtKeyUsageServerAuth))
		for _, host := range []string{"127.0.0.1", "::1", "localhost", "10.0.0.5", "bbs.service.cf.internal"} {
			_, err := cert.Verify(x509.VerifyOptions{DNSName: host, Roots: pool()})
			Expect(err).NotTo(HaveOccurred(), host)
		}
	})

	It("refuses names that would escape the directory or replace the CA", func() {
		for _, name := range []string{"", "ca", "../x", "a/b"} {
			_, _, err := ca.GenerateClient(name)
			Expect(err).To(HaveOccurred(), name)
		}
	})

	Describe("mutual TLS", func() {
		var (
			listener  net.Listener
			handshake chan error
			clientCfg *tls.Config
		)

		BeforeEach(func() {
			certFile, keyFile, err := ca.GenerateServer("server")
			Expect(err).NotTo(HaveOccurred())
			serverPair, err := tls.LoadX509KeyPair(certFile, keyFile)
			Expect(err).NotTo(HaveOccurred())

			listener, err = tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
				Certificates: []tls.Certificate{serverPair},
				ClientCAs:    pool(),
				ClientAuth:   tls.RequireAndVerifyClientCert,
				MinVersion:   tls.VersionTLS12,
			})
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(listener.Close)

			handshake = make(chan error, 1)
			go func() {
				conn, err := listener.Accept()
				if err != nil {
					handshake <- err
					return
				}
				defer conn.Close()
				err = conn.(*tls.Conn).Handshake()
				if err == nil {
					_, err = conn.Write([]byte("hello"))
				}
				handshake <- err
			}()

			clientCfg = &tls.Config{RootCAs: pool(), MinVersion: tls.VersionTLS12}
		})

		It("succeeds when the client presents a certificate from the CA", func() {
			certFile, keyFile, err := ca.GenerateClient("client")
			Expect(err).NotTo(HaveOccurred())
			clientPair, err := tls.LoadX509KeyPair(certFile, keyFile)
			Expect(err).NotTo(HaveOccurred())
			Expect(clientPair.Leaf.ExtKeyUsage).To(ConsistOf(x509.ExtKeyUsageClientAuth))
			clientCfg.Certificates = []tls.Certificate{clientPair}

			conn, err := tls.Dial("tcp", listener.Addr().String(), clientCfg)
			Expect(err).NotTo(HaveOccurred())
			defer conn.Close()
			got, err := io.ReadAll(conn)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(got)).To(Equal("hello"))
			Eventually(handshake).Should(Receive(BeNil()))
		})

		It("is refused when the client has no certificate", func() {
			conn, err := tls.Dial("tcp", listener.Addr().String(), clientCfg)
			if err == nil {
				// Under TLS 1.3 the client learns of the refusal on its first read.
				defer conn.Close()
				_, err = io.ReadAll(conn)
			}
			Expect(err).To(HaveOccurred())
			Eventually(handshake).Should(Receive(MatchError(ContainSubstring("certificate"))))
		})
	})
})
