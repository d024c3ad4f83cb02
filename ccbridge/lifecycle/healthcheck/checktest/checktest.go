//go:build linux

// Package checktest gives the healthcheck's tests a port that never answers.
package checktest

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
	"time"
)

// StalledListener listens on ip with an accept queue of one, never accepts,
// and fills the queue. Linux drops a SYN to a listener whose accept queue is
// full, without a reset, so every later connect to the returned port hangs
// until the dialler gives up: a timeout that does not depend on the network
// dropping anything. close releases the port and the queued connections.
func StalledListener(ip net.IP) (port int, close func(), err error) {
	ip4 := ip.To4()
	if ip4 == nil {
		return 0, nil, fmt.Errorf("%s is not an IPv4 address", ip)
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, nil, fmt.Errorf("socket: %w", err)
	}
	sa := &syscall.SockaddrInet4{}
	copy(sa.Addr[:], ip4)
	if err := syscall.Bind(fd, sa); err != nil {
		syscall.Close(fd)
		return 0, nil, fmt.Errorf("bind %s: %w", ip, err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		syscall.Close(fd)
		return 0, nil, fmt.Errorf("listen: %w", err)
	}
	bound, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		return 0, nil, fmt.Errorf("getsockname: %w", err)
	}
	port = bound.(*syscall.SockaddrInet4).Port

	var queued []net.Conn
	release := func() {
		syscall.Close(fd)
		for _, c := range queued {
			c.Close()
		}
	}
	addr := net.JoinHostPort(ip4.String(), strconv.Itoa(port))
	// The queue holds one connection (backlog 0 means one on Linux); a few
	// more attempts cover kernels that count differently.
	for range 8 {
		conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			queued = append(queued, conn)
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return port, release, nil
		}
		release()
		return 0, nil, fmt.Errorf("filling the accept queue of %s: %w", addr, err)
	}
	release()
	return 0, nil, fmt.Errorf("the accept queue of %s never filled", addr)
}
