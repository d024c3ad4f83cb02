package server_test

import (
	"log/slog"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/deploy/logging"
	"diego/garden"
	"diego/garden/gardenfakes"
	"diego/garden/server"
)

var _ = Describe("Grace time (bomberman)", func() {
	BeforeEach(func() {
		backend.CreateReturns(container, nil)
		backend.GraceTimeReturns(time.Minute)
	})

	create := func() {
		GinkgoHelper()
		expectJSON("POST", "/containers", `{"handle":"h1"}`, 200, `{"Handle":"h1"}`)
		Expect(backend.GraceTimeArgsForCall(0)).To(Equal(container))
		// The countdown starts when the request has finished.
		Eventually(fakeClock.WatcherCount).Should(Equal(1))
	}

	It("destroys a container once its grace time has passed", func() {
		create()
		fakeClock.Increment(59 * time.Second)
		Consistently(backend.DestroyCallCount, 50*time.Millisecond).Should(BeZero())
		fakeClock.Increment(time.Second)
		Eventually(backend.DestroyCallCount).Should(Equal(1))
		Expect(backend.DestroyArgsForCall(0)).To(Equal("h1"))
	})

	It("never destroys a container whose grace time is 0", func() {
		backend.GraceTimeReturns(0)
		expectJSON("POST", "/containers", `{}`, 200, `{"Handle":"h1"}`)
		fakeClock.Increment(1000 * time.Hour)
		Consistently(backend.DestroyCallCount, 50*time.Millisecond).Should(BeZero())
		Expect(fakeClock.WatcherCount()).To(BeZero())
	})

	It("pauses while a request about the container is in flight and starts over afterwards", func() {
		create()
		release := make(chan struct{})
		container.InfoStub = func() (garden.ContainerInfo, error) {
			<-release
			return garden.ContainerInfo{}, nil
		}
		done := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(done)
			call("GET", "/containers/h1/info", nil)
		}()
		Eventually(container.InfoCallCount).Should(Equal(1))
		Expect(fakeClock.WatcherCount()).To(BeZero())

		fakeClock.Increment(time.Hour)
		Consistently(backend.DestroyCallCount, 50*time.Millisecond).Should(BeZero())

		close(release)
		Eventually(done).Should(BeClosed())
		Eventually(fakeClock.WatcherCount).Should(Equal(1))
		fakeClock.Increment(59 * time.Second)
		Consistently(backend.DestroyCallCount, 50*time.Millisecond).Should(BeZero())
		fakeClock.Increment(time.Second)
		Eventually(backend.DestroyCallCount).Should(Equal(1))
	})

	It("restarts the countdown with the new grace time on SetGraceTime", func() {
		create()
		fakeClock.Increment(50 * time.Second)
		expectJSON("PUT", "/containers/h1/grace_time", `120000000000`, 200, `{}`)
		Eventually(fakeClock.WatcherCount).Should(Equal(1))

		fakeClock.Increment(119 * time.Second)
		Consistently(backend.DestroyCallCount, 50*time.Millisecond).Should(BeZero())
		fakeClock.Increment(time.Second)
		Eventually(backend.DestroyCallCount).Should(Equal(1))
	})

	It("disarms on SetGraceTime 0", func() {
		create()
		expectJSON("PUT", "/containers/h1/grace_time", `0`, 200, `{}`)
		Eventually(fakeClock.WatcherCount).Should(BeZero())
		fakeClock.Increment(time.Hour)
		Consistently(backend.DestroyCallCount, 50*time.Millisecond).Should(BeZero())
	})

	It("forgets a container destroyed through the API", func() {
		create()
		expectJSON("DELETE", "/containers/h1", "", 200, `{}`)
		Eventually(fakeClock.WatcherCount).Should(BeZero())
		fakeClock.Increment(time.Hour)
		Consistently(backend.DestroyCallCount, 50*time.Millisecond).Should(Equal(1))
	})

	It("arms the containers the backend already has at Start, including those still being created", func() {
		existing := new(gardenfakes.FakeContainer)
		existing.HandleReturns("old")
		b := new(gardenfakes.FakeBackend)
		b.ContainersReturns([]garden.Container{existing}, nil)
		b.GraceTimeReturns(10 * time.Second)
		s := server.New(server.Deps{Logger: logging.New(GinkgoWriter, slog.LevelDebug, "garden"), Clock: fakeClock, Backend: b})
		DeferCleanup(s.Stop)
		Expect(s.Start()).To(Succeed())
		Expect(b.ContainersArgsForCall(0)).To(Equal(garden.Properties{"garden.state": "all"}))
		Expect(b.GraceTimeArgsForCall(0)).To(Equal(existing))

		fakeClock.Increment(10 * time.Second)
		Eventually(b.DestroyCallCount).Should(Equal(1))
		Expect(b.DestroyArgsForCall(0)).To(Equal("old"))
	})

	It("stops every countdown on Stop", func() {
		create()
		srv.Stop()
		Expect(fakeClock.WatcherCount()).To(BeZero())
		fakeClock.Increment(time.Hour)
		Consistently(backend.DestroyCallCount, 50*time.Millisecond).Should(BeZero())
	})
})
