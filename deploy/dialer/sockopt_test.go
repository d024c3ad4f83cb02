package dialer

import (
	"net"

	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"
)

// userTimeoutOf reads a TCP connection's TCP_USER_TIMEOUT in ms.
func userTimeoutOf(conn net.Conn) int {
	raw, err := conn.(*net.TCPConn).SyscallConn()
	Expect(err).NotTo(HaveOccurred())
	var v int
	var sockErr error
	Expect(raw.Control(func(fd uintptr) {
		v, sockErr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT)
	})).To(Succeed())
	Expect(sockErr).NotTo(HaveOccurred())
	return v
}
