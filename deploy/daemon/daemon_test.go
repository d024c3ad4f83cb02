package daemon_test

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/grouper"

	"diego/deploy/config"
	"diego/deploy/daemon"
	"diego/deploy/logging"
	"diego/test/ports"
)

// syncBuffer is a log destination the runner and the spec share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var _ = Describe("Process", func() {
	var (
		logs  *syncBuffer
		order []string
		mu    sync.Mutex
	)

	BeforeEach(func() {
		logs = &syncBuffer{}
		order = nil
	})

	note := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		order = append(order, s)
	}
	member := func(name string) grouper.Member {
		return grouper.Member{Name: name, Runner: ifrit.RunFunc(func(signals <-chan os.Signal, ready chan<- struct{}) error {
			note(name)
			close(ready)
			<-signals
			return nil
		})}
	}
	run := func(p daemon.Process, common config.Common) ifrit.Process {
		GinkgoHelper()
		proc := ifrit.Invoke(p.Runner(common, logging.New(logs, -8, "test")))
		DeferCleanup(func() {
			proc.Signal(os.Interrupt)
			Eventually(proc.Wait()).Should(Receive(BeNil()))
		})
		return proc
	}

	It("starts the daemon's members in order, runs OnReady, then logs ready", func() {
		run(daemon.Process{
			Members: grouper.Members{member("a"), member("b")},
			OnReady: func() { note("on-ready") },
		}, config.Common{LogLevel: "info"})
		Eventually(logs.String).Should(ContainSubstring(`"msg":"ready"`))
		mu.Lock()
		defer mu.Unlock()
		Expect(order).To(Equal([]string{"a", "b", "on-ready"}))
	})

	It("serves pprof on debug_address before the daemon's members", func() {
		addr := ports.Addr()
		run(daemon.Process{Members: grouper.Members{member("a")}}, config.Common{DebugAddress: addr})
		resp, err := http.Get("http://" + addr + "/debug/pprof/cmdline")
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
	})

	It("wraps the whole group with Wrap", func() {
		wrapped := false
		run(daemon.Process{
			Members: grouper.Members{member("a")},
			Wrap: func(r ifrit.Runner) ifrit.Runner {
				wrapped = true
				return r
			},
		}, config.Common{})
		Expect(wrapped).To(BeTrue())
	})
})

var _ = Describe("Kit", func() {
	It("runs what was deferred last first, once", func() {
		kit := daemon.NewKit("test", 0)
		var calls []int
		kit.Defer(func() { calls = append(calls, 1) })
		kit.Defer(func() { calls = append(calls, 2) })
		kit.Cleanup()
		kit.Cleanup()
		Expect(calls).To(Equal([]int{2, 1}))
	})
})

var _ = Describe("Background", func() {
	// waiting is a runner that is not ready until released, and returns
	// what it is told to, or nil on a signal.
	type waiting struct {
		release chan struct{}
		exit    chan error
		got     chan os.Signal
	}
	newWaiting := func() *waiting {
		return &waiting{release: make(chan struct{}), exit: make(chan error, 1), got: make(chan os.Signal, 1)}
	}
	run := func(w *waiting) ifrit.Runner {
		return ifrit.RunFunc(func(signals <-chan os.Signal, ready chan<- struct{}) error {
			select {
			case <-w.release:
				close(ready)
			case sig := <-signals:
				w.got <- sig
				return nil
			}
			select {
			case err := <-w.exit:
				return err
			case sig := <-signals:
				w.got <- sig
				return nil
			}
		})
	}

	It("is ready at once, while inner still waits, and passes a signal on", func() {
		w := newWaiting()
		p := ifrit.Background(daemon.Background(run(w)))
		Eventually(p.Ready()).Should(BeClosed())
		p.Signal(os.Interrupt)
		Eventually(w.got).Should(Receive(Equal(os.Interrupt)))
		Eventually(p.Wait()).Should(Receive(BeNil()))
	})

	It("ends with inner's error when inner ends by itself", func() {
		w := newWaiting()
		p := ifrit.Background(daemon.Background(run(w)))
		Eventually(p.Ready()).Should(BeClosed())
		close(w.release)
		lost := errors.New("lock lost")
		w.exit <- lost
		Eventually(p.Wait()).Should(Receive(MatchError(lost)))
	})
})
