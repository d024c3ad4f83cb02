package multivm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/vishvananda/netns"
)

// DialIn connects to addr from inside the network namespace ns: the
// socket is made there (on a thread switched into ns and back), so it
// keeps that namespace's routes for its whole life.
func DialIn(ctx context.Context, ns, addr string) (net.Conn, error) {
	runtime.LockOSThread()
	origin, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer origin.Close()
	target, err := netns.GetFromName(ns)
	if err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("namespace %s: %w", ns, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	var d net.Dialer
	conn, dialErr := d.DialContext(ctx, "tcp", addr)
	if err := netns.Set(origin); err != nil {
		// The thread is stuck in ns: leave it locked, so that it ends
		// with this goroutine instead of serving another.
		if conn != nil {
			conn.Close()
		}
		return nil, fmt.Errorf("returning from namespace %s: %w", ns, err)
	}
	runtime.UnlockOSThread()
	return conn, dialErr
}

// Forwarder listens on host loopback and joins each connection to the
// first of its targets that answers, dialled from the driver namespace:
// how the host (people, the HA suite) reaches "any receptor" or one BBS.
type Forwarder struct {
	ns       string
	targets  []string
	listener net.Listener

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	done  chan struct{}
	// last is the target that answered last: tried first, so a stopped
	// VM costs one connection its dial timeout, not every one.
	last string
}

// Forward listens on listen (127.0.0.1:0 for any port) for targets.
func (c *Cluster) Forward(listen string, targets ...string) (*Forwarder, error) {
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	f := &Forwarder{ns: c.DriverNS(), targets: targets, listener: l, conns: map[net.Conn]struct{}{}, done: make(chan struct{})}
	go f.serve()
	return f, nil
}

// Addr is the loopback address the forwarder listens on.
func (f *Forwarder) Addr() string { return f.listener.Addr().String() }

// Close stops listening and closes every forwarded connection.
func (f *Forwarder) Close() error {
	err := f.listener.Close()
	<-f.done
	f.mu.Lock()
	for conn := range f.conns {
		conn.Close()
	}
	f.mu.Unlock()
	return err
}

func (f *Forwarder) serve() {
	defer close(f.done)
	for {
		conn, err := f.listener.Accept()
		if err != nil {
			return
		}
		go f.join(conn)
	}
}

func (f *Forwarder) track(conns ...net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range conns {
		f.conns[c] = struct{}{}
	}
}

func (f *Forwarder) untrack(conns ...net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range conns {
		delete(f.conns, c)
		c.Close()
	}
}

func (f *Forwarder) join(in net.Conn) {
	var out net.Conn
	var errs []error
	f.mu.Lock()
	targets := append([]string(nil), f.targets...)
	if f.last != "" {
		targets = append([]string{f.last}, targets...)
	}
	f.mu.Unlock()
	for i, t := range targets {
		if i > 0 && t == targets[0] {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := DialIn(ctx, f.ns, t)
		cancel()
		if err == nil {
			out = c
			f.mu.Lock()
			f.last = t
			f.mu.Unlock()
			break
		}
		errs = append(errs, err)
	}
	if out == nil {
		_ = errors.Join(errs...)
		in.Close()
		return
	}
	f.track(in, out)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _, _ = io.Copy(out, in); closeWrite(out) }()
	go func() { defer wg.Done(); _, _ = io.Copy(in, out); closeWrite(in) }()
	wg.Wait()
	f.untrack(in, out)
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	} else {
		c.Close()
	}
}
