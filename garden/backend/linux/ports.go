package linux

import (
	"fmt"
	"io"
	"net"
	"sync"
)

// portPool hands out host ports from [start, start+size).
type portPool struct {
	mu    sync.Mutex
	start uint32
	size  uint32
	next  uint32
	used  map[uint32]bool
}

func newPortPool(start, size uint32) *portPool {
	return &portPool{start: start, size: size, used: map[uint32]bool{}}
}

// acquire takes a specific port (when port > 0) or the next free one.
func (p *portPool) acquire(port uint32, usable func(uint32) bool) (uint32, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if port > 0 {
		if p.used[port] {
			return 0, fmt.Errorf("host port %d is already mapped", port)
		}
		p.used[port] = true
		return port, nil
	}
	for range p.size {
		candidate := p.start + p.next
		p.next = (p.next + 1) % p.size
		if !p.used[candidate] && usable(candidate) {
			p.used[candidate] = true
			return candidate, nil
		}
	}
	return 0, fmt.Errorf("insufficient ports remaining in the pool %d-%d", p.start, p.start+p.size-1)
}

func (p *portPool) release(port uint32) {
	p.mu.Lock()
	delete(p.used, port)
	p.mu.Unlock()
}

// proxy forwards 127.0.0.1:<host port> to the container, because DNAT does
// not see connections to the loopback address (spec cell §7.2 item 5).
type proxy struct {
	listener net.Listener
	target   string
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]bool
}

func startProxy(listener net.Listener, target string) *proxy {
	p := &proxy{listener: listener, target: target, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.serve()
	return p
}

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		in, err := p.listener.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.forward(in)
	}
}

func (p *proxy) track(c net.Conn, add bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
}

func (p *proxy) forward(in net.Conn) {
	defer p.wg.Done()
	defer in.Close()
	out, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer out.Close()
	p.track(in, true)
	p.track(out, true)
	defer p.track(in, false)
	defer p.track(out, false)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(out, in)
	go pipe(in, out)
	<-done
	<-done
}

func (p *proxy) Close() {
	p.listener.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
