package dialer

import (
	"net"

	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"
)

// userTimeoutOf reads a TCP connection's TCP_USER_TIMEOUT in ms.
func userTimeoutOf(conn net.Conn) int { return sockopt(conn, unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT) }

// sockopt reads one integer socket option of a TCP connection.
func sockopt(conn net.Conn, level, opt int) int {
	raw, err := conn.(*net.TCPConn).SyscallConn()
	Expect(err).NotTo(HaveOccurred())
	var v int
	var sockErr error
	Expect(raw.Control(func(fd uintptr) {
		v, sockErr = unix.GetsockoptInt(int(fd), level, opt)
	})).To(Succeed())
	Expect(sockErr).NotTo(HaveOccurred())
	return v
}
