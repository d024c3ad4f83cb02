package sync_test

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"diego/executor"
	executorclient "diego/executor/client"
	repsync "diego/rep/sync"
	"diego/rep/sync/syncfakes"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit/ginkgomon_v2"
)

// fakeStream is an event stream fed by the test; Close ends it with EOF.
type fakeStream struct {
	*syncfakes.FakeEventStream
	results chan streamResult
	closed  chan struct{}
}

type streamResult struct {
	event executor.Event
	err   error
}

func newFakeStream() *fakeStream {
	s := &fakeStream{FakeEventStream: &syncfakes.FakeEventStream{},
		results: make(chan streamResult, 10), closed: make(chan struct{})}
	var once sync.Once
	s.NextStub = func() (executor.Event, error) {
		select {
		case r := <-s.results:
			return r.event, r.err
		case <-s.closed:
			return executor.Event{}, io.EOF
		}
	}
	s.CloseStub = func() error {
		once.Do(func() { close(s.closed) })
		return nil
	}
	return s
}

func (s *fakeStream) send(t executor.EventType, guid string) {
	s.results <- streamResult{event: executor.Event{Type: t, Container: executor.Container{Guid: guid}}}
}

func (s *fakeStream) fail(err error) { s.results <- streamResult{err: err} }

var _ = Describe("the event consumer", func() {
	var (
		f *fixture
		g *repsync.Generator
	)

	BeforeEach(func() {
		f = newFixture()
		f.cfg.MinResubscribeBackoff = 100 * time.Millisecond
		f.cfg.MaxResubscribeBackoff = 300 * time.Millisecond
		f.executor.GetContainerReturns(executor.Container{}, executor.ErrContainerNotFound)
	})

	JustBeforeEach(func() {
		g = f.generator()
	})

	// runAll runs queue, events and bulk loop; the bulk loop syncs once
	// before it is ready.
	runAll := func() {
		process := ginkgomon_v2.Invoke(g.Runner())
		DeferCleanup(func() { ginkgomon_v2.Interrupt(process, 5*time.Second) })
	}

	checked := func() []string {
		var out []string
		for i := range f.executor.GetContainerCallCount() {
			out = append(out, f.executor.GetContainerArgsForCall(i))
		}
		return out
	}

	It("pushes a container operation per event", func() {
		stream := newFakeStream()
		f.events.SubscribeToEventsReturns(stream, nil)
		runAll()
		stream.send(executor.EventTypeContainerReserved, "ig-1")
		stream.send(executor.EventTypeContainerRunning, "ig-2")
		stream.send(executor.EventTypeContainerComplete, "tg-1")
		Eventually(checked).Should(ConsistOf("ig-1", "ig-2", "tg-1"))
		Expect(f.events.SubscribeToEventsCallCount()).To(Equal(1))
	})

	It("skips an event it cannot read and goes on with the stream", func() {
		stream := newFakeStream()
		f.events.SubscribeToEventsReturns(stream, nil)
		runAll()
		stream.fail(fmt.Errorf("%w: %q", executorclient.ErrUnknownEvent, "container_exploded"))
		stream.send(executor.EventTypeContainerRunning, "ig-2")
		Eventually(checked).Should(Equal([]string{"ig-2"}))
		Expect(f.events.SubscribeToEventsCallCount()).To(Equal(1))
	})

	It("resubscribes after a backoff when the stream breaks, then syncs at once", func() {
		first, second := newFakeStream(), newFakeStream()
		f.events.SubscribeToEventsReturnsOnCall(0, first, nil)
		f.events.SubscribeToEventsReturnsOnCall(1, second, nil)
		runAll()
		Expect(f.executor.ListContainersCallCount()).To(Equal(1))

		first.fail(io.ErrUnexpectedEOF)
		Eventually(first.CloseCallCount).Should(Equal(1))
		// The bulk loop's timer and the backoff.
		Eventually(f.clock.WatcherCount).Should(Equal(2))
		Consistently(f.events.SubscribeToEventsCallCount, 50*time.Millisecond).Should(Equal(1))

		f.clock.Increment(100 * time.Millisecond)
		Eventually(f.events.SubscribeToEventsCallCount).Should(Equal(2))
		Eventually(f.executor.ListContainersCallCount).Should(Equal(2))

		second.send(executor.EventTypeContainerRunning, "ig-9")
		Eventually(checked).Should(ContainElement("ig-9"))
	})

	It("doubles the backoff while subscribing fails, up to the maximum", func() {
		stream := newFakeStream()
		for i := range 3 {
			f.events.SubscribeToEventsReturnsOnCall(i, nil, errors.New("executor down"))
		}
		f.events.SubscribeToEventsReturnsOnCall(3, stream, nil)
		runAll()
		Expect(f.events.SubscribeToEventsCallCount()).To(Equal(1))
		Expect(f.executor.ListContainersCallCount()).To(Equal(1))

		for i, wait := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond} {
			Eventually(f.clock.WatcherCount).Should(Equal(2))
			f.clock.Increment(wait - time.Millisecond)
			Consistently(f.events.SubscribeToEventsCallCount, 50*time.Millisecond).Should(Equal(i + 1))
			f.clock.Increment(time.Millisecond)
			Eventually(f.events.SubscribeToEventsCallCount).Should(Equal(i + 2))
		}

		By("syncing once subscribed again")
		Eventually(f.executor.ListContainersCallCount).Should(Equal(2))
		stream.send(executor.EventTypeContainerReserved, "ig-1")
		Eventually(checked).Should(ContainElement("ig-1"))
	})

	It("closes the stream and returns on a signal", func() {
		stream := newFakeStream()
		f.events.SubscribeToEventsReturns(stream, nil)
		process := ginkgomon_v2.Invoke(g.EventRunner())
		Eventually(f.events.SubscribeToEventsCallCount).Should(Equal(1))
		ginkgomon_v2.Interrupt(process, 5*time.Second)
		Expect(stream.CloseCallCount()).To(Equal(1))
	})

	It("returns on a signal while waiting to resubscribe", func() {
		f.events.SubscribeToEventsReturns(nil, errors.New("executor down"))
		process := ginkgomon_v2.Invoke(g.EventRunner())
		Eventually(f.clock.WatcherCount).Should(Equal(1))
		ginkgomon_v2.Interrupt(process, 5*time.Second)
	})
})
