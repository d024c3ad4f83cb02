package etcddb_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/testing/protocmp"

	"diego/bbs/db/etcddb"
	"diego/deploy/clock/fakeclock"
	"diego/deploy/logging"
	"diego/models"
)

var _ = Describe("Evacuation", func() {
	const (
		pg     = "pg-1"
		domain = "dom"
	)

	var (
		clock   *fakeclock.FakeClock
		store   *etcddb.ETCDDB
		keys    etcddb.Keys
		key     *models.ActualLRPKey
		mine    *models.ActualLRPInstanceKey // the draining cell's instance
		theirs  *models.ActualLRPInstanceKey // the replacement elsewhere
		third   *models.ActualLRPInstanceKey // yet another cell
		oldNet  *models.ActualLRPNetInfo
		instKey string
		evacKey string
	)
	logger := logging.Discard()

	BeforeEach(func() {
		clock = fakeclock.NewFakeClock(time.Unix(1_700_000_000, 0))
		store = newStore(etcdClient, clock, "")
		keys = store.Keys()
		key = lrpKey(pg, 0, domain)
		mine = instanceKey("ig-mine", "cell-draining")
		theirs = instanceKey("ig-theirs", "cell-new")
		third = instanceKey("ig-third", "cell-third")
		oldNet = netInfo("10.0.0.1", 61001)
		instKey = keys.ActualInstance(pg, 0)
		evacKey = keys.ActualEvacuating(pg, 0)
		Expect(store.DesireLRP(ctx(), logger, desiredLRP(pg, domain, 1))).To(Succeed())
	})

	record := func(k string) *models.ActualLRP {
		GinkgoHelper()
		value, ok := rawValue(k)
		if !ok {
			return nil
		}
		var lrp models.ActualLRP
		Expect(etcddb.Decode(k, value, &lrp)).To(Succeed())
		Expect(lrp.Validate()).To(Succeed())
		Expect(lrp.GetSince()).NotTo(BeZero())
		return &lrp
	}
	instance := func() *models.ActualLRP { GinkgoHelper(); return record(instKey) }
	evacuating := func() *models.ActualLRP { GinkgoHelper(); return record(evacKey) }

	// Instance states, set up through the store.
	unclaimed := func() {
		GinkgoHelper()
		_, err := store.CreateUnclaimedActualLRP(ctx(), logger, key)
		Expect(err).NotTo(HaveOccurred())
	}
	claimedBy := func(ik *models.ActualLRPInstanceKey) {
		GinkgoHelper()
		unclaimed()
		_, _, err := store.ClaimActualLRP(ctx(), logger, pg, 0, ik)
		Expect(err).NotTo(HaveOccurred())
	}
	runningOn := func(ik *models.ActualLRPInstanceKey) {
		GinkgoHelper()
		_, _, err := store.StartActualLRP(ctx(), logger, key, ik, netInfo("10.0.0.9", 61009), nil, nil, nil, "")
		Expect(err).NotTo(HaveOccurred())
	}
	crashed := func() {
		GinkgoHelper()
		claimedBy(third)
		for i := range models.ImmediateRestarts {
			if i > 0 {
				_, _, err := store.ClaimActualLRP(ctx(), logger, pg, 0, third)
				Expect(err).NotTo(HaveOccurred())
			}
			_, _, _, err := store.CrashActualLRP(ctx(), logger, key, third, "boom")
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(instance().GetState()).To(Equal(models.ActualLRPStateCrashed))
	}
	withPlacementError := func() {
		GinkgoHelper()
		unclaimed()
		_, _, err := store.FailActualLRP(ctx(), logger, key, "insufficient resources")
		Expect(err).NotTo(HaveOccurred())
	}
	// evacuatingOn writes an evacuating record held by ik, the way a
	// draining cell does: start, evacuate (which unclaims), then the
	// instance record is deleted so the caller sets it up afresh.
	evacuatingOn := func(ik *models.ActualLRPInstanceKey) {
		GinkgoHelper()
		runningOn(ik)
		keep, _, err := store.EvacuateRunningActualLRP(ctx(), logger, key, ik, oldNet, 0, nil, nil, nil, "")
		Expect(err).NotTo(HaveOccurred())
		Expect(keep).To(BeTrue())
		rawDelete(instKey)
		rawDelete(keys.ActualByCell(ik.GetCellId(), pg, 0, false))
		clock.Increment(time.Second)
	}
	evacuateRunning := func(ttl time.Duration) (bool, bool) {
		GinkgoHelper()
		keep, auction, err := store.EvacuateRunningActualLRP(ctx(), logger, key, mine, oldNet, ttl, nil, nil, nil, "")
		Expect(err).NotTo(HaveOccurred())
		return keep, auction
	}
	expectEvacuatingMine := func(ttl time.Duration) *models.ActualLRP {
		GinkgoHelper()
		evac := evacuating()
		Expect(evac).NotTo(BeNil())
		Expect(evac.GetState()).To(Equal(models.ActualLRPStateRunning))
		Expect(evac.GetPresence()).To(Equal(models.ActualLRP_EVACUATING))
		Expect(evac.GetActualLrpInstanceKey()).To(BeComparableTo(mine, protocmp.Transform()))
		Expect(evac.GetActualLrpNetInfo()).To(BeComparableTo(oldNet, protocmp.Transform()))
		lease, granted := rawLease(evacKey)
		Expect(lease).NotTo(BeZero())
		Expect(granted).To(Equal(ttl))
		indexLease, _ := rawLease(keys.ActualByCell(mine.GetCellId(), pg, 0, true))
		Expect(indexLease).To(Equal(lease), "the index entry lives and dies with the record")
		return evac
	}

	Describe("EvacuateRunningActualLRP", func() {
		It("instance missing → removes its own evacuating record, does not keep", func() {
			evacuatingOn(mine)
			keep, auction := evacuateRunning(time.Minute)
			Expect(keep).To(BeFalse())
			Expect(auction).To(BeFalse())
			Expect(evacuating()).To(BeNil())
			Expect(rawKeys(keys.IndexPrefix() + "actual-by-cell/")).To(BeEmpty())
		})

		It("instance missing, another cell's evacuating record → leaves it, does not keep", func() {
			evacuatingOn(third)
			keep, _ := evacuateRunning(time.Minute)
			Expect(keep).To(BeFalse())
			Expect(evacuating().GetActualLrpInstanceKey()).To(BeComparableTo(third, protocmp.Transform()))
		})

		It("instance UNCLAIMED without placement error → creates the evacuating record under the lease, keeps", func() {
			unclaimed()
			before := instance()
			keep, auction := evacuateRunning(90 * time.Second)
			Expect(keep).To(BeTrue())
			Expect(auction).To(BeFalse())
			evac := expectEvacuatingMine(90 * time.Second)
			Expect(evac.GetModificationTag().GetIndex()).To(BeZero())
			Expect(evac.GetSince()).To(Equal(clock.Now().UnixNano()))
			Expect(instance()).To(BeComparableTo(before, protocmp.Transform()), "instance untouched")
		})

		It("uses a 10 minute lease when no ttl is given, and rounds up to whole seconds", func() {
			unclaimed()
			evacuateRunning(0)
			expectEvacuatingMine(10 * time.Minute)
			Expect(etcddb.LeaseSeconds(1500 * time.Millisecond)).To(BeEquivalentTo(2))
		})

		It("instance CLAIMED by another → refreshes its own evacuating record when it changed, keeps", func() {
			evacuatingOn(mine)
			claimedBy(theirs)
			first := evacuating()

			rev := rawRevision(evacKey)
			keep, _ := evacuateRunning(time.Minute)
			Expect(keep).To(BeTrue())
			Expect(rawRevision(evacKey)).To(Equal(rev), "identical: nothing written")

			oldNet = netInfo("10.0.0.2", 61002)
			keep, auction := evacuateRunning(2 * time.Minute)
			Expect(keep).To(BeTrue())
			Expect(auction).To(BeFalse())
			evac := expectEvacuatingMine(2 * time.Minute)
			Expect(evac.GetModificationTag().GetEpoch()).To(Equal(first.GetModificationTag().GetEpoch()))
			Expect(evac.GetModificationTag().GetIndex()).To(Equal(first.GetModificationTag().GetIndex() + 1))
			Expect(instance().GetActualLrpInstanceKey()).To(BeComparableTo(theirs, protocmp.Transform()))
		})

		It("instance CLAIMED by another, another cell's evacuating record → does not keep, writes nothing", func() {
			evacuatingOn(third)
			claimedBy(theirs)
			rev := rawRevision(evacKey)
			keep, auction := evacuateRunning(time.Minute)
			Expect(keep).To(BeFalse())
			Expect(auction).To(BeFalse())
			Expect(rawRevision(evacKey)).To(Equal(rev))
		})

		DescribeTable("instance held by this key → evacuating record and unclaim in one transaction, keeps and auctions",
			func(state string) {
				claimedBy(mine)
				if state == models.ActualLRPStateRunning {
					runningOn(mine)
				}
				before := instance()
				clock.Increment(time.Second)
				keep, auction := evacuateRunning(45 * time.Second)
				Expect(keep).To(BeTrue())
				Expect(auction).To(BeTrue())
				expectEvacuatingMine(45 * time.Second)

				after := instance()
				Expect(after.GetState()).To(Equal(models.ActualLRPStateUnclaimed))
				Expect(after.GetActualLrpInstanceKey()).To(BeComparableTo(&models.ActualLRPInstanceKey{}, protocmp.Transform()))
				Expect(after.GetSince()).To(Equal(clock.Now().UnixNano()))
				Expect(after.GetModificationTag().GetIndex()).To(Equal(before.GetModificationTag().GetIndex() + 1))
				Expect(rawRevision(instKey)).To(Equal(rawRevision(evacKey)), "one transaction")
				Expect(rawKeys(keys.IndexPrefix() + "actual-by-cell/")).To(ConsistOf(keys.ActualByCell(mine.GetCellId(), pg, 0, true)))
			},
			Entry(nil, models.ActualLRPStateClaimed),
			Entry(nil, models.ActualLRPStateRunning),
		)

		It("instance RUNNING by this key overwrites another cell's evacuating record unconditionally", func() {
			evacuatingOn(third)
			runningOn(mine)
			keep, auction := evacuateRunning(time.Minute)
			Expect(keep).To(BeTrue())
			Expect(auction).To(BeTrue())
			expectEvacuatingMine(time.Minute)
			Expect(rawKeys(keys.IndexPrefix() + "actual-by-cell/")).To(ConsistOf(keys.ActualByCell(mine.GetCellId(), pg, 0, true)))
		})

		DescribeTable("instance UNCLAIMED with placement error, RUNNING elsewhere, or CRASHED → removes its own evacuating record, does not keep",
			func(setup func()) {
				evacuatingOn(mine)
				setup()
				before := instance()
				keep, auction := evacuateRunning(time.Minute)
				Expect(keep).To(BeFalse())
				Expect(auction).To(BeFalse())
				Expect(evacuating()).To(BeNil())
				Expect(instance()).To(BeComparableTo(before, protocmp.Transform()))
			},
			Entry("placement error", func() { withPlacementError() }),
			Entry("running elsewhere", func() { runningOn(theirs) }),
			Entry("crashed", func() { crashed() }),
		)

		It("lets the evacuating record and its index entry go with the lease", func() {
			unclaimed()
			evacuateRunning(time.Minute)
			lease, _ := rawLease(evacKey)
			_, err := etcdClient.Revoke(ctx(), lease)
			Expect(err).NotTo(HaveOccurred())
			Expect(evacuating()).To(BeNil())
			Expect(rawKeys(keys.IndexPrefix() + "actual-by-cell/")).To(BeEmpty())
		})
	})

	Describe("EvacuateClaimedActualLRP", func() {
		It("removes its own evacuating record and unclaims an instance it holds", func() {
			evacuatingOn(mine)
			claimedBy(mine)
			before := instance()
			keep, lrp, err := store.EvacuateClaimedActualLRP(ctx(), logger, key, mine)
			Expect(err).NotTo(HaveOccurred())
			Expect(keep).To(BeFalse())
			Expect(lrp).NotTo(BeNil())
			Expect(lrp.GetState()).To(Equal(models.ActualLRPStateUnclaimed))
			Expect(lrp.GetModificationTag().GetIndex()).To(Equal(before.GetModificationTag().GetIndex() + 1))
			Expect(instance()).To(BeComparableTo(lrp, protocmp.Transform()))
			Expect(evacuating()).To(BeNil())
			Expect(rawKeys(keys.IndexPrefix() + "actual-by-cell/")).To(BeEmpty())
		})

		It("leaves an instance held by another key and another cell's evacuating record", func() {
			evacuatingOn(third)
			claimedBy(theirs)
			before := instance()
			keep, lrp, err := store.EvacuateClaimedActualLRP(ctx(), logger, key, mine)
			Expect(err).NotTo(HaveOccurred())
			Expect(keep).To(BeFalse())
			Expect(lrp).To(BeNil())
			Expect(instance()).To(BeComparableTo(before, protocmp.Transform()))
			Expect(evacuating()).NotTo(BeNil())
		})

		It("is fine with a missing instance", func() {
			keep, lrp, err := store.EvacuateClaimedActualLRP(ctx(), logger, key, mine)
			Expect(err).NotTo(HaveOccurred())
			Expect(keep).To(BeFalse())
			Expect(lrp).To(BeNil())
		})
	})

	Describe("EvacuateStoppedActualLRP", func() {
		It("removes its own evacuating record and the instance it holds", func() {
			evacuatingOn(mine)
			runningOn(mine)
			keep, err := store.EvacuateStoppedActualLRP(ctx(), logger, key, mine)
			Expect(err).NotTo(HaveOccurred())
			Expect(keep).To(BeFalse())
			Expect(evacuating()).To(BeNil())
			Expect(instance()).To(BeNil())
			Expect(rawKeys(keys.IndexPrefix() + "actual-by-cell/")).To(BeEmpty())
		})

		It("returns ActualLRPCannotBeRemoved for an instance held by another key, after removing its own evacuating record", func() {
			evacuatingOn(mine)
			runningOn(theirs)
			keep, err := store.EvacuateStoppedActualLRP(ctx(), logger, key, mine)
			Expect(err).To(MatchError(models.ErrActualLRPCannotBeRemoved))
			Expect(keep).To(BeFalse())
			Expect(evacuating()).To(BeNil())
			Expect(instance().GetActualLrpInstanceKey()).To(BeComparableTo(theirs, protocmp.Transform()))
		})

		It("returns ActualLRPCannotBeRemoved for a missing instance", func() {
			_, err := store.EvacuateStoppedActualLRP(ctx(), logger, key, mine)
			Expect(err).To(MatchError(models.ErrActualLRPCannotBeRemoved))
		})
	})

	Describe("EvacuateCrashedActualLRP", func() {
		It("removes its own evacuating record and crashes the instance it holds", func() {
			evacuatingOn(mine)
			runningOn(mine)
			restart, err := store.EvacuateCrashedActualLRP(ctx(), logger, key, mine, "died")
			Expect(err).NotTo(HaveOccurred())
			Expect(restart).To(BeTrue(), "a first crash restarts at once")
			Expect(evacuating()).To(BeNil())
			inst := instance()
			Expect(inst.GetState()).To(Equal(models.ActualLRPStateUnclaimed))
			Expect(inst.GetCrashCount()).To(BeEquivalentTo(1))
			Expect(inst.GetCrashReason()).To(Equal("died"))
		})

		It("is fine with a missing instance", func() {
			evacuatingOn(mine)
			restart, err := store.EvacuateCrashedActualLRP(ctx(), logger, key, mine, "died")
			Expect(err).NotTo(HaveOccurred())
			Expect(restart).To(BeFalse())
			Expect(evacuating()).To(BeNil())
		})

		It("returns ActualLRPCannotBeCrashed for an instance held by another key", func() {
			evacuatingOn(mine)
			runningOn(theirs)
			_, err := store.EvacuateCrashedActualLRP(ctx(), logger, key, mine, "died")
			Expect(err).To(MatchError(models.ErrActualLRPCannotBeCrashed))
			Expect(evacuating()).To(BeNil())
			Expect(instance().GetState()).To(Equal(models.ActualLRPStateRunning))
		})
	})

	Describe("RemoveEvacuatingActualLRP", func() {
		It("removes a matching evacuating record and its index entry", func() {
			evacuatingOn(mine)
			Expect(store.RemoveEvacuatingActualLRP(ctx(), logger, key, mine)).To(Succeed())
			Expect(evacuating()).To(BeNil())
			Expect(rawKeys(keys.IndexPrefix())).NotTo(ContainElement(keys.ActualByCell(mine.GetCellId(), pg, 0, true)))
		})

		It("succeeds when there is none", func() {
			Expect(store.RemoveEvacuatingActualLRP(ctx(), logger, key, mine)).To(Succeed())
		})

		It("returns ActualLRPCannotBeRemoved for another key's record", func() {
			evacuatingOn(third)
			err := store.RemoveEvacuatingActualLRP(ctx(), logger, key, mine)
			Expect(err).To(MatchError(models.ErrActualLRPCannotBeRemoved))
			err = store.RemoveEvacuatingActualLRP(ctx(), logger, lrpKey(pg, 0, "other-domain"), third)
			Expect(err).To(MatchError(models.ErrActualLRPCannotBeRemoved))
			Expect(evacuating()).NotTo(BeNil())
		})
	})
})
