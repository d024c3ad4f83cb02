package dialer

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"
)

var _ = Describe("the dialer", func() {
	var (
		d        *Dialer
		mu       sync.Mutex
		attempts []string
		dead     map[string]bool // never connect, as a vanished VM
		refused  map[string]bool
	)

	BeforeEach(func() {
		attempts = nil
		dead = map[string]bool{}
		refused = map[string]bool{}
		d = New()
		d.lookup = func(_ context.Context, host string) ([]string, error) {
			Expect(host).To(Equal("bbs.service.cf.internal"))
			return []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}, nil
		}
		d.dial = func(ctx context.Context, _, addr string) (net.Conn, error) {
			mu.Lock()
			attempts = append(attempts, addr)
			mu.Unlock()
			switch {
			case dead[addr]:
				<-ctx.Done()
				return nil, ctx.Err()
			case refused[addr]:
				return nil, errors.New("connection refused")
			}
			client, server := net.Pipe()
			server.Close()
			return client, nil
		}
	})

	tried := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), attempts...)
	}

	It("connects to the first address when it answers", func() {
		conn, err := d.DialContext(context.Background(), "tcp", "bbs.service.cf.internal:8889")
		Expect(err).NotTo(HaveOccurred())
		conn.Close()
		Expect(tried()).To(Equal([]string{"10.0.0.1:8889"}))
	})

	It("tries the next address once one has taken the fallback delay, and starts with the one that connected next time", func() {
		dead["10.0.0.1:8889"] = true
		started := time.Now()
		conn, err := d.DialContext(context.Background(), "tcp", "bbs.service.cf.internal:8889")
		Expect(err).NotTo(HaveOccurred())
		conn.Close()
		Expect(time.Since(started)).To(BeNumerically("<", DialTimeout/2))
		Expect(tried()).To(Equal([]string{"10.0.0.1:8889", "10.0.0.2:8889"}))

		attempts = nil
		conn, err = d.DialContext(context.Background(), "tcp", "bbs.service.cf.internal:8889")
		Expect(err).NotTo(HaveOccurred())
		conn.Close()
		Expect(tried()).To(Equal([]string{"10.0.0.2:8889"}))
	})

	It("goes straight to the next address when one refuses", func() {
		refused["10.0.0.1:8889"] = true
		refused["10.0.0.2:8889"] = true
		started := time.Now()
		conn, err := d.DialContext(context.Background(), "tcp", "bbs.service.cf.internal:8889")
		Expect(err).NotTo(HaveOccurred())
		conn.Close()
		Expect(time.Since(started)).To(BeNumerically("<", fallbackDelay))
		Expect(tried()).To(Equal([]string{"10.0.0.1:8889", "10.0.0.2:8889", "10.0.0.3:8889"}))
	})

	It("fails when none connects, having tried every address", func() {
		refused["10.0.0.1:8889"] = true
		refused["10.0.0.2:8889"] = true
		refused["10.0.0.3:8889"] = true
		_, err := d.DialContext(context.Background(), "tcp", "bbs.service.cf.internal:8889")
		Expect(err).To(MatchError(ContainSubstring("dial bbs.service.cf.internal:8889: connection refused")))
		Expect(tried()).To(ConsistOf("10.0.0.1:8889", "10.0.0.2:8889", "10.0.0.3:8889"), "every address was tried")
	})

	It("gives up on an address that answers nothing when the context ends", func() {
		dead["10.0.0.1:8889"] = true
		dead["10.0.0.2:8889"] = true
		dead["10.0.0.3:8889"] = true
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := d.DialContext(ctx, "tcp", "bbs.service.cf.internal:8889")
		Expect(err).To(MatchError(context.DeadlineExceeded))
		Expect(tried()).To(HaveLen(3))
	})

	It("sets TCP_USER_TIMEOUT and keep-alive probes on a real socket", func() {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		defer l.Close()
		conn, err := New().DialContext(context.Background(), "tcp", l.Addr().String())
		Expect(err).NotTo(HaveOccurred())
		defer conn.Close()
		Expect(userTimeoutOf(conn)).To(Equal(int(userTimeout.Milliseconds())))
		Expect(sockopt(conn, unix.SOL_SOCKET, unix.SO_KEEPALIVE)).To(Equal(1))
		Expect(sockopt(conn, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE)).To(Equal(int(keepAlive.Idle.Seconds())))
		Expect(sockopt(conn, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL)).To(Equal(int(keepAlive.Interval.Seconds())))
		Expect(sockopt(conn, unix.IPPROTO_TCP, unix.TCP_KEEPCNT)).To(Equal(keepAlive.Count))
	})
})
