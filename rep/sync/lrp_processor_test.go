package sync_test

import (
	"context"
	"errors"
	"time"

	bbsclient "diego/bbs/client"
	"diego/executor"
	"diego/models"
	repsync "diego/rep/sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("the LRP processor", func() {
	var (
		f       *fixture
		g       *repsync.Generator
		ctx     context.Context
		desired *models.DesiredLRP
	)

	BeforeEach(func() {
		f = newFixture()
		ctx = context.Background()
		desired = &models.DesiredLRP{ProcessGuid: "pg-1", Domain: "cf-apps", RootFs: "preloaded:cflinuxfs3",
			Action: models.WrapAction(&models.RunAction{Path: "/bin/app", User: "vcap"}), Ports: []uint32{8080}}
		f.bbs.DesiredLRPsReturns([]*models.DesiredLRP{desired}, nil)
	})

	JustBeforeEach(func() {
		g = f.generator()
	})

	process := func(c executor.Container) {
		f.executor.GetContainerReturns(c, nil)
		g.ContainerOperation(c.Guid).Execute(ctx)
	}

	expectDeleted := func() {
		ExpectWithOffset(1, f.executor.DeleteContainerCallCount()).To(Equal(1))
		ExpectWithOffset(1, f.executor.DeleteContainerArgsForCall(0)).To(Equal("ig-1"))
	}

	It("re-reads the container by guid and does nothing when it is gone", func() {
		f.executor.GetContainerReturns(executor.Container{}, executor.ErrContainerNotFound)
		g.ContainerOperation("ig-1").Execute(ctx)
		Expect(f.executor.GetContainerArgsForCall(0)).To(Equal("ig-1"))
		Expect(f.bbs.Invocations()).To(BeEmpty())
		Expect(f.executor.DeleteContainerCallCount()).To(BeZero())
	})

	It("does nothing when the container cannot be read", func() {
		f.executor.GetContainerReturns(executor.Container{}, errors.New("boom"))
		g.ContainerOperation("ig-1").Execute(ctx)
		Expect(f.bbs.Invocations()).To(BeEmpty())
	})

	It("ignores containers without a known lifecycle tag", func() {
		c := lrpContainer(executor.StateReserved)
		delete(c.Tags, repsync.LifecycleTag)
		process(c)
		c.Tags[repsync.LifecycleTag] = "other"
		process(c)
		Expect(f.bbs.Invocations()).To(BeEmpty())
		Expect(f.executor.DeleteContainerCallCount()).To(BeZero())
	})

	It("ignores an LRP container whose tags do not make a key", func() {
		c := lrpContainer(executor.StateReserved)
		c.Tags[repsync.ProcessIndexTag] = "x"
		process(c)
		Expect(f.bbs.Invocations()).To(BeEmpty())
	})

	Context("in normal mode", func() {
		Describe("a reserved container", func() {
			It("claims, fetches the desired LRP and runs the container", func() {
				process(lrpContainer(executor.StateReserved))

				Expect(f.bbs.ClaimActualLRPCallCount()).To(Equal(1))
				_, key, ik := f.bbs.ClaimActualLRPArgsForCall(0)
				Expect(key).To(Equal(lrpKey))
				Expect(ik).To(Equal(lrpInstanceKey))

				Expect(f.bbs.DesiredLRPsCallCount()).To(Equal(1))
				_, filter := f.bbs.DesiredLRPsArgsForCall(0)
				Expect(filter).To(Equal(bbsclient.DesiredLRPFilter{ProcessGuids: []string{"pg-1"}}))

				want, err := repsync.NewLRPRunRequest(desired, lrpKey, lrpInstanceKey, f.cfg.StackPathMap)
				Expect(err).NotTo(HaveOccurred())
				Expect(f.executor.RunContainerCallCount()).To(Equal(1))
				Expect(f.executor.RunContainerArgsForCall(0)).To(Equal(want))
				Expect(f.executor.DeleteContainerCallCount()).To(BeZero())
				Expect(f.bbs.RemoveActualLRPCallCount()).To(BeZero())
			})

			It("deletes the container when the claim is refused", func() {
				f.bbs.ClaimActualLRPReturns(models.ErrActualLRPCannotBeClaimed)
				process(lrpContainer(executor.StateReserved))
				expectDeleted()
				Expect(f.bbs.DesiredLRPsCallCount()).To(BeZero())
				Expect(f.executor.RunContainerCallCount()).To(BeZero())
			})

			It("stops on any other claim error", func() {
				f.bbs.ClaimActualLRPReturns(errors.New("bbs down"))
				process(lrpContainer(executor.StateReserved))
				Expect(f.bbs.DesiredLRPsCallCount()).To(BeZero())
				Expect(f.executor.RunContainerCallCount()).To(BeZero())
				Expect(f.executor.DeleteContainerCallCount()).To(BeZero())
			})

			It("stops when the desired LRP cannot be fetched", func() {
				f.bbs.DesiredLRPsReturns(nil, errors.New("bbs down"))
				process(lrpContainer(executor.StateReserved))
				Expect(f.executor.RunContainerCallCount()).To(BeZero())
				Expect(f.executor.DeleteContainerCallCount()).To(BeZero())
				Expect(f.bbs.RemoveActualLRPCallCount()).To(BeZero())
			})

			It("stops when there is no desired LRP any more", func() {
				f.bbs.DesiredLRPsReturns([]*models.DesiredLRP{}, nil)
				process(lrpContainer(executor.StateReserved))
				Expect(f.bbs.DesiredLRPsCallCount()).To(Equal(1))
				Expect(f.executor.RunContainerCallCount()).To(BeZero())
				Expect(f.executor.DeleteContainerCallCount()).To(BeZero())
				Expect(f.bbs.RemoveActualLRPCallCount()).To(BeZero())
			})

			It("fetches the desired LRPs of containers reserved together in one request", func() {
				// The first fetch is held until the other two containers
				// ask: they wait for a second fetch that began after they
				// asked, and share it.
				other := &models.DesiredLRP{ProcessGuid: "pg-2", Domain: "cf-apps", RootFs: "preloaded:cflinuxfs3",
					Action: models.WrapAction(&models.RunAction{Path: "/bin/app", User: "vcap"})}
				release := make(chan struct{})
				f.bbs.DesiredLRPsStub = func(_ context.Context, filter bbsclient.DesiredLRPFilter) ([]*models.DesiredLRP, error) {
					if f.bbs.DesiredLRPsCallCount() == 1 {
						<-release
					}
					return []*models.DesiredLRP{desired, other}, nil
				}
				containers := map[string]executor.Container{}
				for _, c := range []struct{ guid, pg, index string }{{"ig-1", "pg-1", "0"}, {"ig-2", "pg-2", "0"}, {"ig-3", "pg-1", "1"}} {
					container := lrpContainer(executor.StateReserved) // fresh tags each call
					container.Guid = c.guid
					container.Tags[repsync.InstanceGuidTag] = c.guid
					container.Tags[repsync.ProcessGuidTag] = c.pg
					container.Tags[repsync.ProcessIndexTag] = c.index
					containers[c.guid] = container
				}
				f.executor.GetContainerStub = func(guid string) (executor.Container, error) { return containers[guid], nil }

				done := make(chan struct{}, 3)
				for _, guid := range []string{"ig-1", "ig-2", "ig-3"} {
					go func() {
						defer GinkgoRecover()
						g.ContainerOperation(guid).Execute(ctx)
						done <- struct{}{}
					}()
					if guid == "ig-1" {
						Eventually(f.bbs.DesiredLRPsCallCount).Should(Equal(1))
					}
				}
				Eventually(f.bbs.ClaimActualLRPCallCount).Should(Equal(3))
				Consistently(f.bbs.DesiredLRPsCallCount, 50*time.Millisecond).Should(Equal(1))
				close(release)
				for range 3 {
					Eventually(done).Should(Receive())
				}

				Expect(f.bbs.DesiredLRPsCallCount()).To(Equal(2))
				_, first := f.bbs.DesiredLRPsArgsForCall(0)
				Expect(first.ProcessGuids).To(Equal([]string{"pg-1"}))
				_, second := f.bbs.DesiredLRPsArgsForCall(1)
				Expect(second.ProcessGuids).To(ConsistOf("pg-2", "pg-1"))
				Expect(f.executor.RunContainerCallCount()).To(Equal(3))
				var ran []string
				for i := range 3 {
					ran = append(ran, f.executor.RunContainerArgsForCall(i).Guid)
				}
				Expect(ran).To(ConsistOf("ig-1", "ig-2", "ig-3"))
			})

			It("removes the actual LRP and deletes the container when run fails", func() {
				f.executor.RunContainerReturns(executor.ErrInsufficientResourcesAvailable)
				process(lrpContainer(executor.StateReserved))
				Expect(f.bbs.RemoveActualLRPCallCount()).To(Equal(1))
				_, key, ik := f.bbs.RemoveActualLRPArgsForCall(0)
				Expect(key).To(Equal(lrpKey))
				Expect(ik).To(Equal(lrpInstanceKey))
				expectDeleted()
			})

			It("treats a rootfs it cannot map like a failed run", func() {
				desired.RootFs = "preloaded:unknown"
				process(lrpContainer(executor.StateReserved))
				Expect(f.executor.RunContainerCallCount()).To(BeZero())
				Expect(f.bbs.RemoveActualLRPCallCount()).To(Equal(1))
				expectDeleted()
			})
		})

		DescribeTable("an initializing or created container",
			func(state executor.State) {
				process(lrpContainer(state))
				Expect(f.bbs.ClaimActualLRPCallCount()).To(Equal(1))
				_, key, ik := f.bbs.ClaimActualLRPArgsForCall(0)
				Expect(key).To(Equal(lrpKey))
				Expect(ik).To(Equal(lrpInstanceKey))
				Expect(f.executor.RunContainerCallCount()).To(BeZero())
				Expect(f.executor.DeleteContainerCallCount()).To(BeZero())

				f.bbs.ClaimActualLRPReturns(models.ErrActualLRPCannotBeClaimed)
				process(lrpContainer(state))
				expectDeleted()

				f.bbs.ClaimActualLRPReturns(errors.New("bbs down"))
				process(lrpContainer(state))
				Expect(f.executor.DeleteContainerCallCount()).To(Equal(1))
				Expect(f.bbs.DesiredLRPsCallCount()).To(BeZero())
			},
			Entry("initializing", executor.StateInitializing),
			Entry("created", executor.StateCreated),
		)

		Describe("a running container", func() {
			It("starts the actual LRP with the container's net info", func() {
				process(lrpContainer(executor.StateRunning))
				Expect(f.bbs.StartActualLRPCallCount()).To(Equal(1))
				_, req := f.bbs.StartActualLRPArgsForCall(0)
				Expect(req.GetActualLrpKey()).To(Equal(lrpKey))
				Expect(req.GetActualLrpInstanceKey()).To(Equal(lrpInstanceKey))
				Expect(req.GetActualLrpNetInfo()).To(Equal(&models.ActualLRPNetInfo{
					Address:          "10.0.0.5",
					InstanceAddress:  "10.254.0.2",
					PreferredAddress: models.ActualLRPNetInfo_HOST,
					Ports: []*models.PortMapping{
						{ContainerPort: 8080, HostPort: 61001},
						{ContainerPort: 2222, HostPort: 61002},
					},
				}))
				Expect(req.GetMetricTags()).To(Equal(map[string]string{"source_id": "app"}))
				Expect(req.Routable).To(HaveValue(BeTrue()))
				Expect(req.GetAvailabilityZone()).To(Equal("z1"))
				Expect(f.executor.StopContainerCallCount()).To(BeZero())
				Expect(f.executor.DeleteContainerCallCount()).To(BeZero())
			})

			It("stops the container when the BBS will not start it", func() {
				f.bbs.StartActualLRPReturns(models.ErrActualLRPCannotBeStarted)
				process(lrpContainer(executor.StateRunning))
				Expect(f.executor.StopContainerCallCount()).To(Equal(1))
				Expect(f.executor.StopContainerArgsForCall(0)).To(Equal("ig-1"))
				Expect(f.executor.DeleteContainerCallCount()).To(BeZero())
			})

			It("leaves the container on any other error", func() {
				f.bbs.StartActualLRPReturns(errors.New("bbs down"))
				process(lrpContainer(executor.StateRunning))
				Expect(f.executor.StopContainerCallCount()).To(BeZero())
				Expect(f.executor.DeleteContainerCallCount()).To(BeZero())
			})
		})

		Describe("a completed container", func() {
			It("removes the actual LRP of a stopped container, then deletes it", func() {
				c := lrpContainer(executor.StateCompleted)
				c.RunResult = executor.ContainerRunResult{Stopped: true, Failed: true, FailureReason: "stopped"}
				process(c)
				Expect(f.bbs.RemoveActualLRPCallCount()).To(Equal(1))
				_, key, ik := f.bbs.RemoveActualLRPArgsForCall(0)
				Expect(key).To(Equal(lrpKey))
				Expect(ik).To(Equal(lrpInstanceKey))
				Expect(f.bbs.CrashActualLRPCallCount()).To(BeZero())
				expectDeleted()
			})

			It("crashes the actual LRP with the failure reason, then deletes it", func() {
				c := lrpContainer(executor.StateCompleted)
				c.RunResult = executor.ContainerRunResult{Failed: true, FailureReason: "Exited with status 1"}
				process(c)
				Expect(f.bbs.CrashActualLRPCallCount()).To(Equal(1))
				_, key, ik, reason := f.bbs.CrashActualLRPArgsForCall(0)
				Expect(key).To(Equal(lrpKey))
				Expect(ik).To(Equal(lrpInstanceKey))
				Expect(reason).To(Equal("Exited with status 1"))
				Expect(f.bbs.RemoveActualLRPCallCount()).To(BeZero())
				expectDeleted()
			})

			It("deletes the container even when the BBS call fails", func() {
				f.bbs.CrashActualLRPReturns(errors.New("bbs down"))
				process(lrpContainer(executor.StateCompleted))
				expectDeleted()
			})
		})

		It("never makes evacuation calls", func() {
			for _, s := range []executor.State{executor.StateReserved, executor.StateRunning, executor.StateCompleted} {
				process(lrpContainer(s))
			}
			Expect(f.bbs.EvacuateClaimedActualLRPCallCount() + f.bbs.EvacuateRunningActualLRPCallCount() +
				f.bbs.EvacuateStoppedActualLRPCallCount() + f.bbs.EvacuateCrashedActualLRPCallCount()).To(BeZero())
			Expect(f.appLog.SendAppLogCallCount()).To(BeZero())
		})
	})

	Context("in evacuation mode", func() {
		BeforeEach(func() {
			f.flag.Evacuate()
		})

		expectNoNormalCalls := func() {
			Expect(f.bbs.ClaimActualLRPCallCount() + f.bbs.StartActualLRPCallCount() + f.bbs.CrashActualLRPCallCount() +
				f.bbs.RemoveActualLRPCallCount()).To(BeZero())
			Expect(f.executor.RunContainerCallCount()).To(BeZero())
		}

		DescribeTable("a reserved, initializing or created container is given up, then deleted",
			func(state executor.State, bbsErr error) {
				f.bbs.EvacuateClaimedActualLRPReturns(false, bbsErr)
				process(lrpContainer(state))
				Expect(f.bbs.EvacuateClaimedActualLRPCallCount()).To(Equal(1))
				_, key, ik := f.bbs.EvacuateClaimedActualLRPArgsForCall(0)
				Expect(key).To(Equal(lrpKey))
				Expect(ik).To(Equal(lrpInstanceKey))
				expectDeleted()
				expectNoNormalCalls()
			},
			Entry("reserved", executor.StateReserved, nil),
			Entry("initializing", executor.StateInitializing, nil),
			Entry("created", executor.StateCreated, nil),
			Entry("even when the BBS call fails", executor.StateCreated, errors.New("bbs down")),
		)

		Describe("a running container", func() {
			BeforeEach(func() {
				f.cfg.EvacuationTimeout = 90 * time.Second
			})

			It("requests a replacement with the evacuation ttl and keeps the container when told to", func() {
				f.bbs.EvacuateRunningActualLRPReturns(true, nil)
				process(lrpContainer(executor.StateRunning))
				Expect(f.bbs.EvacuateRunningActualLRPCallCount()).To(Equal(1))
				_, req := f.bbs.EvacuateRunningActualLRPArgsForCall(0)
				Expect(req.GetActualLrpKey()).To(Equal(lrpKey))
				Expect(req.GetActualLrpInstanceKey()).To(Equal(lrpInstanceKey))
				Expect(req.GetActualLrpNetInfo()).To(Equal(repsync.NetInfo(lrpContainer(executor.StateRunning))))
				Expect(req.GetTtl()).To(Equal(uint64(90)))
				Expect(req.GetAvailabilityZone()).To(Equal("z1"))
				Expect(req.Routable).To(HaveValue(BeTrue()))
				Expect(f.executor.DeleteContainerCallCount()).To(BeZero())
				expectNoNormalCalls()
			})

			It("logs the replacement request to the app log once per container", func() {
				f.bbs.EvacuateRunningActualLRPReturns(true, nil)
				process(lrpContainer(executor.StateRunning))
				process(lrpContainer(executor.StateRunning))
				Expect(f.bbs.EvacuateRunningActualLRPCallCount()).To(Equal(2))
				Expect(f.appLog.SendAppLogCallCount()).To(Equal(1))
				appID, msg, source, instance := f.appLog.SendAppLogArgsForCall(0)
				Expect(appID).To(Equal("log-guid"))
				Expect(msg).To(Equal("Cell cell-1 requesting replacement for instance ig-1"))
				Expect(source).To(Equal("CELL"))
				Expect(instance).To(Equal("2"))
			})

			It("deletes the container when the BBS says not to keep it", func() {
				f.bbs.EvacuateRunningActualLRPReturns(false, nil)
				process(lrpContainer(executor.StateRunning))
				expectDeleted()
			})

			It("keeps the container when the BBS call fails, for a later pass", func() {
				f.bbs.EvacuateRunningActualLRPReturns(false, errors.New("bbs down"))
				process(lrpContainer(executor.StateRunning))
				Expect(f.executor.DeleteContainerCallCount()).To(BeZero())
			})
		})

		Describe("a completed container", func() {
			It("evacuates a stopped one, then deletes it", func() {
				c := lrpContainer(executor.StateCompleted)
				c.RunResult = executor.ContainerRunResult{Stopped: true}
				process(c)
				Expect(f.bbs.EvacuateStoppedActualLRPCallCount()).To(Equal(1))
				_, key, ik := f.bbs.EvacuateStoppedActualLRPArgsForCall(0)
				Expect(key).To(Equal(lrpKey))
				Expect(ik).To(Equal(lrpInstanceKey))
				Expect(f.bbs.EvacuateCrashedActualLRPCallCount()).To(BeZero())
				expectDeleted()
				expectNoNormalCalls()
			})

			It("evacuates a crashed one with its reason, then deletes it", func() {
				c := lrpContainer(executor.StateCompleted)
				c.RunResult = executor.ContainerRunResult{Failed: true, FailureReason: "Exited with status 2"}
				f.bbs.EvacuateCrashedActualLRPReturns(false, errors.New("bbs down"))
				process(c)
				Expect(f.bbs.EvacuateCrashedActualLRPCallCount()).To(Equal(1))
				_, key, ik, reason := f.bbs.EvacuateCrashedActualLRPArgsForCall(0)
				Expect(key).To(Equal(lrpKey))
				Expect(ik).To(Equal(lrpInstanceKey))
				Expect(reason).To(Equal("Exited with status 2"))
				Expect(f.bbs.EvacuateStoppedActualLRPCallCount()).To(BeZero())
				expectDeleted()
				expectNoNormalCalls()
			})
		})
	})
})
