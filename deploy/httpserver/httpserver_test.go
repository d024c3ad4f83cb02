package httpserver_test

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/ginkgomon_v2"

	"diego/deploy/httpserver"
	"diego/deploy/tlsconfig"
	"diego/test/certauthority"
)

var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	io.WriteString(w, "hello")
})

// get fetches url with client and returns the body.
func get(client *http.Client, url string) (string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

var _ = Describe("Runner", func() {
	var (
		runner  *httpserver.Runner
		process ifrit.Process
	)

	AfterEach(func() {
		ginkgomon_v2.Kill(process)
	})

	Describe("plain HTTP", func() {
		BeforeEach(func() {
			runner = httpserver.New("127.0.0.1:0", hello)
		})

		It("has no address until it is ready", func() {
			Expect(runner.Addr()).To(BeEmpty())
		})

		It("serves requests once ready, on the port it bound", func() {
			process = ginkgomon_v2.Invoke(runner)

			Expect(runner.Addr()).To(MatchRegexp(`^127\.0\.0\.1:[1-9][0-9]*$`))
			Expect(get(http.DefaultClient, "http://"+runner.Addr()+"/")).To(Equal("hello"))
		})

		It("exits nil on a signal and releases the port", func() {
			process = ginkgomon_v2.Invoke(runner)
			addr := runner.Addr()

			process.Signal(os.Interrupt)
			Eventually(process.Wait()).Should(Receive(BeNil()))

			ln, err := net.Listen("tcp", addr)
			Expect(err).NotTo(HaveOccurred())
			ln.Close()
		})

		It("returns a bind error without becoming ready", func() {
			taken, err := net.Listen("tcp", "127.0.0.1:0")
			Expect(err).NotTo(HaveOccurred())
			defer taken.Close()

			runner = httpserver.New(taken.Addr().String(), hello)
			ready := make(chan struct{})
			err = runner.Run(make(chan os.Signal), ready)

			Expect(err).To(MatchError(ContainSubstring("listening on " + taken.Addr().String())))
			Expect(ready).NotTo(BeClosed())
		})
	})

	Describe("graceful shutdown", func() {
		var (
			entered chan struct{}
			release chan struct{}
		)

		BeforeEach(func() {
			entered = make(chan struct{}, 1)
			release = make(chan struct{})
			// The handler may outlive its spec, so it keeps its own channels.
			entered, release := entered, release
			slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				entered <- struct{}{}
				select {
				case <-release:
					io.WriteString(w, "finished")
				case <-r.Context().Done():
				}
			})
			runner = httpserver.New("127.0.0.1:0", slow)
		})

		AfterEach(func() {
			close(release)
		})

		// inFlight starts a request and waits until the handler has it.
		inFlight := func() <-chan string {
			result := make(chan string, 1)
			go func() {
				defer GinkgoRecover()
				body, err := get(http.DefaultClient, "http://"+runner.Addr()+"/")
				if err != nil {
					body = "error: " + err.Error()
				}
				result <- body
			}()
			Eventually(entered).Should(Receive())
			return result
		}

		It("lets an in-flight request finish before exiting", func() {
			process = ginkgomon_v2.Invoke(runner)
			result := inFlight()

			process.Signal(os.Interrupt)
			Consistently(process.Wait()).ShouldNot(Receive())

			release <- struct{}{}
			Eventually(result).Should(Receive(Equal("finished")))
			Eventually(process.Wait()).Should(Receive(BeNil()))
		})

		It("gives up on requests still running after ShutdownTimeout", func() {
			runner.ShutdownTimeout = 50 * time.Millisecond
			process = ginkgomon_v2.Invoke(runner)
			result := inFlight()

			process.Signal(os.Interrupt)
			Eventually(process.Wait()).Should(Receive(BeNil()))
			Eventually(result).Should(Receive(HavePrefix("error:")))
		})
	})

	Describe("TLS", func() {
		var clientCert, clientKey, caFile string

		BeforeEach(func() {
			ca, err := certauthority.New(GinkgoT().TempDir())
			Expect(err).NotTo(HaveOccurred())
			serverCert, serverKey, err := ca.GenerateServer("server")
			Expect(err).NotTo(HaveOccurred())
			clientCert, clientKey, err = ca.GenerateClient("client")
			Expect(err).NotTo(HaveOccurred())
			caFile = ca.CAFile()

			serverCfg, err := tlsconfig.ServerConfig(serverCert, serverKey, caFile)
			Expect(err).NotTo(HaveOccurred())
			runner = httpserver.NewTLS("127.0.0.1:0", hello, serverCfg)
			runner.ErrorLog = log.New(GinkgoWriter, "", 0)
		})

		It("serves HTTPS to a client with a valid certificate", func() {
			process = ginkgomon_v2.Invoke(runner)

			clientCfg, err := tlsconfig.ClientConfig(clientCert, clientKey, caFile)
			Expect(err).NotTo(HaveOccurred())
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: clientCfg}}
			Expect(get(client, "https://"+runner.Addr()+"/")).To(Equal("hello"))
		})

		It("refuses a client without a certificate", func() {
			process = ginkgomon_v2.Invoke(runner)

			clientCfg, err := tlsconfig.ClientConfig("", "", caFile)
			Expect(err).NotTo(HaveOccurred())
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: clientCfg}}
			_, err = get(client, "https://"+runner.Addr()+"/")
			Expect(err).To(MatchError(ContainSubstring("certificate required")))
		})

		It("refuses a config without a certificate, before becoming ready", func() {
			runner = httpserver.NewTLS("127.0.0.1:0", hello, &tls.Config{})
			ready := make(chan struct{})

			Expect(runner.Run(make(chan os.Signal), ready)).To(MatchError(ContainSubstring("no certificate")))
			Expect(ready).NotTo(BeClosed())
		})
	})

	Describe("unix socket", func() {
		var socketPath string

		unixClient := func() *http.Client {
			return &http.Client{Transport: &http.Transport{
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, "unix", socketPath)
				},
			}}
		}

		BeforeEach(func() {
			socketPath = filepath.Join(GinkgoT().TempDir(), "server.sock")
			runner = httpserver.NewUnix(socketPath, hello)
		})

		It("serves on the socket and removes it on exit", func() {
			process = ginkgomon_v2.Invoke(runner)
			Expect(runner.Addr()).To(Equal(socketPath))
			Expect(get(unixClient(), "http://unix/")).To(Equal("hello"))

			ginkgomon_v2.Interrupt(process)
			Expect(socketPath).NotTo(BeAnExistingFile())
		})

		It("replaces a stale socket", func() {
			stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: socketPath, Net: "unix"})
			Expect(err).NotTo(HaveOccurred())
			stale.SetUnlinkOnClose(false)
			stale.Close()
			Expect(socketPath).To(BeAnExistingFile())

			process = ginkgomon_v2.Invoke(runner)
			Expect(get(unixClient(), "http://unix/")).To(Equal("hello"))
		})

		It("never removes a file that is not a socket", func() {
			Expect(os.WriteFile(socketPath, []byte("precious"), 0o600)).To(Succeed())

			err := runner.Run(make(chan os.Signal), make(chan struct{}))
			Expect(err).To(MatchError(ContainSubstring("not a socket")))
			Expect(os.ReadFile(socketPath)).To(Equal([]byte("precious")))
		})
	})
})
