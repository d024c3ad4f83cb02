package linux

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/clock"
	"diego/garden"
)

var _ = Describe("the backend's pure parts", func() {
	Describe("New", func() {
		newBackend := func(cfg Config) (*Backend, error) {
			return New(cfg, Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: clock.NewClock()})
		}

		It("fills in defaults", func() {
			b, err := newBackend(Config{NetworkPool: "10.252.0.0/22", Tag: "b", PortPoolStart: 61001, PortPoolSize: 10})
			Expect(err).NotTo(HaveOccurred())
			Expect(b.cfg.IPTablesBin).To(Equal("iptables"))
			Expect(b.cfg.IPTablesRestoreBin).To(Equal("iptables-restore"))
			Expect(b.cfg.Mountinfo).To(Equal("/proc/self/mountinfo"))
			Expect(b.cfg.MTU).To(Equal(1500))
			self, _ := os.Executable()
			Expect(b.cfg.InitBin).To(Equal(self))
			Expect(b.maxContainers()).To(Equal(256))
		})

		It("caps containers at max_containers when it is below the pool's /30s", func() {
			b, err := newBackend(Config{NetworkPool: "10.252.0.0/22", MaxContainers: 5})
			Expect(err).NotTo(HaveOccurred())
			Expect(b.maxContainers()).To(Equal(5))
			b, err = newBackend(Config{NetworkPool: "10.252.0.0/28", MaxContainers: 5})
			Expect(err).NotTo(HaveOccurred())
			Expect(b.maxContainers()).To(Equal(4))
		})

		DescribeTable("refuses bad networks",
			func(cfg Config, want string) {
				_, err := newBackend(cfg)
				Expect(err).To(MatchError(ContainSubstring(want)))
			},
			Entry("no pool", Config{}, `network pool "" is not an IPv4 CIDR`),
			Entry("an IPv6 pool", Config{NetworkPool: "fd00::/64"}, "is not an IPv4 CIDR"),
			Entry("a pool below a /30", Config{NetworkPool: "10.0.0.0/31"}, "smaller than one /30"),
			Entry("a bad deny network", Config{NetworkPool: "10.0.0.0/30", DenyNetworks: []string{"10.0.0.1"}}, `deny network "10.0.0.1" is not a CIDR`),
		)
	})

	Describe("validHandle", func() {
		It("accepts anything that names a directory", func() {
			for _, h := range []string{"a", "with space", "uuid-1234", "..a", strings.Repeat("x", 255)} {
				Expect(validHandle(h)).To(Succeed(), h)
			}
		})

		It("refuses what would not", func() {
			for _, h := range []string{"", ".", "..", "a/b", "nul\x00", strings.Repeat("x", 256)} {
				Expect(validHandle(h)).To(MatchError(ContainSubstring("invalid handle")), h)
			}
		})
	})

	Describe("resolveRootFS", func() {
		var (
			b        *Backend
			def, alt string
		)

		BeforeEach(func() {
			def, alt = GinkgoT().TempDir(), GinkgoT().TempDir()
			b = &Backend{cfg: Config{DefaultRootFS: def, RootFSMap: map[string]string{"docker:///busybox": alt, "preloaded:cflinuxfs3": alt + "/"}}}
		})

		resolve := func(spec garden.ContainerSpec) (string, bool, error) { return b.resolveRootFS(spec) }

		It("resolves every kind of reference", func() {
			Expect(resolve(garden.ContainerSpec{})).To(Equal(def))
			dir, ro, err := resolve(garden.ContainerSpec{RootFSPath: "raw://" + alt})
			Expect(err).NotTo(HaveOccurred())
			Expect(dir).To(Equal(alt))
			Expect(ro).To(BeTrue())
			dir, ro, err = resolve(garden.ContainerSpec{RootFSPath: alt})
			Expect(err).NotTo(HaveOccurred())
			Expect(dir).To(Equal(alt))
			Expect(ro).To(BeFalse())
			Expect(resolve(garden.ContainerSpec{Image: garden.ImageRef{URI: "docker:///busybox"}})).To(Equal(alt))
			Expect(resolve(garden.ContainerSpec{RootFSPath: "preloaded:cflinuxfs3"})).To(Equal(alt))
		})

		DescribeTable("explains what it cannot resolve",
			func(spec garden.ContainerSpec, want string) {
				_, _, err := resolve(spec)
				Expect(err).To(MatchError(ContainSubstring(want)))
			},
			Entry("both fields", garden.ContainerSpec{RootFSPath: "/a", Image: garden.ImageRef{URI: "/b"}}, "cannot provide both image.uri and rootfs"),
			Entry("an unmapped image", garden.ContainerSpec{RootFSPath: "docker:///ubuntu"}, `unknown rootfs "docker:///ubuntu"`),
			Entry("an unknown scheme", garden.ContainerSpec{RootFSPath: "http://x"}, `invalid rootfs "http://x"`),
			Entry("a missing directory", garden.ContainerSpec{RootFSPath: "/does/not/exist"}, "is not a directory"),
		)

		It("needs a default rootfs for specs without one", func() {
			b.cfg.DefaultRootFS = ""
			_, _, err := resolve(garden.ContainerSpec{})
			Expect(err).To(MatchError(ContainSubstring("no default_rootfs configured")))
		})
	})

	Describe("output plumbing", func() {
		It("fans output out, dropping a writer that fails", func() {
			var a, b strings.Builder
			f := newFanout(&a)
			f.add(nil)
			f.add(failingWriter{})
			f.add(&b)
			Expect(f.Write([]byte("one "))).To(Equal(4))
			Expect(f.writers).To(HaveLen(2))
			_, _ = f.Write([]byte("two"))
			Expect(a.String()).To(Equal("one two"))
			Expect(b.String()).To(Equal("one two"))
		})

		It("keeps the first 4 KiB of an error stream, without the trailing newline", func() {
			var l limitedBuffer
			_, _ = l.Write([]byte("bad thing\n"))
			Expect(l.String()).To(Equal("bad thing"))
			n, err := l.Write([]byte(strings.Repeat("x", 5000)))
			Expect(err).NotTo(HaveOccurred())
			Expect(n).To(Equal(5000))
			Expect(l.buf).To(HaveLen(4096))
		})
	})

	Describe("the depot's JSON", func() {
		It("replaces the file atomically and reads it back", func() {
			path := filepath.Join(GinkgoT().TempDir(), savedName)
			saved := savedContainer{Handle: "h", InitPid: 42, Network: containerNetwork{ID: "0a000000", Subnet: "10.0.0.0/30"},
				MappedPorts: []garden.PortMapping{{HostPort: 61001, ContainerPort: 8080}}, Properties: garden.Properties{"a": "b"}}
			Expect(writeJSON(path, saved)).To(Succeed())
			var got savedContainer
			Expect(readJSON(path, &got)).To(Succeed())
			Expect(got).To(Equal(saved))
			Expect(path + ".tmp").NotTo(BeAnExistingFile())
		})
	})

	Describe("the loopback proxy", func() {
		It("forwards connections both ways and closes them on Close", func() {
			backend, err := net.Listen("tcp", "127.0.0.1:0")
			Expect(err).NotTo(HaveOccurred())
			defer backend.Close()
			go func() {
				for {
					c, err := backend.Accept()
					if err != nil {
						return
					}
					go func() {
						defer c.Close()
						_, _ = io.Copy(c, c)
					}()
				}
			}()
			front, err := net.Listen("tcp", "127.0.0.1:0")
			Expect(err).NotTo(HaveOccurred())
			p := startProxy(front, backend.Addr().String())

			c, err := net.Dial("tcp", front.Addr().String())
			Expect(err).NotTo(HaveOccurred())
			_, err = c.Write([]byte("ping"))
			Expect(err).NotTo(HaveOccurred())
			buf := make([]byte, 4)
			_, err = io.ReadFull(c, buf)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(buf)).To(Equal("ping"))

			p.Close()
			_, err = c.Read(buf)
			Expect(err).To(HaveOccurred())
			_, err = net.Dial("tcp", front.Addr().String())
			Expect(err).To(HaveOccurred())
		})
	})
})

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("gone") }
