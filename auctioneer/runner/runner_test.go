package runner_test

import (
	"context"
	"errors"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/tedsuo/ifrit"
	"github.com/tedsuo/ifrit/ginkgomon_v2"

	"diego/auctioneer"
	"diego/auctioneer/auctionrunner"
	"diego/auctioneer/runner"
	"diego/auctioneer/runner/runnerfakes"
	"diego/deploy/clock/fakeclock"
	"diego/deploy/logging"
	"diego/models"
	"diego/rep"
)

const linux = "preloaded:linux"

func cellState(id string, memoryMB int32) rep.CellState {
	total := rep.Resources{MemoryMB: memoryMB, DiskMB: 1024, Containers: 10}
	return rep.CellState{
		CellID:             id,
		Zone:               "z1",
		RootFSProviders:    rep.RootFSProviders{"preloaded": rep.NewFixedSetProvider("linux")},
		AvailableResources: total,
		TotalResources:     total,
	}
}

func lrpReq(guid string, memoryMB int32, indices ...int) auctioneer.LRPStartRequest {
	return auctioneer.LRPStartRequest{
		ProcessGuid:         guid,
		Domain:              "d",
		Indices:             indices,
		Resource:            rep.NewResource(memoryMB, 1, 10),
		PlacementConstraint: rep.NewPlacementConstraint(linux, nil, nil),
	}
}

func taskReq(guid, rootfs string, memoryMB int32) auctioneer.TaskStartRequest {
	return auctioneer.TaskStartRequest{Task: rep.Task{
		TaskGuid:            guid,
		Domain:              "d",
		Resource:            rep.NewResource(memoryMB, 1, 10),
		PlacementConstraint: rep.NewPlacementConstraint(rootfs, nil, nil),
	}}
}

type failedLRP struct {
	ProcessGuid string
	Index       int32
	Message     string
}

type rejectedTask struct {
	TaskGuid, Message string
}

var _ = Describe("Runner", func() {
	var (
		bbs     *runnerfakes.FakeBBSClient
		factory *runnerfakes.FakeRepClientFactory
		clk     *fakeclock.FakeClock
		metrics *runnerfakes.FakeMetrics
		r       *runner.Runner
		process ifrit.Process

		mu        sync.Mutex
		presences []*models.CellPresence
		reps      map[string]*runnerfakes.FakeRepClient
		refused   map[string]bool
	)

	// addCell makes a present cell whose rep answers /state with state and
	// accepts all work.
	addCell := func(id string, state rep.CellState, stateErr error) *runnerfakes.FakeRepClient {
		client := &runnerfakes.FakeRepClient{}
		client.StateReturns(state, stateErr)
		address := "http://" + id + ":1800"
		mu.Lock()
		defer mu.Unlock()
		presences = append(presences, &models.CellPresence{CellId: id, RepAddress: address, RepUrl: "https://" + id + ":1801"})
		reps[address] = client
		return client
	}

	failedLRPs := func() []failedLRP {
		var out []failedLRP
		for i := range bbs.FailActualLRPCallCount() {
			_, key, msg := bbs.FailActualLRPArgsForCall(i)
			out = append(out, failedLRP{key.GetProcessGuid(), key.GetIndex(), msg})
		}
		return out
	}
	rejectedTasks := func() []rejectedTask {
		var out []rejectedTask
		for i := range bbs.RejectTaskCallCount() {
			_, guid, msg := bbs.RejectTaskArgsForCall(i)
			out = append(out, rejectedTask{guid, msg})
		}
		return out
	}
	// performed is the work each call to Perform on client carried.
	performed := func(client *runnerfakes.FakeRepClient) []rep.Work {
		var out []rep.Work
		for i := range client.PerformCallCount() {
			_, w := client.PerformArgsForCall(i)
			out = append(out, w)
		}
		return out
	}
	start := func() { process = ginkgomon_v2.Invoke(r) }

	BeforeEach(func() {
		presences = nil
		reps = map[string]*runnerfakes.FakeRepClient{}
		refused = map[string]bool{}
		bbs = &runnerfakes.FakeBBSClient{}
		bbs.CellsStub = func(context.Context) ([]*models.CellPresence, error) {
			mu.Lock()
			defer mu.Unlock()
			return presences, nil
		}
		factory = &runnerfakes.FakeRepClientFactory{}
		factory.CreateClientStub = func(address, _ string) (runner.RepClient, error) {
			mu.Lock()
			defer mu.Unlock()
			if refused[address] {
				return nil, errors.New("TLS to reps is required")
			}
			return reps[address], nil
		}
		clk = fakeclock.NewFakeClock(time.Unix(1000, 0))
		metrics = &runnerfakes.FakeMetrics{}
		r = runner.New(runner.DefaultConfig(), runner.Deps{
			Logger:  logging.Discard(),
			Clock:   clk,
			BBS:     bbs,
			Reps:    factory,
			Metrics: metrics,
		})
		process = nil
	})

	AfterEach(func() {
		if process != nil {
			ginkgomon_v2.Interrupt(process, 5*time.Second)
		}
	})

	It("counts started and failed auctions and times the state fetch (spec core §6.1)", func() {
		addCell("cell-linux", cellState("cell-linux", 1024), nil)
		start()
		r.Add([]auctioneer.LRPStartRequest{lrpReq("pg", 64, 0, 1)}, []auctioneer.TaskStartRequest{taskReq("t1", "docker:///busybox", 32)})
		Eventually(metrics.AddToCounterCallCount).Should(Equal(4))
		counts := map[string]uint64{}
		for i := 0; i < 4; i++ {
			name, n := metrics.AddToCounterArgsForCall(i)
			counts[name] = n
		}
		Expect(counts).To(Equal(map[string]uint64{
			"AuctioneerLRPAuctionsStarted": 2, "AuctioneerLRPAuctionsFailed": 0,
			"AuctioneerTaskAuctionsStarted": 0, "AuctioneerTaskAuctionsFailed": 1,
		}), "the task asks for a docker rootfs the cell does not offer")
		name, _ := metrics.SendDurationArgsForCall(0)
		Expect(name).To(Equal("AuctioneerFetchStatesDuration"))
	})

	It("is ready at once and exits cleanly on a signal", func() {
		start()
		ginkgomon_v2.Interrupt(process, 5*time.Second)
		process = nil
	})

	It("places the work and POSTs each cell its own part", func() {
		linuxCell := addCell("cell-linux", cellState("cell-linux", 1024), nil)
		dockerState := cellState("cell-docker", 1024)
		dockerState.RootFSProviders = rep.RootFSProviders{"docker": rep.NewArbitraryProvider()}
		dockerCell := addCell("cell-docker", dockerState, nil)
		start()

		r.Add([]auctioneer.LRPStartRequest{lrpReq("pg", 64, 0, 1)}, []auctioneer.TaskStartRequest{taskReq("t1", "docker:///busybox", 32)})

		Eventually(linuxCell.PerformCallCount).Should(Equal(1))
		Eventually(dockerCell.PerformCallCount).Should(Equal(1))
		lw := performed(linuxCell)[0]
		Expect(lw.Tasks).To(BeEmpty())
		Expect(lw.LRPs).To(HaveLen(2))
		Expect(lw.LRPs[0].ProcessGuid).To(Equal("pg"))
		Expect([]int32{lw.LRPs[0].Index, lw.LRPs[1].Index}).To(ConsistOf(int32(0), int32(1)))
		dw := performed(dockerCell)[0]
		Expect(dw.LRPs).To(BeEmpty())
		Expect(dw.Tasks).To(HaveLen(1))
		Expect(dw.Tasks[0].TaskGuid).To(Equal("t1"))

		Consistently(bbs.FailActualLRPCallCount, 100*time.Millisecond).Should(BeZero())
		Expect(bbs.RejectTaskCallCount()).To(BeZero())
	})

	It("reports a failed placement with the scheduler's error: FailActualLRP for an LRP, RejectTask for a task", func() {
		cell := addCell("cell-1", cellState("cell-1", 128), nil)
		start()

		r.Add([]auctioneer.LRPStartRequest{lrpReq("big", 4096, 0), lrpReq("small", 16, 0)},
			[]auctioneer.TaskStartRequest{taskReq("odd", "preloaded:other", 16)})

		Eventually(failedLRPs).Should(ConsistOf(failedLRP{"big", 0, "insufficient resources: memory"}))
		Eventually(rejectedTasks).Should(ConsistOf(rejectedTask{"odd", auctionrunner.ErrIncompatibleRootFS}))
		_, key, _ := bbs.FailActualLRPArgsForCall(0)
		Expect(key.GetDomain()).To(Equal("d"))
		Eventually(cell.PerformCallCount).Should(Equal(1))
		Expect(performed(cell)[0].LRPs).To(HaveLen(1))
	})

	It("fails the work a rep hands back with an empty placement error", func() {
		cell := addCell("cell-1", cellState("cell-1", 1024), nil)
		cell.PerformStub = func(_ context.Context, w rep.Work) (rep.Work, error) {
			return rep.Work{LRPs: w.LRPs[:1], Tasks: w.Tasks}, nil
		}
		start()

		r.Add([]auctioneer.LRPStartRequest{lrpReq("pg", 16, 0, 1)}, []auctioneer.TaskStartRequest{taskReq("t1", linux, 16)})

		Eventually(failedLRPs).Should(HaveLen(1))
		Expect(failedLRPs()[0].Message).To(BeEmpty())
		Expect(failedLRPs()[0].ProcessGuid).To(Equal("pg"))
		Eventually(rejectedTasks).Should(ConsistOf(rejectedTask{"t1", ""}))
		_, key, _ := bbs.FailActualLRPArgsForCall(0)
		Expect(key.GetDomain()).To(Equal("d"))
		Expect(key.GetProcessGuid()).To(Equal("pg"))
	})

	It("reports nothing when a commit errors", func() {
		cell := addCell("cell-1", cellState("cell-1", 1024), nil)
		cell.PerformReturns(rep.Work{}, errors.New("connection refused"))
		start()

		r.Add([]auctioneer.LRPStartRequest{lrpReq("pg", 16, 0)}, []auctioneer.TaskStartRequest{taskReq("t1", linux, 16)})

		Eventually(cell.PerformCallCount).Should(Equal(1))
		Consistently(func() int { return bbs.FailActualLRPCallCount() + bbs.RejectTaskCallCount() }, 200*time.Millisecond).Should(BeZero())
	})

	It("skips cells that error, evacuate or report another cell id", func() {
		failing := addCell("cell-err", rep.CellState{}, errors.New("timeout"))
		evacuatingState := cellState("cell-evac", 4096)
		evacuatingState.Evacuating = true
		evacuating := addCell("cell-evac", evacuatingState, nil)
		impostor := addCell("cell-who", cellState("cell-someone-else", 4096), nil)
		good := addCell("cell-good", cellState("cell-good", 128), nil)
		start()

		r.Add([]auctioneer.LRPStartRequest{lrpReq("pg", 16, 0, 1, 2)}, nil)

		Eventually(good.PerformCallCount).Should(Equal(1))
		Expect(performed(good)[0].LRPs).To(HaveLen(3))
		for _, c := range []*runnerfakes.FakeRepClient{failing, evacuating, impostor} {
			Expect(c.StateCallCount()).To(Equal(1))
			Expect(c.PerformCallCount()).To(BeZero())
		}
	})

	It("bounds each /state request by the cell state timeout", func() {
		r = runner.New(runner.Config{Scheduler: auctionrunner.DefaultConfig(), CellStateTimeout: 50 * time.Millisecond},
			runner.Deps{Logger: logging.Discard(), Clock: clk, BBS: bbs, Reps: factory})
		hanging := addCell("cell-hang", cellState("cell-hang", 4096), nil)
		hanging.StateStub = func(ctx context.Context) (rep.CellState, error) {
			<-ctx.Done()
			return rep.CellState{}, ctx.Err()
		}
		good := addCell("cell-good", cellState("cell-good", 128), nil)
		start()

		r.Add([]auctioneer.LRPStartRequest{lrpReq("pg", 16, 0)}, nil)
		Eventually(good.PerformCallCount, 2*time.Second).Should(Equal(1))
	})

	It("fails every auction with `unable to communicate to compatible cells` when there are no cells", func() {
		start()

		r.Add([]auctioneer.LRPStartRequest{lrpReq("pg", 16, 0)}, []auctioneer.TaskStartRequest{taskReq("t1", linux, 16)})

		Eventually(failedLRPs).Should(ConsistOf(failedLRP{"pg", 0, auctionrunner.ErrNoCells}))
		Eventually(rejectedTasks).Should(ConsistOf(rejectedTask{"t1", auctionrunner.ErrNoCells}))
		Expect(auctionrunner.ErrNoCells).To(Equal("unable to communicate to compatible cells"))
	})

	It("tries the state fetch 4 times, 1 s apart, before failing when no cell answers", func() {
		cell := addCell("cell-1", rep.CellState{}, errors.New("unreachable"))
		start()

		r.Add(nil, []auctioneer.TaskStartRequest{taskReq("t1", linux, 16)})
		for try := 1; try < runner.StateFetchTries; try++ {
			Eventually(cell.StateCallCount).Should(Equal(try))
			Eventually(clk.WatcherCount).Should(Equal(1))
			Expect(bbs.RejectTaskCallCount()).To(BeZero())
			clk.Increment(runner.RetryInterval)
		}
		Eventually(rejectedTasks).Should(ConsistOf(rejectedTask{"t1", auctionrunner.ErrNoCells}))
		Expect(cell.StateCallCount()).To(Equal(4))
		Expect(bbs.CellsCallCount()).To(Equal(4))
	})

	It("keeps the work queued and retries the round 1 s later when the cells cannot be listed", func() {
		cell := addCell("cell-1", cellState("cell-1", 1024), nil)
		listed := bbs.CellsStub
		bbs.CellsStub = func(ctx context.Context) ([]*models.CellPresence, error) {
			if bbs.CellsCallCount() == 1 {
				return nil, errors.New("bbs down")
			}
			return listed(ctx)
		}
		start()

		r.Add(nil, []auctioneer.TaskStartRequest{taskReq("t1", linux, 16)})
		Eventually(bbs.CellsCallCount).Should(Equal(1))
		Eventually(clk.WatcherCount).Should(Equal(1))
		Consistently(cell.PerformCallCount, 50*time.Millisecond).Should(BeZero())
		clk.Increment(runner.RetryInterval)

		Eventually(cell.PerformCallCount).Should(Equal(1))
		Expect(performed(cell)[0].Tasks[0].TaskGuid).To(Equal("t1"))
	})

	It("fetches each cell's state once per round and places the whole batch on that copy", func() {
		a := addCell("cell-a", cellState("cell-a", 1024), nil)
		b := addCell("cell-b", cellState("cell-b", 1024), nil)
		start()

		r.Add([]auctioneer.LRPStartRequest{lrpReq("pg", 64, 0, 1, 2, 3, 4, 5), lrpReq("other", 64, 0)}, nil)
		Eventually(a.PerformCallCount).Should(Equal(1))
		Eventually(b.PerformCallCount).Should(Equal(1))
		Expect(a.StateCallCount()).To(Equal(1))
		Expect(b.StateCallCount()).To(Equal(1))
		// Every placement of the round saw the ones before it: pg's six
		// instances split three and three, and the seventh LRP evens the
		// cells out.
		pgOn := func(w rep.Work) int {
			n := 0
			for _, l := range w.LRPs {
				if l.ProcessGuid == "pg" {
					n++
				}
			}
			return n
		}
		Expect(pgOn(performed(a)[0])).To(Equal(3))
		Expect(pgOn(performed(b)[0])).To(Equal(3))
		Expect(len(performed(a)[0].LRPs) + len(performed(b)[0].LRPs)).To(Equal(7))

		// The next batch is a new round, with states fetched afresh.
		r.Add([]auctioneer.LRPStartRequest{lrpReq("pg", 64, 6)}, nil)
		Eventually(func() int { return a.PerformCallCount() + b.PerformCallCount() }).Should(Equal(3))
		Expect(a.StateCallCount()).To(Equal(2))
		Expect(b.StateCallCount()).To(Equal(2))
	})

	It("puts work that arrives during a round into the next round", func() {
		cell := addCell("cell-1", cellState("cell-1", 1024), nil)
		release := make(chan struct{})
		cell.PerformStub = func(context.Context, rep.Work) (rep.Work, error) {
			<-release
			return rep.Work{}, nil
		}
		start()

		r.Add(nil, []auctioneer.TaskStartRequest{taskReq("first", linux, 16)})
		Eventually(cell.PerformCallCount).Should(Equal(1))
		r.Add(nil, []auctioneer.TaskStartRequest{taskReq("second", linux, 16)})
		r.Add(nil, []auctioneer.TaskStartRequest{taskReq("third", linux, 16)})
		Consistently(cell.PerformCallCount, 50*time.Millisecond).Should(Equal(1))
		close(release)

		Eventually(cell.PerformCallCount).Should(Equal(2))
		work := performed(cell)
		Expect(work[0].Tasks).To(HaveLen(1))
		Expect(work[0].Tasks[0].TaskGuid).To(Equal("first"))
		var second []string
		for _, t := range work[1].Tasks {
			second = append(second, t.TaskGuid)
		}
		Expect(second).To(ConsistOf("second", "third"))
	})

	It("dedupes the batch: an LRP by process guid and index, a task by guid", func() {
		cell := addCell("cell-1", cellState("cell-1", 1024), nil)
		r.Add([]auctioneer.LRPStartRequest{lrpReq("pg", 16, 0, 1)}, []auctioneer.TaskStartRequest{taskReq("t1", linux, 16)})
		r.Add([]auctioneer.LRPStartRequest{lrpReq("pg", 16, 1, 2), lrpReq("pg", 16, 0)},
			[]auctioneer.TaskStartRequest{taskReq("t1", linux, 16), taskReq("t2", linux, 16)})
		start()

		Eventually(cell.PerformCallCount).Should(Equal(1))
		Consistently(cell.PerformCallCount, 50*time.Millisecond).Should(Equal(1))
		w := performed(cell)[0]
		var indices []int32
		for _, l := range w.LRPs {
			indices = append(indices, l.Index)
		}
		Expect(indices).To(ConsistOf(int32(0), int32(1), int32(2)))
		var tasks []string
		for _, t := range w.Tasks {
			tasks = append(tasks, t.TaskGuid)
		}
		Expect(tasks).To(ConsistOf("t1", "t2"))
	})

	It("stops at once on a signal while waiting to retry", func() {
		bbs.CellsStub = nil
		bbs.CellsReturns(nil, errors.New("bbs down"))
		start()
		r.Add(nil, []auctioneer.TaskStartRequest{taskReq("t1", linux, 16)})
		Eventually(clk.WatcherCount).Should(Equal(1))
		ginkgomon_v2.Interrupt(process, time.Second)
		process = nil
	})

	It("uses the factory with each presence's rep address and rep url", func() {
		addCell("cell-1", cellState("cell-1", 1024), nil)
		start()
		r.Add(nil, []auctioneer.TaskStartRequest{taskReq("t1", linux, 16)})
		Eventually(factory.CreateClientCallCount).Should(Equal(1))
		address, url := factory.CreateClientArgsForCall(0)
		Expect(address).To(Equal("http://cell-1:1800"))
		Expect(url).To(Equal("https://cell-1:1801"))
	})

	It("leaves out a cell the factory refuses, counting a failed state request", func() {
		refusedRep := addCell("cell-plain", cellState("cell-plain", 4096), nil)
		good := addCell("cell-tls", cellState("cell-tls", 1024), nil)
		mu.Lock()
		refused["http://cell-plain:1800"] = true
		mu.Unlock()
		start()
		r.Add(nil, []auctioneer.TaskStartRequest{taskReq("t1", linux, 16)})
		Eventually(good.PerformCallCount).Should(Equal(1))
		Expect(refusedRep.StateCallCount()).To(Equal(0))
		Expect(refusedRep.PerformCallCount()).To(Equal(0))
		Expect(metrics.IncrementCounterCallCount()).To(BeNumerically(">=", 1))
		Expect(metrics.IncrementCounterArgsForCall(0)).To(Equal("AuctioneerFailedCellStateRequests"))
	})
})
