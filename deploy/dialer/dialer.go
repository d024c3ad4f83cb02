// Package dialer is how diego's clients connect to a service name that
// resolves to several instances (bbs.service.cf.internal,
// receptor.service.cf.internal): racing the addresses, and bounding how
// long a connection to an instance that vanished goes unnoticed
// (decision 110).
package dialer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Connection timing (decision 110). A BBS whose VM is gone answers
// nothing: no RST, and after ARP fails only soft errors. These bound how
// long a client waits on it.
const (
	// DialTimeout bounds one connection attempt (diego's client: 5 s).
	DialTimeout = 5 * time.Second
	// fallbackDelay is how long one address may take to connect before
	// the next is tried alongside it (Happy Eyeballs' stagger): a live
	// BBS on the same network connects in well under it.
	fallbackDelay = 300 * time.Millisecond
	// userTimeout is TCP_USER_TIMEOUT: a connection whose sent data (a
	// request, a keep-alive probe) stays unacknowledged this long fails,
	// instead of retransmitting for the client's whole timeout.
	userTimeout = 4 * time.Second
)

// keepAlive probes idle pooled connections and event streams, so that one
// to a vanished BBS is dropped within about 8 s rather than used.
var keepAlive = net.KeepAliveConfig{Enable: true, Idle: 5 * time.Second, Interval: time.Second, Count: 3}

// Dialer connects to a name that resolves to several BBSes (decision 82):
// it starts with the address that last connected, tries the next one once
// an attempt has taken fallbackDelay or failed, and takes the first that
// connects, so a dead instance costs a new connection fallbackDelay, not
// the kernel's ARP or SYN timeouts.
type Dialer struct {
	// dial connects to one address; lookup resolves a name.
	dial   func(ctx context.Context, network, addr string) (net.Conn, error)
	lookup func(ctx context.Context, host string) ([]string, error)

	mu   sync.Mutex
	last map[string]string // host:port -> address:port that last connected
}

// New returns a dialer with the timings above.
func New() *Dialer {
	nd := &net.Dialer{Timeout: DialTimeout, KeepAliveConfig: keepAlive, Control: setUserTimeout}
	return &Dialer{dial: nd.DialContext, lookup: net.DefaultResolver.LookupHost, last: map[string]string{}}
}

func setUserTimeout(_, _ string, c syscall.RawConn) error {
	var sockErr error
	err := c.Control(func(fd uintptr) {
		sockErr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(userTimeout.Milliseconds()))
	})
	if err != nil {
		return err
	}
	return sockErr
}

// DialContext is an http.Transport's dial function.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var ips []string
	if net.ParseIP(host) != nil {
		ips = []string{host}
	} else if ips, err = d.lookup(ctx, host); err != nil {
		return nil, err
	}
	targets := make([]string, 0, len(ips))
	d.mu.Lock()
	last := d.last[addr]
	d.mu.Unlock()
	if last != "" {
		targets = append(targets, last)
	}
	for _, ip := range ips {
		if t := net.JoinHostPort(ip, port); t != last {
			targets = append(targets, t)
		}
	}
	if len(targets) == 1 {
		return d.dial(ctx, network, targets[0])
	}
	conn, target, err := d.race(ctx, network, targets)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	d.mu.Lock()
	d.last[addr] = target
	d.mu.Unlock()
	return conn, nil
}

type dialResult struct {
	conn   net.Conn
	target string
	err    error
}

// race dials targets in order, starting the next when the previous has
// failed or taken fallbackDelay, and returns the first connection made;
// the others are cancelled or closed.
func (d *Dialer) race(ctx context.Context, network string, targets []string) (net.Conn, string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan dialResult, len(targets))
	started, pending := 0, 0
	start := func() {
		t := targets[started]
		started++
		pending++
		go func() {
			c, err := d.dial(ctx, network, t)
			results <- dialResult{conn: c, target: t, err: err}
		}()
	}
	start()
	timer := time.NewTimer(fallbackDelay)
	defer timer.Stop()
	var errs []error
	for pending > 0 {
		select {
		case <-timer.C:
			if started < len(targets) {
				start()
				timer.Reset(fallbackDelay)
			}
		case r := <-results:
			pending--
			if r.err == nil {
				// Close the connections that lose the race.
				go func(n int) {
					for range n {
						if l := <-results; l.conn != nil {
							l.conn.Close()
						}
					}
				}(pending)
				return r.conn, r.target, nil
			}
			errs = append(errs, r.err)
			if started < len(targets) {
				start()
				timer.Reset(fallbackDelay)
			}
		}
	}
	return nil, "", errors.Join(errs...)
}
