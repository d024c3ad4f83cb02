package healthcheck_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	check "diego/ccbridge/lifecycle/healthcheck"
	"diego/ccbridge/lifecycle/healthcheck/checktest"
	"diego/test/ports"
)

var loopback = net.IPv4(127, 0, 0, 1)

// checker probes port on 127.0.0.1: discovery would skip loopback, so the
// tests of the probe itself inject the address.
func checker(port int, uri string) check.Checker {
	return check.Checker{
		Network: "tcp",
		URI:     uri,
		Port:    port,
		Timeout: 200 * time.Millisecond,
		IP:      func() (net.IP, error) { return loopback, nil },
	}
}

func listen() net.Listener {
	GinkgoHelper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(l.Close)
	return l
}

func portOf(addr net.Addr) int { return addr.(*net.TCPAddr).Port }

// server serves h on 127.0.0.1 and returns its port.
func server(h http.HandlerFunc) int {
	GinkgoHelper()
	s := httptest.NewServer(h)
	DeferCleanup(s.Close)
	return portOf(s.Listener.Addr())
}

// blocking serves a handler that never answers until the test ends.
func blocking() int {
	GinkgoHelper()
	release := make(chan struct{})
	port := server(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	DeferCleanup(func() { close(release) }) // runs before the server's Close
	return port
}

func expectCheckError(err error, code int, message string) {
	GinkgoHelper()
	var e *check.Error
	Expect(errors.As(err, &e)).To(BeTrue(), "want an *check.Error, got %v", err)
	Expect(e.Code).To(Equal(code))
	Expect(e.Message).To(MatchRegexp(message))
}

var _ = Describe("Checker", func() {
	ctx := context.Background()

	Describe("a TCP check", func() {
		It("passes when the port accepts", func() {
			l := listen()
			Expect(checker(portOf(l.Addr()), "").Check(ctx)).To(Succeed())
		})

		It("fails with 4 and the connect error when the port refuses", func() {
			port := int(ports.Next())
			err := checker(port, "").Check(ctx)
			addr := fmt.Sprintf("127.0.0.1:%d", port)
			expectCheckError(err, check.CodeTCPFailure,
				"^"+regexp.QuoteMeta("failed to make TCP connection to "+addr+": dial tcp "+addr+": ")+".*connection refused$")
		})

		It("fails with 64 when the connect times out", func() {
			port, release, err := checktest.StalledListener(loopback)
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(release)
			start := time.Now()
			err = checker(port, "").Check(ctx)
			Expect(time.Since(start)).To(BeNumerically(">=", 200*time.Millisecond))
			expectCheckError(err, check.CodeTCPTimeout,
				"^"+regexp.QuoteMeta(fmt.Sprintf("failed to make TCP connection to 127.0.0.1:%d: ", port))+".*timeout")
		})

		It("dials with the given network", func() {
			c := checker(int(ports.Next()), "")
			c.Network = "udp" // nothing answers, yet a UDP dial needs no answer
			Expect(c.Check(ctx)).To(Succeed())
			c.Network = "bogus"
			expectCheckError(c.Check(ctx), check.CodeTCPFailure, "unknown network bogus")
		})
	})

	Describe("an HTTP check", func() {
		It("GETs the URI with diego's headers and passes on 200", func() {
			seen := make(chan *http.Request, 1)
			port := server(func(w http.ResponseWriter, r *http.Request) { seen <- r })
			Expect(checker(port, "/health?deep=1").Check(ctx)).To(Succeed())
			var r *http.Request
			Expect(seen).To(Receive(&r))
			Expect(r.Method).To(Equal(http.MethodGet))
			Expect(r.URL.RequestURI()).To(Equal("/health?deep=1"))
			Expect(r.Host).To(Equal("127.0.0.1:" + strconv.Itoa(port)))
			Expect(r.Header.Get("User-Agent")).To(Equal("diego-healthcheck"))
			Expect(r.Header.Get("X-Forwarded-Proto")).To(Equal("https"))
		})

		It("adds the leading slash a URI lacks", func() {
			seen := make(chan string, 1)
			port := server(func(w http.ResponseWriter, r *http.Request) { seen <- r.URL.Path })
			Expect(checker(port, "health").Check(ctx)).To(Succeed())
			Expect(seen).To(Receive(Equal("/health")))
		})

		DescribeTable("fails with 6 and the status on anything but 200",
			func(status int) {
				port := server(func(w http.ResponseWriter, r *http.Request) {
					if status == http.StatusFound {
						http.Redirect(w, r, "/elsewhere", status)
						return
					}
					w.WriteHeader(status)
				})
				err := checker(port, "/health").Check(ctx)
				expectCheckError(err, check.CodeHTTPFailure, fmt.Sprintf(
					`^failed to make HTTP request to http://127\.0\.0\.1:%d/health: received status code %d in \d+ms$`, port, status))
			},
			Entry("500", http.StatusInternalServerError),
			Entry("503", http.StatusServiceUnavailable),
			Entry("204", http.StatusNoContent),
			Entry("a redirect, which is not followed", http.StatusFound),
		)

		It("fails with 5 when the port refuses", func() {
			port := int(ports.Next())
			err := checker(port, "/health").Check(ctx)
			expectCheckError(err, check.CodeHTTPRefused, fmt.Sprintf(
				`^failed to make HTTP request to http://127\.0\.0\.1:%d/health: connection refused$`, port))
		})

		It("fails with 65 when the app does not answer in time", func() {
			port := blocking()
			start := time.Now()
			err := checker(port, "/health").Check(ctx)
			Expect(time.Since(start)).To(BeNumerically(">=", 200*time.Millisecond))
			expectCheckError(err, check.CodeHTTPTimeout, fmt.Sprintf(
				`^failed to make HTTP request to http://127\.0\.0\.1:%d/health: timed out after 200ms$`, port))
		})

		It("fails with 65 when the connect times out", func() {
			port, release, err := checktest.StalledListener(loopback)
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(release)
			expectCheckError(checker(port, "/health").Check(ctx), check.CodeHTTPTimeout, "timed out after 200ms$")
		})

		It("fails with 6 when the connection closes without an answer", func() {
			l := listen()
			go func() {
				defer GinkgoRecover()
				for {
					conn, err := l.Accept()
					if err != nil {
						return
					}
					conn.Close()
				}
			}()
			err := checker(portOf(l.Addr()), "/health").Check(ctx)
			// EOF, a reset or "server closed idle connection", as the race goes;
			// the net/http wrapper that repeats the URL is dropped.
			expectCheckError(err, check.CodeHTTPFailure, fmt.Sprintf(
				`^failed to make HTTP request to http://127\.0\.0\.1:%d/health: [^"]+$`, portOf(l.Addr())))
		})

		It("fails with 127 when the URI makes no request", func() {
			err := checker(int(ports.Next()), "/\x7f").Check(ctx)
			expectCheckError(err, check.CodeUnknown, "^failed to build HTTP request for ")
		})
	})

	Describe("finding the address", func() {
		It("fails with 3 when there is no suitable address", func() {
			c := checker(1, "")
			c.IP = check.Discover(func() ([]net.Addr, error) {
				return []net.Addr{&net.IPNet{IP: loopback, Mask: net.CIDRMask(8, 32)}}, nil
			})
			expectCheckError(c.Check(ctx), check.CodeNoInterface, "^failed to find a suitable interface: ")
		})

		It("fails with 3 when the interfaces cannot be listed", func() {
			c := checker(1, "")
			c.IP = check.Discover(func() ([]net.Addr, error) { return nil, errors.New("no netlink") })
			expectCheckError(c.Check(ctx), check.CodeNoInterface, "^failed to find a suitable interface: no netlink$")
		})

		It("fails with 3 when the lookup fails with a plain error", func() {
			c := checker(1, "/health")
			c.IP = func() (net.IP, error) { return nil, errors.New("boom") }
			expectCheckError(c.Check(ctx), check.CodeNoInterface, "boom$")
		})
	})
})

var _ = Describe("FirstIPv4", func() {
	ipnet := func(s string) net.Addr { ip, n, _ := net.ParseCIDR(s); n.IP = ip; return n }

	DescribeTable("picks the first non-loopback IPv4 address in order",
		func(addrs []net.Addr, want string) {
			ip, ok := check.FirstIPv4(addrs)
			if want == "" {
				Expect(ok).To(BeFalse())
				Expect(ip).To(BeNil())
				return
			}
			Expect(ok).To(BeTrue())
			Expect(ip.String()).To(Equal(want))
			Expect(ip).To(HaveLen(net.IPv4len))
		},
		Entry("nothing", nil, ""),
		Entry("only loopback", []net.Addr{ipnet("127.0.0.1/8"), ipnet("::1/128")}, ""),
		Entry("only IPv6", []net.Addr{ipnet("fe80::1/64"), ipnet("2001:db8::5/64")}, ""),
		Entry("loopback first", []net.Addr{ipnet("127.0.0.1/8"), ipnet("10.254.0.2/30")}, "10.254.0.2"),
		Entry("any 127/8 is loopback", []net.Addr{ipnet("127.1.2.3/8"), ipnet("10.254.0.6/30")}, "10.254.0.6"),
		Entry("IPv6 first", []net.Addr{ipnet("2001:db8::5/64"), ipnet("10.0.0.1/24"), ipnet("10.0.0.2/24")}, "10.0.0.1"),
		Entry("an *IPAddr", []net.Addr{&net.IPAddr{IP: net.ParseIP("192.0.2.7")}}, "192.0.2.7"),
		Entry("an IPv4-mapped IPv6 form", []net.Addr{&net.IPNet{IP: net.ParseIP("::ffff:192.0.2.8")}}, "192.0.2.8"),
		Entry("another kind of address", []net.Addr{&net.UnixAddr{Name: "/tmp/x"}, ipnet("192.0.2.1/24")}, "192.0.2.1"),
	)
})

var _ = Describe("InterfaceAddrs", func() {
	It("lists only addresses of interfaces that are up", func() {
		addrs, err := check.InterfaceAddrs()
		Expect(err).NotTo(HaveOccurred())
		ifaces, err := net.Interfaces()
		Expect(err).NotTo(HaveOccurred())
		down := map[string]bool{}
		for _, ifc := range ifaces {
			if ifc.Flags&net.FlagUp == 0 {
				as, _ := ifc.Addrs()
				for _, a := range as {
					down[a.String()] = true
				}
			}
		}
		for _, a := range addrs {
			Expect(down).NotTo(HaveKey(a.String()))
		}
	})
})

var _ = Describe("Code", func() {
	It("maps nil, check errors (wrapped too) and anything else", func() {
		Expect(check.Code(nil)).To(Equal(0))
		e := &check.Error{Code: check.CodeTCPTimeout, Message: "slow"}
		Expect(check.Code(e)).To(Equal(64))
		Expect(check.Code(fmt.Errorf("again: %w", e))).To(Equal(64))
		Expect(e.Error()).To(Equal("slow"))
		Expect(check.Code(errors.New("what"))).To(Equal(127))
		Expect(check.Code(context.Canceled)).To(Equal(127))
	})
})
