package auctioncellrep_test

import (
	"errors"
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"diego/deploy/logging"
	"diego/executor"
	"diego/models"
	"diego/rep"
	"diego/rep/auctioncellrep"
	"diego/rep/auctioncellrep/auctioncellrepfakes"
	"diego/rep/evacuator"
)

var _ = Describe("AuctionCellRep", func() {
	var (
		fakeExecutor *auctioncellrepfakes.FakeExecutorClient
		flag         *evacuator.Flag
		cfg          auctioncellrep.Config
		cellRep      *auctioncellrep.AuctionCellRep
		logs         *gbytes.Buffer
		guids        int
	)

	BeforeEach(func() {
		fakeExecutor = new(auctioncellrepfakes.FakeExecutorClient)
		flag = evacuator.NewFlag()
		logs = gbytes.NewBuffer()
		guids = 0
		cfg = auctioncellrep.Config{
			CellID:       "cell-1",
			RepURL:       "http://10.0.0.5:1800",
			Zone:         "z1",
			StackPathMap: map[string]string{"cflinuxfs4": "/var/lib/rootfs/cflinuxfs4"},
			RootFSProviders: rep.RootFSProviders{
				"preloaded": rep.NewFixedSetProvider("cflinuxfs4"),
				"docker":    rep.NewArbitraryProvider(),
			},
			PlacementTags:         []string{"gpu"},
			OptionalPlacementTags: []string{"ssd"},
		}
	})

	JustBeforeEach(func() {
		cellRep = auctioncellrep.New(cfg, auctioncellrep.Deps{
			Executor:   fakeExecutor,
			Evacuation: flag,
			NewGuid: func() (string, error) {
				guids++
				return fmt.Sprintf("ig-%d", guids), nil
			},
		})
	})

	Describe("State", func() {
		BeforeEach(func() {
			fakeExecutor.RemainingResourcesReturns(executor.ExecutorResources{MemoryMB: 7000, DiskMB: 20000, Containers: 240}, nil)
			fakeExecutor.TotalResourcesReturns(executor.ExecutorResources{MemoryMB: 8000, DiskMB: 30000, Containers: 250}, nil)
		})

		lrpContainer := func(guid string, state executor.State, failed bool) executor.Container {
			c := executor.Container{
				Guid:     guid,
				Resource: executor.Resource{MemoryMB: 256, DiskMB: 1024, MaxPids: 1024},
				State:    state,
				Tags: executor.Tags{
					"lifecycle": "lrp", "domain": "cf-apps", "process-guid": "pg-" + guid, "process-index": "3",
					"instance-guid": guid, "placement-tags": `["gpu"]`, "volume-drivers": `[]`,
				},
			}
			c.RootFSPath = "/var/lib/rootfs/cflinuxfs4"
			c.RunResult.Failed = failed
			return c
		}

		It("reports resources, configuration and the health of the executor", func() {
			state, healthy, err := cellRep.State(logging.New(logs, -8, "rep"))
			Expect(err).NotTo(HaveOccurred())
			Expect(healthy).To(BeTrue())
			Expect(fakeExecutor.ListContainersArgsForCall(0)).To(BeNil())
			Expect(state.CellID).To(Equal("cell-1"))
			Expect(state.RepURL).To(Equal("http://10.0.0.5:1800"))
			Expect(state.Zone).To(Equal("z1"))
			Expect(state.AvailableResources).To(Equal(rep.Resources{MemoryMB: 7000, DiskMB: 20000, Containers: 240}))
			Expect(state.TotalResources).To(Equal(rep.Resources{MemoryMB: 8000, DiskMB: 30000, Containers: 250}))
			Expect(state.RootFSProviders).To(Equal(cfg.RootFSProviders))
			Expect(state.PlacementTags).To(Equal([]string{"gpu"}))
			Expect(state.OptionalPlacementTags).To(Equal([]string{"ssd"}))
			Expect(state.VolumeDrivers).To(Equal([]string{}))
			Expect(state.LRPs).To(Equal([]rep.LRP{}))
			Expect(state.Tasks).To(Equal([]rep.Task{}))
			Expect(state.Evacuating).To(BeFalse())
			Expect(state.StartingContainerCount).To(BeZero())
		})

		It("is unhealthy when the executor does not answer a ping", func() {
			fakeExecutor.PingReturns(errors.New("garden down"))
			state, healthy, err := cellRep.State(logging.New(logs, -8, "rep"))
			Expect(err).NotTo(HaveOccurred())
			Expect(healthy).To(BeFalse())
			Expect(state.CellID).To(Equal("cell-1"))
		})

		It("reports evacuation", func() {
			flag.Evacuate()
			state, _, err := cellRep.State(logging.New(logs, -8, "rep"))
			Expect(err).NotTo(HaveOccurred())
			Expect(state.Evacuating).To(BeTrue())
		})

		DescribeTable("fails when the executor cannot say",
			func(break_ func()) {
				break_()
				_, _, err := cellRep.State(logging.New(logs, -8, "rep"))
				Expect(err).To(HaveOccurred())
			},
			Entry("remaining", func() { fakeExecutor.RemainingResourcesReturns(executor.ExecutorResources{}, errors.New("x")) }),
			Entry("total", func() { fakeExecutor.TotalResourcesReturns(executor.ExecutorResources{}, errors.New("x")) }),
			Entry("containers", func() { fakeExecutor.ListContainersReturns(nil, errors.New("x")) }),
		)

		DescribeTable("maps a container's state to its LRP's",
			func(state executor.State, failed bool, want string) {
				fakeExecutor.ListContainersReturns([]executor.Container{lrpContainer("ig-1", state, failed)}, nil)
				s, _, err := cellRep.State(logging.New(logs, -8, "rep"))
				Expect(err).NotTo(HaveOccurred())
				Expect(s.LRPs).To(HaveLen(1))
				Expect(s.LRPs[0].State).To(Equal(want))
			},
			Entry("reserved", executor.StateReserved, false, "CLAIMED"),
			Entry("initializing", executor.StateInitializing, false, "CLAIMED"),
			Entry("created", executor.StateCreated, false, "CLAIMED"),
			Entry("running", executor.StateRunning, false, "RUNNING"),
			Entry("completed and failed", executor.StateCompleted, true, "CRASHED"),
			Entry("completed", executor.StateCompleted, false, "SHUTDOWN"),
		)

		It("lists LRPs and tasks from the container tags, counting the starting containers", func() {
			task := executor.Container{
				Guid:     "tg-1",
				Resource: executor.Resource{MemoryMB: 128, DiskMB: 512},
				State:    executor.StateCompleted,
				Tags:     executor.Tags{"lifecycle": "task", "domain": "cf-tasks", "placement-tags": `[]`, "volume-drivers": `["nfs"]`},
			}
			task.RootFSPath = "docker:///busybox"
			task.RunResult.Failed = true
			running := executor.Container{Guid: "tg-2", State: executor.StateReserved, Tags: executor.Tags{"lifecycle": "task", "domain": "d"}}
			foreign := executor.Container{Guid: "other", State: executor.StateCreated}
			fakeExecutor.ListContainersReturns([]executor.Container{
				lrpContainer("ig-1", executor.StateRunning, false), lrpContainer("ig-2", executor.StateInitializing, false),
				task, running, foreign,
			}, nil)

			state, _, err := cellRep.State(logging.New(logs, -8, "rep"))
			Expect(err).NotTo(HaveOccurred())
			Expect(state.StartingContainerCount).To(Equal(3))
			Expect(state.LRPs).To(ConsistOf(
				rep.LRP{
					InstanceGUID: "ig-1", ProcessGuid: "pg-ig-1", Index: 3, Domain: "cf-apps",
					PlacementConstraint: rep.PlacementConstraint{PlacementTags: []string{"gpu"}, VolumeDrivers: []string{}, RootFs: "preloaded:cflinuxfs4"},
					Resource:            rep.Resource{MemoryMB: 256, DiskMB: 1024, MaxPids: 1024},
					State:               "RUNNING",
				},
				rep.LRP{
					InstanceGUID: "ig-2", ProcessGuid: "pg-ig-2", Index: 3, Domain: "cf-apps",
					PlacementConstraint: rep.PlacementConstraint{PlacementTags: []string{"gpu"}, VolumeDrivers: []string{}, RootFs: "preloaded:cflinuxfs4"},
					Resource:            rep.Resource{MemoryMB: 256, DiskMB: 1024, MaxPids: 1024},
					State:               "CLAIMED",
				},
			))
			Expect(state.Tasks).To(ConsistOf(
				rep.Task{
					TaskGuid: "tg-1", Domain: "cf-tasks",
					PlacementConstraint: rep.PlacementConstraint{PlacementTags: []string{}, VolumeDrivers: []string{"nfs"}, RootFs: "docker:///busybox"},
					Resource:            rep.Resource{MemoryMB: 128, DiskMB: 512},
					State:               models.Task_Completed, Failed: true,
				},
				rep.Task{
					TaskGuid: "tg-2", Domain: "d",
					PlacementConstraint: rep.PlacementConstraint{PlacementTags: []string{}, VolumeDrivers: []string{}},
					State:               models.Task_Running,
				},
			))
		})
	})

	Describe("Perform", func() {
		lrp := func(pg string, memory int32) rep.LRP {
			return rep.LRP{
				ProcessGuid: pg, Index: 1, Domain: "cf-apps",
				PlacementConstraint: rep.NewPlacementConstraint("preloaded:cflinuxfs4", []string{"gpu"}, nil),
				Resource:            rep.NewResource(memory, 1024, 100),
			}
		}
		task := func(guid string) rep.Task {
			return rep.Task{
				TaskGuid: guid, Domain: "cf-tasks",
				PlacementConstraint: rep.NewPlacementConstraint("docker:///busybox", nil, []string{"nfs"}),
				Resource:            rep.NewResource(64, 128, 0),
			}
		}

		BeforeEach(func() {
			fakeExecutor.RemainingResourcesReturns(executor.ExecutorResources{MemoryMB: 1000, DiskMB: 100000, Containers: 100}, nil)
		})

		perform := func(work rep.Work) (rep.Work, error) {
			return cellRep.Perform(logging.New(logs, -8, "rep"), work)
		}

		It("refuses work for another cell", func() {
			_, err := perform(rep.Work{CellID: "cell-2", Tasks: []rep.Task{task("t")}})
			Expect(err).To(MatchError(auctioncellrep.ErrCellIDMismatch))
			Expect(fakeExecutor.AllocateContainersCallCount()).To(BeZero())
		})

		It("accepts work with its own cell id or none", func() {
			failed, err := perform(rep.Work{CellID: "cell-1", Tasks: []rep.Task{task("t1")}})
			Expect(err).NotTo(HaveOccurred())
			Expect(failed).To(Equal(rep.Work{LRPs: []rep.LRP{}, Tasks: []rep.Task{}}))
			_, err = perform(rep.Work{Tasks: []rep.Task{task("t2")}})
			Expect(err).NotTo(HaveOccurred())
			Expect(fakeExecutor.AllocateContainersCallCount()).To(Equal(2))
		})

		It("fails everything while evacuating", func() {
			flag.Evacuate()
			work := rep.Work{LRPs: []rep.LRP{lrp("a", 10)}, Tasks: []rep.Task{task("t")}}
			failed, err := perform(work)
			Expect(err).NotTo(HaveOccurred())
			Expect(failed).To(Equal(rep.Work{LRPs: work.LRPs, Tasks: work.Tasks}))
			Expect(fakeExecutor.AllocateContainersCallCount()).To(BeZero())
		})

		It("is an error when the remaining resources cannot be read", func() {
			fakeExecutor.RemainingResourcesReturns(executor.ExecutorResources{}, errors.New("executor down"))
			_, err := perform(rep.Work{LRPs: []rep.LRP{lrp("a", 10)}})
			Expect(err).To(MatchError(ContainSubstring("executor down")))
		})

		It("takes the LRPs largest first while they fit in the remaining memory", func() {
			work := rep.Work{LRPs: []rep.LRP{lrp("small", 100), lrp("huge", 2000), lrp("big", 600), lrp("medium", 300), lrp("mid2", 300)}}
			failed, err := perform(work)
			Expect(err).NotTo(HaveOccurred())
			// 1000 MB: huge does not fit, big (600) and medium (300) do, mid2 no longer does, small (100) still does.
			Expect(failed.LRPs).To(ConsistOf(lrp("huge", 2000), lrp("mid2", 300)))
			Expect(failed.Tasks).To(BeEmpty())

			Expect(fakeExecutor.AllocateContainersCallCount()).To(Equal(1))
			requests := fakeExecutor.AllocateContainersArgsForCall(0)
			var order []int
			for _, r := range requests {
				order = append(order, r.MemoryMB)
			}
			Expect(order).To(Equal([]int{600, 300, 100}))
		})

		It("allocates one container per LRP under a new instance guid, with the LRP tags", func() {
			failed, err := perform(rep.Work{LRPs: []rep.LRP{lrp("pg-1", 256), lrp("pg-2", 128)}})
			Expect(err).NotTo(HaveOccurred())
			Expect(failed.LRPs).To(BeEmpty())

			Expect(fakeExecutor.AllocateContainersArgsForCall(0)).To(Equal([]executor.AllocationRequest{
				{
					Guid:     "ig-1",
					Resource: executor.Resource{MemoryMB: 256, DiskMB: 1024, MaxPids: 100},
					Tags: executor.Tags{
						"lifecycle": "lrp", "domain": "cf-apps", "process-guid": "pg-1", "process-index": "1",
						"instance-guid": "ig-1", "placement-tags": `["gpu"]`, "volume-drivers": `[]`,
					},
					GenerateLogMetrics: true,
				},
				{
					Guid:     "ig-2",
					Resource: executor.Resource{MemoryMB: 128, DiskMB: 1024, MaxPids: 100},
					Tags: executor.Tags{
						"lifecycle": "lrp", "domain": "cf-apps", "process-guid": "pg-2", "process-index": "1",
						"instance-guid": "ig-2", "placement-tags": `["gpu"]`, "volume-drivers": `[]`,
					},
					GenerateLogMetrics: true,
				},
			}))
		})

		It("allocates the tasks in one batch of their own, under their task guids", func() {
			failed, err := perform(rep.Work{LRPs: []rep.LRP{lrp("pg", 10)}, Tasks: []rep.Task{task("tg-1"), task("tg-2")}})
			Expect(err).NotTo(HaveOccurred())
			Expect(failed.Tasks).To(BeEmpty())
			Expect(fakeExecutor.AllocateContainersCallCount()).To(Equal(2))
			Expect(fakeExecutor.AllocateContainersArgsForCall(1)).To(Equal([]executor.AllocationRequest{
				{
					Guid:               "tg-1",
					Resource:           executor.Resource{MemoryMB: 64, DiskMB: 128},
					Tags:               executor.Tags{"lifecycle": "task", "domain": "cf-tasks", "placement-tags": `[]`, "volume-drivers": `["nfs"]`},
					GenerateLogMetrics: true,
				},
				{
					Guid:               "tg-2",
					Resource:           executor.Resource{MemoryMB: 64, DiskMB: 128},
					Tags:               executor.Tags{"lifecycle": "task", "domain": "cf-tasks", "placement-tags": `[]`, "volume-drivers": `["nfs"]`},
					GenerateLogMetrics: true,
				},
			}))
		})

		It("fails work whose preloaded stack this cell does not have", func() {
			unknown := lrp("pg-x", 10)
			unknown.RootFs = "preloaded:windows2019"
			badTask := task("tg-x")
			badTask.RootFs = "preloaded:nope"
			failed, err := perform(rep.Work{LRPs: []rep.LRP{unknown, lrp("pg-ok", 10)}, Tasks: []rep.Task{badTask, task("tg-ok")}})
			Expect(err).NotTo(HaveOccurred())
			Expect(failed.LRPs).To(Equal([]rep.LRP{unknown}))
			Expect(failed.Tasks).To(Equal([]rep.Task{badTask}))
			Expect(fakeExecutor.AllocateContainersArgsForCall(0)).To(HaveLen(1))
			Expect(fakeExecutor.AllocateContainersArgsForCall(0)[0].Tags["process-guid"]).To(Equal("pg-ok"))
			Expect(fakeExecutor.AllocateContainersArgsForCall(1)).To(HaveLen(1))
			Expect(fakeExecutor.AllocateContainersArgsForCall(1)[0].Guid).To(Equal("tg-ok"))
		})

		It("fails what the executor could not allocate", func() {
			fakeExecutor.AllocateContainersStub = func(reqs []executor.AllocationRequest) ([]executor.AllocationFailure, error) {
				if reqs[0].Tags["lifecycle"] == "lrp" {
					return []executor.AllocationFailure{{AllocationRequest: reqs[1], ErrorMsg: "insufficient resources available"}}, nil
				}
				return []executor.AllocationFailure{{AllocationRequest: reqs[0], ErrorMsg: "container guid not available"}}, nil
			}
			failed, err := perform(rep.Work{LRPs: []rep.LRP{lrp("pg-1", 20), lrp("pg-2", 10)}, Tasks: []rep.Task{task("tg-1"), task("tg-2")}})
			Expect(err).NotTo(HaveOccurred())
			Expect(failed.LRPs).To(Equal([]rep.LRP{lrp("pg-2", 10)}))
			Expect(failed.Tasks).To(Equal([]rep.Task{task("tg-1")}))
			Expect(logs).To(gbytes.Say("container-allocation-failed"))
		})

		It("fails a whole batch whose allocation call fails", func() {
			fakeExecutor.AllocateContainersReturns(nil, errors.New("connection refused"))
			work := rep.Work{LRPs: []rep.LRP{lrp("pg-1", 20), lrp("pg-2", 10)}, Tasks: []rep.Task{task("tg-1")}}
			failed, err := perform(work)
			Expect(err).NotTo(HaveOccurred())
			Expect(failed.LRPs).To(ConsistOf(work.LRPs))
			Expect(failed.Tasks).To(ConsistOf(work.Tasks))
		})

		It("fails an LRP whose instance guid cannot be made", func() {
			broken := auctioncellrep.New(cfg, auctioncellrep.Deps{
				Executor: fakeExecutor, Evacuation: flag,
				NewGuid: func() (string, error) { return "", errors.New("no entropy") },
			})
			failed, err := broken.Perform(logging.Discard(), rep.Work{LRPs: []rep.LRP{lrp("pg", 10)}})
			Expect(err).NotTo(HaveOccurred())
			Expect(failed.LRPs).To(HaveLen(1))
			Expect(fakeExecutor.AllocateContainersCallCount()).To(BeZero())
		})

		It("makes random instance guids by default", func() {
			random := auctioncellrep.New(cfg, auctioncellrep.Deps{Executor: fakeExecutor, Evacuation: flag})
			_, err := random.Perform(logging.Discard(), rep.Work{LRPs: []rep.LRP{lrp("a", 10), lrp("b", 10)}})
			Expect(err).NotTo(HaveOccurred())
			reqs := fakeExecutor.AllocateContainersArgsForCall(0)
			Expect(reqs[0].Guid).To(MatchRegexp(`^[0-9a-f-]{36}$`))
			Expect(reqs[0].Guid).NotTo(Equal(reqs[1].Guid))
			Expect(reqs[0].Tags["instance-guid"]).To(Equal(reqs[0].Guid))
		})
	})
})
