package reexec

import (
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"unsafe"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"
)

var _ = Describe("the init's process socket", func() {
	var (
		s    *initServer
		sock string
	)
	BeforeEach(func() {
		sock = filepath.Join(GinkgoT().TempDir(), InitSocketName)
		f, err := ListenInitSocket(sock)
		Expect(err).NotTo(HaveOccurred())
		info, err := os.Stat(sock)
		Expect(err).NotTo(HaveOccurred())
		Expect(info.Mode().Perm()).To(Equal(os.FileMode(0o600)), "only root connects")
		fd, err := unix.Dup(int(f.Fd()))
		f.Close()
		Expect(err).NotTo(HaveOccurred())
		// A stand-in shim: it waits at the gate, then shows what it got.
		s = newInitServer()
		s.shim = []string{"/bin/sh", "-c", `read -r g <&4; printf '%s %s' "$g" "$GARDEN_EXEC_SPEC"; echo err >&2; exit 7`}
		l, err := s.listen(fd)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(l.Close)
		// The reaper, as the init runs it.
		chld := make(chan os.Signal, 4)
		signal.Notify(chld, syscall.SIGCHLD)
		done := make(chan struct{})
		go func() {
			for {
				select {
				case <-chld:
					s.reap()
				case <-done:
					return
				}
			}
		}()
		DeferCleanup(func() { signal.Stop(chld); close(done) })
	})

	pipe := func() (*os.File, *os.File) {
		GinkgoHelper()
		r, w, err := os.Pipe()
		Expect(err).NotTo(HaveOccurred())
		// Closed again at the end, whether or not the spec closed them.
		DeferCleanup(func() { _, _ = r.Close(), w.Close() })
		return r, w
	}

	It("starts the shim with fds 0-4 and the spec, answers its pidfd, and sends its exit status", func() {
		conn, err := dialInit(sock)
		Expect(err).NotTo(HaveOccurred())
		defer conn.Close()
		inR, _ := pipe()
		outR, outW := pipe()
		errR, errW := pipe()
		_, statusW := pipe()
		gateR, gateW := pipe()
		pidfd, err := initStart(conn, `{"kind":"exec"}`, []*os.File{inR, outW, errW, statusW, gateR})
		Expect(err).NotTo(HaveOccurred())
		defer unix.Close(pidfd)
		for _, f := range []*os.File{inR, outW, errW, statusW, gateR} {
			f.Close()
		}
		pid, err := pidfdPid(pidfd)
		Expect(err).NotTo(HaveOccurred())
		Expect(unix.Kill(pid, 0)).To(Succeed(), "the shim waits at its gate")

		_, err = gateW.Write([]byte{'g'})
		Expect(err).NotTo(HaveOccurred())
		gateW.Close()
		Expect(io.ReadAll(outR)).To(Equal([]byte(`g {"kind":"exec"}`)))
		Expect(io.ReadAll(errR)).To(Equal([]byte("err\n")))
		ws, ok := initWait(conn)
		Expect(ok).To(BeTrue())
		Expect(exitStatus(ws)).To(Equal(7))
	})

	It("refuses a request without its five fds, saying why", func() {
		conn, err := dialInit(sock)
		Expect(err).NotTo(HaveOccurred())
		defer conn.Close()
		r, w := pipe()
		_, err = initStart(conn, "{}", []*os.File{r, w})
		Expect(err).To(MatchError(ContainSubstring("request carries 2 fds, want 5")))
	})

	It("closes the fds an empty request carried", func() {
		conn, err := dialInit(sock)
		Expect(err).NotTo(HaveOccurred())
		defer conn.Close()
		r, w := pipe()
		// A message of no bytes with an fd: unix.Sendmsg would add a byte.
		oob := unix.UnixRights(int(w.Fd()))
		msg := unix.Msghdr{Control: &oob[0]}
		msg.SetControllen(len(oob))
		rerr := conn.rc.Write(func(fd uintptr) bool {
			_, _, errno := unix.Syscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&msg)), 0)
			Expect(errno).To(BeZero())
			return true
		})
		Expect(rerr).NotTo(HaveOccurred())
		w.Close()
		// The read end sees EOF only once the init has closed its copy.
		eof := make(chan error, 1)
		go func() {
			_, err := io.ReadAll(r)
			eof <- err
		}()
		Eventually(eof).Should(Receive(BeNil()))
	})

	It("reads the host pid of a pidfd, and says when its process is gone", func() {
		fd, err := unix.PidfdOpen(os.Getpid(), 0)
		Expect(err).NotTo(HaveOccurred())
		defer unix.Close(fd)
		Expect(pidfdPid(fd)).To(Equal(os.Getpid()))
		Expect(pidfdPid(-1)).Error().To(HaveOccurred())
	})

	It("refuses an fd that is not a SOCK_SEQPACKET socket, leaving it open", func() {
		r, w := pipe()
		_, err := newInitServer().listen(int(r.Fd()))
		Expect(err).To(MatchError(ContainSubstring("is not a SOCK_SEQPACKET socket")))
		_, err = w.Write([]byte("x"))
		Expect(err).NotTo(HaveOccurred())
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		Expect(err).NotTo(HaveOccurred())
		defer unix.Close(fd)
		_, err = newInitServer().listen(fd)
		Expect(err).To(HaveOccurred())
	})

	It("reads a connection closed without an exit status as the init's end", func() {
		conn, err := dialInit(sock)
		Expect(err).NotTo(HaveOccurred())
		Expect(conn.Close()).To(Succeed())
		ws, ok := initWait(conn)
		Expect(ok).To(BeFalse())
		Expect(ws).To(BeZero())
	})
})
