package main_test

import (
	"debug/elf"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"diego/ccbridge/lifecycle/healthcheck/checktest"
	"diego/test/ports"
)

func start(args ...string) *gexec.Session {
	GinkgoHelper()
	session, err := gexec.Start(exec.Command(healthcheckPath, args...), GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { session.Kill().Wait() })
	return session
}

// runs starts the binary and waits for it to exit with code.
func runs(code int, args ...string) *gexec.Session {
	GinkgoHelper()
	session := start(args...)
	Eventually(session, 5*time.Second).Should(gexec.Exit(code))
	return session
}

func needIP() string {
	GinkgoHelper()
	if machineIP == nil {
		Skip("this machine has no non-loopback IPv4 address to check")
	}
	return machineIP.String()
}

// listenOn listens on the machine's address, on port if it is not 0.
func listenOn(port int) net.Listener {
	GinkgoHelper()
	l, err := net.Listen("tcp", net.JoinHostPort(needIP(), strconv.Itoa(port)))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { l.Close() }) // a test may close it first
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()
	return l
}

// serve answers HTTP on the machine's address with whatever status returns.
func serve(status func(*http.Request) int) int {
	GinkgoHelper()
	l, err := net.Listen("tcp", net.JoinHostPort(needIP(), "0"))
	Expect(err).NotTo(HaveOccurred())
	release := make(chan struct{})
	s := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := status(r)
		if code == 0 { // hang until the test ends
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.WriteHeader(code)
	})}
	go s.Serve(l)
	DeferCleanup(s.Close)
	DeferCleanup(func() { close(release) })
	return l.Addr().(*net.TCPAddr).Port
}

func portArg(p int) string { return "-port=" + strconv.Itoa(p) }

var _ = Describe("healthcheck", func() {
	It("is statically linked", func() {
		f, err := elf.Open(healthcheckPath)
		Expect(err).NotTo(HaveOccurred())
		defer f.Close()
		for _, p := range f.Progs {
			Expect(p.Type).NotTo(Equal(elf.PT_INTERP), "the binary asks for a dynamic loader")
			Expect(p.Type).NotTo(Equal(elf.PT_DYNAMIC))
		}
		libs, err := f.ImportedLibraries()
		Expect(err).NotTo(HaveOccurred())
		Expect(libs).To(BeEmpty())
	})

	Describe("a TCP check", func() {
		It("exits 0 when the port accepts", func() {
			l := listenOn(0)
			s := runs(0, portArg(l.Addr().(*net.TCPAddr).Port))
			Expect(s.Err.Contents()).To(BeEmpty())
			Expect(s.Out.Contents()).To(BeEmpty())
		})

		It("exits 4 with the connect error when the port refuses", func() {
			addr := net.JoinHostPort(needIP(), strconv.Itoa(int(ports.Next())))
			_, port, _ := net.SplitHostPort(addr)
			s := runs(4, "-port="+port)
			Expect(s.Err).To(gbytes.Say("^" + regexp.QuoteMeta("failed to make TCP connection to "+addr+": dial tcp "+addr+": ") +
				".*connection refused\n$"))
		})

		It("exits 64 when the connect times out", func() {
			port, release, err := checktest.StalledListener(net.ParseIP(needIP()))
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(release)
			s := runs(64, portArg(port), "-timeout=200ms")
			Expect(s.Err).To(gbytes.Say(regexp.QuoteMeta(fmt.Sprintf("failed to make TCP connection to %s:%d: ", machineIP, port)) + ".*timeout"))
		})

		It("never checks loopback, where the app may also listen", func() {
			needIP()
			port := int(ports.Next())
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(l.Close)
			runs(4, portArg(port))
		})
	})

	Describe("an HTTP check", func() {
		It("exits 0 on 200 and sends diego's headers", func() {
			seen := make(chan *http.Request, 1)
			port := serve(func(r *http.Request) int {
				select {
				case seen <- r:
				default:
				}
				return http.StatusOK
			})
			runs(0, portArg(port), "-uri=/health")
			var r *http.Request
			Expect(seen).To(Receive(&r))
			Expect(r.URL.Path).To(Equal("/health"))
			Expect(r.Header.Get("User-Agent")).To(Equal("diego-healthcheck"))
			Expect(r.Header.Get("X-Forwarded-Proto")).To(Equal("https"))
		})

		It("exits 6 with the status and the time on anything but 200", func() {
			port := serve(func(*http.Request) int { return http.StatusInternalServerError })
			s := runs(6, portArg(port), "-uri=/health")
			Expect(s.Err).To(gbytes.Say(fmt.Sprintf(`^failed to make HTTP request to http://%s:%d/health: received status code 500 in \d+ms\n$`,
				regexp.QuoteMeta(machineIP.String()), port)))
		})

		It("exits 5 when the port refuses", func() {
			needIP()
			s := runs(5, portArg(int(ports.Next())), "-uri=/health")
			Expect(s.Err).To(gbytes.Say(`: connection refused\n$`))
		})

		It("exits 65 when the app does not answer in time", func() {
			port := serve(func(*http.Request) int { return 0 })
			s := runs(65, portArg(port), "-uri=/health", "-timeout=200ms")
			Expect(s.Err).To(gbytes.Say(`/health: timed out after 200ms\n$`))
		})
	})

	It("exits 3 when the only interface is loopback", func() {
		if os.Geteuid() != 0 {
			Skip("a new network namespace needs root")
		}
		cmd := exec.Command(healthcheckPath, "-port=8080")
		// A fresh network namespace has only lo, and that is down.
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
		s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		Eventually(s, 5*time.Second).Should(gexec.Exit(3))
		Expect(s.Err).To(gbytes.Say("^failed to find a suitable interface: "))
	})

	Describe("modes", func() {
		It("startup: retries until the app listens, then exits 0", func() {
			needIP()
			port := int(ports.Next())
			s := start(portArg(port), "-startup-interval=20ms", "-startup-timeout=10s")
			Consistently(s, 100*time.Millisecond).ShouldNot(gexec.Exit())
			listenOn(port)
			Eventually(s, 5*time.Second).Should(gexec.Exit(0))
		})

		It("startup: exits with the last failure after the startup timeout", func() {
			needIP()
			s := runs(4, portArg(int(ports.Next())), "-startup-interval=20ms", "-startup-timeout=200ms")
			Expect(s.Err).To(gbytes.Say(`connection refused\nFailed after [0-9.]+m?s: startup health check never passed\.\n$`))
		})

		It("liveness: runs while the app is up and exits at the first failure", func() {
			l := listenOn(0)
			s := start(portArg(l.Addr().(*net.TCPAddr).Port), "-liveness-interval=20ms")
			Consistently(s, 150*time.Millisecond).ShouldNot(gexec.Exit())
			l.Close()
			Eventually(s, 5*time.Second).Should(gexec.Exit(4))
		})

		It("readiness: runs while the app is ready and exits when it is not", func() {
			var ready atomic.Bool
			ready.Store(true)
			port := serve(func(*http.Request) int {
				if ready.Load() {
					return http.StatusOK
				}
				return http.StatusServiceUnavailable
			})
			s := start(portArg(port), "-uri=/ready", "-readiness-interval=20ms")
			Consistently(s, 150*time.Millisecond).ShouldNot(gexec.Exit())
			ready.Store(false)
			Eventually(s, 5*time.Second).Should(gexec.Exit(6))
			Expect(s.Err).To(gbytes.Say("received status code 503"))
		})

		It("until-ready: waits quietly until the app is ready, then exits 0", func() {
			var ready atomic.Bool
			port := serve(func(*http.Request) int {
				if ready.Load() {
					return http.StatusOK
				}
				return http.StatusServiceUnavailable
			})
			s := start(portArg(port), "-uri=/ready", "-until-ready-interval=20ms")
			Consistently(s, 150*time.Millisecond).ShouldNot(gexec.Exit())
			ready.Store(true)
			Eventually(s, 5*time.Second).Should(gexec.Exit(0))
			Expect(s.Err.Contents()).To(BeEmpty())
		})
	})

	Describe("the command line", func() {
		It("documents the flags and their defaults", func() {
			s := runs(0, "-h")
			for _, want := range []string{`-network string`, `(default "tcp")`, `-uri string`, `-port int`, `(default 8080)`,
				`-timeout duration`, `(default 1s)`, `-startup-interval duration`, `-startup-timeout duration`, `(default 1m0s)`,
				`-liveness-interval duration`, `-readiness-interval duration`, `-until-ready-interval duration`} {
				Expect(string(s.Err.Contents())).To(ContainSubstring(want))
			}
		})

		DescribeTable("exits 2 on misuse",
			func(msg string, args ...string) {
				s := runs(2, args...)
				Expect(s.Err).To(gbytes.Say(regexp.QuoteMeta(msg)))
			},
			Entry("an unknown flag", "flag provided but not defined: -bogus", "-bogus"),
			Entry("a bad duration", `invalid value "soon" for flag -timeout`, "-timeout=soon"),
			Entry("port 0", "-port must be 1-65535, got 0", "-port=0"),
			Entry("port 65536", "-port must be 1-65535, got 65536", "-port=65536"),
			Entry("a zero timeout", "-timeout must be positive, got 0s", "-timeout=0"),
			Entry("an empty network", "-network must not be empty", "-network="),
			Entry("two loop modes", "at most one of", "-liveness-interval=1s", "-until-ready-interval=1s"),
			Entry("a negative interval", "-startup-interval must not be negative", "-startup-interval=-1s"),
			Entry("an argument", `unexpected arguments ["extra"]`, "extra"),
		)
	})
})
