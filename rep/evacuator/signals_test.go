package evacuator_test

import (
	"errors"
	"os"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/tedsuo/ifrit"

	"diego/deploy/logging"
	"diego/rep/evacuator"
)

var _ = Describe("TrapSignals", func() {
	var (
		flag     *evacuator.Flag
		logs     *gbytes.Buffer
		received chan os.Signal
		release  chan struct{}
		group    ifrit.Runner
	)

	BeforeEach(func() {
		flag = evacuator.NewFlag()
		logs = gbytes.NewBuffer()
		received = make(chan os.Signal, 10)
		release = make(chan struct{})
		// The group stands in for the rep's: it records what reaches it,
		// and ends on a signal or when released (as when the evacuator
		// returns).
		group = ifrit.RunFunc(func(signals <-chan os.Signal, ready chan<- struct{}) error {
			close(ready)
			select {
			case sig := <-signals:
				received <- sig
				return nil
			case <-release:
				return errors.New("group ended")
			}
		})
	})

	start := func(evacuateOnShutdown bool) ifrit.Process {
		p := ifrit.Background(evacuator.TrapSignals(logging.New(logs, -8, "rep"), group, flag, evacuateOnShutdown))
		DeferCleanup(func() {
			p.Signal(os.Kill)
			Eventually(p.Wait()).Should(Receive())
		})
		Eventually(p.Ready()).Should(BeClosed())
		return p
	}

	It("listens for SIGUSR1, the 2015 drain signal", func() {
		Expect(evacuator.EvacuationSignal()).To(Equal(syscall.SIGUSR1))
	})

	It("turns the drain signal from the OS into the evacuation flag, without stopping the group", func() {
		// SIGUSR2 stands in for SIGUSR1, on which ginkgo prints a progress report.
		DeferCleanup(evacuator.UseEvacuationSignal(syscall.SIGUSR2))
		p := start(false)
		Expect(syscall.Kill(os.Getpid(), syscall.SIGUSR2)).To(Succeed())
		Eventually(flag.Evacuating).Should(BeTrue())
		Expect(logs).To(gbytes.Say("evacuation-signal"))
		Consistently(received).ShouldNot(Receive())
		Consistently(p.Wait()).ShouldNot(Receive())
	})

	It("passes SIGTERM and SIGINT on to the group by default", func() {
		p := start(false)
		p.Signal(syscall.SIGTERM)
		Eventually(received).Should(Receive(Equal(syscall.SIGTERM)))
		Eventually(p.Wait()).Should(Receive(BeNil()))
		Expect(flag.Evacuating()).To(BeFalse())
	})

	It("evacuates on the first SIGTERM with evacuate_on_shutdown, and stops on the second", func() {
		p := start(true)
		p.Signal(syscall.SIGTERM)
		Eventually(flag.Evacuating).Should(BeTrue())
		Consistently(received).ShouldNot(Receive())

		p.Signal(os.Interrupt)
		Eventually(received).Should(Receive(Equal(os.Interrupt)))
		Eventually(p.Wait()).Should(Receive(BeNil()))
	})

	It("returns what the group returns when it ends by itself", func() {
		p := start(true)
		p.Signal(os.Interrupt)
		Eventually(flag.Evacuating).Should(BeTrue())
		close(release)
		Eventually(p.Wait()).Should(Receive(MatchError("group ended")))
	})

	It("is ready only when the group is", func() {
		groupReady := make(chan struct{})
		group = ifrit.RunFunc(func(signals <-chan os.Signal, ready chan<- struct{}) error {
			<-groupReady
			close(ready)
			<-signals
			return nil
		})
		p := ifrit.Background(evacuator.TrapSignals(logging.Discard(), group, flag, false))
		Consistently(p.Ready()).ShouldNot(BeClosed())
		close(groupReady)
		Eventually(p.Ready()).Should(BeClosed())
		p.Signal(os.Interrupt)
		Eventually(p.Wait()).Should(Receive(BeNil()))
	})
})
