package tps_test

import (
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/ginkgomon_v2"

	"diego/ccbridge/ccclient"
	"diego/ccbridge/tps"
	"diego/ccbridge/tps/tpsfakes"
	"diego/deploy/clock/fakeclock"
	"diego/deploy/logging"
	"diego/receptor"
)

var _ = Describe("The watcher (spec bridge §4.2)", func() {
	var (
		subscriber *tpsfakes.FakeSubscriber
		source     *tpsfakes.FakeEventSource
		cc         *tpsfakes.FakeCC
		clk        *fakeclock.FakeClock
		events     chan receptor.Event
		process    ifrit.Process
	)

	BeforeEach(func() {
		subscriber, source, cc = &tpsfakes.FakeSubscriber{}, &tpsfakes.FakeEventSource{}, &tpsfakes.FakeCC{}
		clk = fakeclock.NewFakeClock(time.Now())
		events = make(chan receptor.Event)
		closed := make(chan struct{})
		source.NextStub = func() (receptor.Event, error) {
			select {
			case e := <-events:
				return e, nil
			case <-closed:
				return nil, errors.New("closed")
			}
		}
		source.CloseStub = func() error {
			select {
			case <-closed:
			default:
				close(closed)
			}
			return nil
		}
		subscriber.SubscribeToEventsReturns(source, nil)
	})

	start := func() {
		w := tps.NewWatcher(tps.WatcherConfig{MaxEventHandlingWorkers: 5}, tps.WatcherDeps{
			Logger: logging.Discard(), Clock: clk, Subscriber: subscriber, CC: cc,
		})
		process = ginkgomon_v2.Invoke(w)
		DeferCleanup(func() { ginkgomon_v2.Interrupt(process, 5*time.Second) })
	}

	changed := func(before, after receptor.ActualLRPResponse) receptor.Event {
		return &receptor.ActualLRPChangedEvent{Before: before, After: after}
	}
	runningLRP := receptor.ActualLRPResponse{
		ProcessGuid: "pg-1", InstanceGuid: "ig-1", CellID: "cell-1", Domain: "cf-apps", Index: 1,
		State: "RUNNING", CrashCount: 2, Since: 100,
	}

	It("reports a crash (crash_count grows) with the crashed instance's guid and cell", func() {
		start()
		after := receptor.ActualLRPResponse{ProcessGuid: "pg-1", Domain: "cf-apps", Index: 1,
			State: "UNCLAIMED", CrashCount: 3, CrashReason: "Exited with status 1", Since: 200}
		events <- changed(runningLRP, after)
		Eventually(cc.AppCrashedCallCount).Should(Equal(1))
		_, guid, req := cc.AppCrashedArgsForCall(0)
		Expect(guid).To(Equal("pg-1"))
		Expect(req).To(Equal(ccclient.AppCrashedRequest{
			Instance: "ig-1", Index: 1, CellID: "cell-1", Reason: "CRASHED",
			ExitDescription: "Exited with status 1", CrashCount: 3, CrashTimestamp: 200,
		}))
		Expect(toJSON(req)).To(MatchJSON(`{"instance":"ig-1","index":1,"cell_id":"cell-1","reason":"CRASHED",
			"exit_description":"Exited with status 1","crash_count":3,"crash_timestamp":200}`))
	})

	It("ignores other domains and changes that are not crashes", func() {
		start()
		other := runningLRP
		other.Domain = "other"
		otherAfter := other
		otherAfter.CrashCount = 9
		events <- changed(other, otherAfter)
		claimed := runningLRP
		claimed.State = "CLAIMED"
		events <- changed(claimed, runningLRP)
		// A crash sent afterwards is the only one reported.
		crashed := runningLRP
		crashed.CrashCount, crashed.State = 3, "CRASHED"
		events <- changed(runningLRP, crashed)
		Eventually(cc.AppCrashedCallCount).Should(Equal(1))
		Consistently(cc.AppCrashedCallCount, 200*time.Millisecond).Should(Equal(1))
		Expect(cc.AppReschedulingCallCount()).To(BeZero())
	})

	It("reports a rescheduling when the evacuating record stops being the one shown", func() {
		start()
		evacuating := runningLRP
		evacuating.Evacuating = true
		replacement := runningLRP
		replacement.InstanceGuid, replacement.CellID = "ig-2", "cell-2"
		events <- changed(evacuating, replacement)
		Eventually(cc.AppReschedulingCallCount).Should(Equal(1))
		_, guid, req := cc.AppReschedulingArgsForCall(0)
		Expect(guid).To(Equal("pg-1"))
		Expect(toJSON(req)).To(MatchJSON(`{"instance":"ig-1","index":1,"cell_id":"cell-1","reason":"Cell is being evacuated"}`))

		events <- &receptor.ActualLRPRemovedEvent{ActualLRPResponse: evacuating}
		Eventually(cc.AppReschedulingCallCount).Should(Equal(2))
	})

	It("resubscribes after three failed reads in a row", func() {
		failing := &tpsfakes.FakeEventSource{}
		failing.NextReturns(nil, errors.New("boom"))
		subscriber.SubscribeToEventsReturnsOnCall(0, failing, nil)
		start()
		for i := 0; i < 3; i++ {
			Eventually(failing.NextCallCount).Should(Equal(i + 1))
			Eventually(clk.WatcherCount).Should(BeNumerically(">", 0))
			clk.Increment(time.Second)
		}
		Eventually(subscriber.SubscribeToEventsCallCount).Should(Equal(2))
		Expect(failing.CloseCallCount()).To(BeNumerically(">=", 1))
		crashed := runningLRP
		crashed.CrashCount = 3
		events <- changed(runningLRP, crashed)
		Eventually(cc.AppCrashedCallCount).Should(Equal(1))
	})

	It("keeps trying to subscribe, and is ready only once subscribed", func() {
		subscriber.SubscribeToEventsReturnsOnCall(0, nil, errors.New("receptor down"))
		w := tps.NewWatcher(tps.WatcherConfig{}, tps.WatcherDeps{Logger: logging.Discard(), Clock: clk, Subscriber: subscriber, CC: cc})
		process = ifrit.Background(w)
		DeferCleanup(func() { ginkgomon_v2.Interrupt(process, 5*time.Second) })
		Eventually(subscriber.SubscribeToEventsCallCount).Should(Equal(1))
		Consistently(process.Ready(), 100*time.Millisecond).ShouldNot(BeClosed())
		Eventually(clk.WatcherCount).Should(BeNumerically(">", 0))
		clk.Increment(time.Second)
		Eventually(process.Ready()).Should(BeClosed())
	})
})
