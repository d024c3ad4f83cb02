package etcddb_test

import (
	"fmt"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"diego/bbs/db"
	"diego/bbs/db/etcddb"
	"diego/deploy/clock/fakeclock"
	"diego/deploy/logging"
	"diego/models"
)

var _ = Describe("Actual LRPs", func() {
	const (
		pg     = "pg-1"
		domain = "dom"
	)

	var (
		clock *fakeclock.FakeClock
		store *etcddb.ETCDDB
		keys  etcddb.Keys
		key   *models.ActualLRPKey
		k1    *models.ActualLRPInstanceKey
		k2    *models.ActualLRPInstanceKey
		net1  *models.ActualLRPNetInfo
	)
	logger := logging.Discard()

	BeforeEach(func() {
		clock = fakeclock.NewFakeClock(time.Unix(1_700_000_000, 0))
		store = newStore(etcdClient, clock, "")
		keys = store.Keys()
		key = lrpKey(pg, 0, domain)
		k1 = instanceKey("ig-1", "cell-1")
		k2 = instanceKey("ig-2", "cell-2")
		net1 = netInfo("1.2.3.4", 61001)
	})

	// stored reads the instance record straight from etcd, checks it is
	// valid for its state, and returns it.
	stored := func() *models.ActualLRP {
		GinkgoHelper()
		value, ok := rawValue(keys.ActualInstance(pg, 0))
		Expect(ok).To(BeTrue(), "no instance record")
		var lrp models.ActualLRP
		Expect(etcddb.Decode("instance", value, &lrp)).To(Succeed())
		Expect(lrp.Validate()).To(Succeed())
		Expect(lrp.GetSince()).NotTo(BeZero())
		return &lrp
	}
	gone := func() {
		GinkgoHelper()
		_, ok := rawValue(keys.ActualInstance(pg, 0))
		Expect(ok).To(BeFalse(), "instance record still there")
	}
	cellIndex := func() []string {
		GinkgoHelper()
		return rawKeys(keys.IndexPrefix() + "actual-by-cell/")
	}
	// expectWritten checks after is what is stored, is valid, and is one
	// write on from before.
	expectWritten := func(before, after *models.ActualLRP) {
		GinkgoHelper()
		Expect(after.Validate()).To(Succeed())
		Expect(after.GetModificationTag().GetEpoch()).To(Equal(before.GetModificationTag().GetEpoch()))
		Expect(after.GetModificationTag().GetIndex()).To(Equal(before.GetModificationTag().GetIndex() + 1))
		Expect(after.GetSince()).To(Equal(clock.Now().UnixNano()))
		Expect(stored()).To(BeComparableTo(after, protocmp.Transform()))
	}
	expectCellIndex := func(cell string) {
		GinkgoHelper()
		if cell == "" {
			Expect(cellIndex()).To(BeEmpty())
			return
		}
		Expect(cellIndex()).To(ConsistOf(keys.ActualByCell(cell, pg, 0, false)))
	}

	desire := func() {
		GinkgoHelper()
		Expect(store.DesireLRP(ctx(), logger, desiredLRP(pg, domain, 1))).To(Succeed())
	}
	create := func() *models.ActualLRP {
		GinkgoHelper()
		lrp, err := store.CreateUnclaimedActualLRP(ctx(), logger, key)
		Expect(err).NotTo(HaveOccurred())
		return lrp
	}
	claim := func(ik *models.ActualLRPInstanceKey) *models.ActualLRP {
		GinkgoHelper()
		_, after, err := store.ClaimActualLRP(ctx(), logger, pg, 0, ik)
		Expect(err).NotTo(HaveOccurred())
		return after
	}
	start := func(ik *models.ActualLRPInstanceKey) *models.ActualLRP {
		GinkgoHelper()
		_, after, err := store.StartActualLRP(ctx(), logger, key, ik, net1, nil, nil, nil, "")
		Expect(err).NotTo(HaveOccurred())
		return after
	}
	crash := func(ik *models.ActualLRPInstanceKey) (*models.ActualLRP, bool) {
		GinkgoHelper()
		_, after, restart, err := store.CrashActualLRP(ctx(), logger, key, ik, "boom")
		Expect(err).NotTo(HaveOccurred())
		return after, restart
	}

	// inState puts index 0 of a desired LRP into state by the legal path,
	// held by k1 when the state has a key.
	inState := func(state string) *models.ActualLRP {
		GinkgoHelper()
		desire()
		create()
		switch state {
		case models.ActualLRPStateClaimed:
			claim(k1)
		case models.ActualLRPStateRunning:
			claim(k1)
			start(k1)
		case models.ActualLRPStateCrashed:
			for range models.ImmediateRestarts {
				claim(k1)
				crash(k1)
			}
		}
		lrp := stored()
		Expect(lrp.GetState()).To(Equal(state))
		clock.Increment(time.Second)
		return lrp
	}

	Describe("CreateUnclaimedActualLRP", func() {
		It("creates an UNCLAIMED record with a new epoch, index 0 and since now", func() {
			lrp := create()
			Expect(lrp.GetState()).To(Equal(models.ActualLRPStateUnclaimed))
			Expect(lrp.GetActualLrpKey()).To(BeComparableTo(key, protocmp.Transform()))
			Expect(lrp.GetModificationTag().GetEpoch()).NotTo(BeEmpty())
			Expect(lrp.GetModificationTag().GetIndex()).To(BeZero())
			Expect(lrp.GetSince()).To(Equal(clock.Now().UnixNano()))
			Expect(lrp.GetPresence()).To(Equal(models.ActualLRP_ORDINARY))
			Expect(stored()).To(BeComparableTo(lrp, protocmp.Transform()))
			expectCellIndex("")
		})

		It("returns ResourceExists when the index has a record", func() {
			create()
			_, err := store.CreateUnclaimedActualLRP(ctx(), logger, key)
			expectModelError(err, models.Error_ResourceExists)
		})

		It("refuses a key that would not be a valid record", func() {
			_, err := store.CreateUnclaimedActualLRP(ctx(), logger, lrpKey(pg, 0, ""))
			expectModelError(err, models.Error_InvalidRequest)
			gone()
		})
	})

	Describe("CreateUnclaimedActualLRPs", func() {
		It("creates every missing index over several transactions and skips the ones with a record", func() {
			create() // index 0 exists
			var keys []*models.ActualLRPKey
			for i := int32(0); i < 150; i++ {
				keys = append(keys, lrpKey(pg, i, domain))
			}
			created, err := store.CreateUnclaimedActualLRPs(ctx(), logger, keys)
			Expect(err).NotTo(HaveOccurred())
			Expect(created).To(HaveLen(149))
			for i, lrp := range created {
				Expect(lrp.GetActualLrpKey().GetIndex()).To(BeEquivalentTo(i + 1))
				Expect(lrp.GetState()).To(Equal(models.ActualLRPStateUnclaimed))
			}
			all, err := store.ActualLRPs(ctx(), logger, db.ActualLRPFilter{ProcessGuid: pg})
			Expect(err).NotTo(HaveOccurred())
			Expect(all).To(HaveLen(150))
		})

		It("stops at a key that would not be a valid record", func() {
			created, err := store.CreateUnclaimedActualLRPs(ctx(), logger, []*models.ActualLRPKey{lrpKey(pg, 0, "")})
			expectModelError(err, models.Error_InvalidRequest)
			Expect(created).To(BeEmpty())
			gone()
		})
	})

	// The transition table of spec core §2.2, one row per starting state,
	// one column per operation and key (k1 holds the record when its state
	// has a key; k2 is another cell's key).
	Describe("the lifecycle table", func() {
		type op struct {
			name string
			do   func() (before, after *models.ActualLRP, err error)
			// resulting state and key on success
			state string
			ik    func() *models.ActualLRPInstanceKey
			err   *models.Error
		}
		empty := func() *models.ActualLRPInstanceKey { return &models.ActualLRPInstanceKey{} }
		ops := map[string]op{
			"claim k1": {do: func() (*models.ActualLRP, *models.ActualLRP, error) {
				return store.ClaimActualLRP(ctx(), logger, pg, 0, k1)
			}, state: models.ActualLRPStateClaimed, ik: func() *models.ActualLRPInstanceKey { return k1 }, err: models.ErrActualLRPCannotBeClaimed},
			"claim k2": {do: func() (*models.ActualLRP, *models.ActualLRP, error) {
				return store.ClaimActualLRP(ctx(), logger, pg, 0, k2)
			}, state: models.ActualLRPStateClaimed, ik: func() *models.ActualLRPInstanceKey { return k2 }, err: models.ErrActualLRPCannotBeClaimed},
			"start k1": {do: func() (*models.ActualLRP, *models.ActualLRP, error) {
				return store.StartActualLRP(ctx(), logger, key, k1, netInfo("5.6.7.8", 61002), nil, nil, nil, "")
			}, state: models.ActualLRPStateRunning, ik: func() *models.ActualLRPInstanceKey { return k1 }, err: models.ErrActualLRPCannotBeStarted},
			"start k2": {do: func() (*models.ActualLRP, *models.ActualLRP, error) {
				return store.StartActualLRP(ctx(), logger, key, k2, netInfo("5.6.7.8", 61002), nil, nil, nil, "")
			}, state: models.ActualLRPStateRunning, ik: func() *models.ActualLRPInstanceKey { return k2 }, err: models.ErrActualLRPCannotBeStarted},
			"crash k1": {do: func() (*models.ActualLRP, *models.ActualLRP, error) {
				b, a, _, err := store.CrashActualLRP(ctx(), logger, key, k1, "boom")
				return b, a, err
			}, state: models.ActualLRPStateUnclaimed, ik: empty, err: models.ErrActualLRPCannotBeCrashed},
			"crash k2": {do: func() (*models.ActualLRP, *models.ActualLRP, error) {
				b, a, _, err := store.CrashActualLRP(ctx(), logger, key, k2, "boom")
				return b, a, err
			}, state: models.ActualLRPStateUnclaimed, ik: empty, err: models.ErrActualLRPCannotBeCrashed},
			"unclaim": {do: func() (*models.ActualLRP, *models.ActualLRP, error) {
				return store.UnclaimActualLRP(ctx(), logger, key)
			}, state: models.ActualLRPStateUnclaimed, ik: empty, err: models.ErrActualLRPCannotBeUnclaimed},
			"fail": {do: func() (*models.ActualLRP, *models.ActualLRP, error) {
				return store.FailActualLRP(ctx(), logger, key, "no room")
			}, state: models.ActualLRPStateUnclaimed, ik: empty, err: models.ErrActualLRPCannotBeFailed},
		}

		DescribeTable("moves or refuses",
			func(from, opName string, allowed bool) {
				o := ops[opName]
				initial := inState(from)
				initialRev := rawRevision(keys.ActualInstance(pg, 0))
				before, after, err := o.do()
				if !allowed {
					Expect(err).To(MatchError(o.err))
					Expect(rawRevision(keys.ActualInstance(pg, 0))).To(Equal(initialRev), "nothing written")
					return
				}
				Expect(err).NotTo(HaveOccurred())
				Expect(before).To(BeComparableTo(initial, protocmp.Transform()))
				Expect(after.GetState()).To(Equal(o.state))
				Expect(after.GetActualLrpInstanceKey()).To(BeComparableTo(o.ik(), protocmp.Transform()))
				expectWritten(before, after)
				expectCellIndex(o.ik().GetCellId())
			},
			Entry(nil, models.ActualLRPStateUnclaimed, "claim k1", true),
			Entry(nil, models.ActualLRPStateUnclaimed, "claim k2", true),
			Entry(nil, models.ActualLRPStateUnclaimed, "start k1", true),
			Entry(nil, models.ActualLRPStateUnclaimed, "start k2", true),
			Entry(nil, models.ActualLRPStateUnclaimed, "crash k1", false),
			Entry(nil, models.ActualLRPStateUnclaimed, "unclaim", false),
			Entry(nil, models.ActualLRPStateUnclaimed, "fail", true),

			// "claim k1" on CLAIMED by k1 is the no-write success, below.
			Entry(nil, models.ActualLRPStateClaimed, "claim k2", false),
			Entry(nil, models.ActualLRPStateClaimed, "start k1", true),
			Entry(nil, models.ActualLRPStateClaimed, "start k2", true),
			Entry(nil, models.ActualLRPStateClaimed, "crash k1", true),
			Entry(nil, models.ActualLRPStateClaimed, "crash k2", false),
			Entry(nil, models.ActualLRPStateClaimed, "unclaim", true),
			Entry(nil, models.ActualLRPStateClaimed, "fail", false),

			Entry(nil, models.ActualLRPStateRunning, "claim k1", true),
			Entry(nil, models.ActualLRPStateRunning, "claim k2", false),
			Entry(nil, models.ActualLRPStateRunning, "start k1", true),
			Entry(nil, models.ActualLRPStateRunning, "start k2", false),
			Entry(nil, models.ActualLRPStateRunning, "crash k1", true),
			Entry(nil, models.ActualLRPStateRunning, "crash k2", false),
			Entry(nil, models.ActualLRPStateRunning, "unclaim", true),
			Entry(nil, models.ActualLRPStateRunning, "fail", false),

			Entry(nil, models.ActualLRPStateCrashed, "claim k1", false),
			Entry(nil, models.ActualLRPStateCrashed, "start k1", false),
			Entry(nil, models.ActualLRPStateCrashed, "crash k1", false),
			Entry(nil, models.ActualLRPStateCrashed, "unclaim", true),
			Entry(nil, models.ActualLRPStateCrashed, "fail", false),
		)

		DescribeTable("returns ResourceNotFound for a missing record",
			func(opName string) {
				_, _, err := ops[opName].do()
				expectModelError(err, models.Error_ResourceNotFound)
			},
			Entry(nil, "claim k1"),
			Entry(nil, "crash k1"),
			Entry(nil, "unclaim"),
			Entry(nil, "fail"),
		)

		It("refuses a write whose ActualLRPKey differs in domain", func() {
			inState(models.ActualLRPStateRunning)
			_, _, _, err := store.CrashActualLRP(ctx(), logger, lrpKey(pg, 0, "other"), k1, "boom")
			Expect(err).To(MatchError(models.ErrActualLRPCannotBeCrashed))
			_, _, err = store.StartActualLRP(ctx(), logger, lrpKey(pg, 0, "other"), k1, net1, nil, nil, nil, "")
			Expect(err).To(MatchError(models.ErrActualLRPCannotBeStarted))
		})
	})

	Describe("ClaimActualLRP", func() {
		It("sets the key, clears net info and placement error, and sets since", func() {
			inState(models.ActualLRPStateUnclaimed)
			_, _, err := store.FailActualLRP(ctx(), logger, key, "insufficient resources")
			Expect(err).NotTo(HaveOccurred())
			clock.Increment(time.Second)
			before, after, err := store.ClaimActualLRP(ctx(), logger, pg, 0, k1)
			Expect(err).NotTo(HaveOccurred())
			Expect(before.GetPlacementError()).To(Equal("insufficient resources"))
			Expect(after.GetPlacementError()).To(BeEmpty())
			Expect(after.GetActualLrpNetInfo()).To(BeComparableTo(&models.ActualLRPNetInfo{}, protocmp.Transform()))
			expectWritten(before, after)
		})

		It("succeeds without a write when already CLAIMED by the same key", func() {
			inState(models.ActualLRPStateClaimed)
			rev := rawRevision(keys.ActualInstance(pg, 0))
			before, after, err := store.ClaimActualLRP(ctx(), logger, pg, 0, instanceKey("ig-1", "cell-1"))
			Expect(err).NotTo(HaveOccurred())
			Expect(after).To(BeIdenticalTo(before))
			Expect(after.GetState()).To(Equal(models.ActualLRPStateClaimed))
			Expect(rawRevision(keys.ActualInstance(pg, 0))).To(Equal(rev))
		})
	})

	Describe("StartActualLRP", func() {
		It("records everything the rep reports and clears the placement error", func() {
			inState(models.ActualLRPStateClaimed)
			routes := []*models.ActualLRPInternalRoute{{Hostname: "app.apps.internal"}}
			tags := map[string]string{"app_name": "dora"}
			before, after, err := store.StartActualLRP(ctx(), logger, key, k1, net1, routes, tags, proto.Bool(true), "z1")
			Expect(err).NotTo(HaveOccurred())
			Expect(after.GetState()).To(Equal(models.ActualLRPStateRunning))
			Expect(after.GetActualLrpNetInfo()).To(BeComparableTo(net1, protocmp.Transform()))
			Expect(after.GetActualLrpInternalRoutes()).To(BeComparableTo(routes, protocmp.Transform()))
			Expect(after.GetMetricTags()).To(Equal(tags))
			Expect(after.Routable).NotTo(BeNil())
			Expect(after.GetRoutable()).To(BeTrue())
			Expect(after.GetAvailabilityZone()).To(Equal("z1"))
			expectWritten(before, after)
			expectCellIndex("cell-1")
		})

		It("creates a missing record RUNNING with a new epoch", func() {
			before, after, err := store.StartActualLRP(ctx(), logger, key, k1, net1, nil, nil, nil, "")
			Expect(err).NotTo(HaveOccurred())
			Expect(before).To(BeNil())
			Expect(after.GetState()).To(Equal(models.ActualLRPStateRunning))
			Expect(after.GetModificationTag().GetEpoch()).NotTo(BeEmpty())
			Expect(after.GetModificationTag().GetIndex()).To(BeZero())
			Expect(stored()).To(BeComparableTo(after, protocmp.Transform()))
			expectCellIndex("cell-1")
		})

		It("succeeds without a write when the record is already RUNNING just so", func() {
			inState(models.ActualLRPStateRunning)
			rev := rawRevision(keys.ActualInstance(pg, 0))
			before, after, err := store.StartActualLRP(ctx(), logger, key, k1, netInfo("1.2.3.4", 61001), nil, nil, nil, "")
			Expect(err).NotTo(HaveOccurred())
			Expect(after).To(BeIdenticalTo(before))
			Expect(rawRevision(keys.ActualInstance(pg, 0))).To(Equal(rev))
		})

		It("writes when the same instance reports something new", func() {
			inState(models.ActualLRPStateRunning)
			before, after, err := store.StartActualLRP(ctx(), logger, key, k1, net1, nil, nil, proto.Bool(false), "")
			Expect(err).NotTo(HaveOccurred())
			Expect(after.Routable).NotTo(BeNil())
			expectWritten(before, after)
		})
	})

	Describe("CrashActualLRP and the restart policy", func() {
		It("restarts the first two crashes at once and keeps the third CRASHED", func() {
			inState(models.ActualLRPStateRunning)
			for _, c := range []struct {
				count   int32
				state   string
				restart bool
			}{
				{1, models.ActualLRPStateUnclaimed, true},
				{2, models.ActualLRPStateUnclaimed, true},
				{3, models.ActualLRPStateCrashed, false},
			} {
				current := stored()
				if current.GetState() == models.ActualLRPStateUnclaimed {
					claim(k1)
					start(k1)
					current = stored()
				}
				clock.Increment(time.Minute)
				before, after, restart, err := store.CrashActualLRP(ctx(), logger, key, k1, "oops")
				Expect(err).NotTo(HaveOccurred())
				Expect(before).To(BeComparableTo(current, protocmp.Transform()))
				Expect(restart).To(Equal(c.restart), "count %d", c.count)
				Expect(after.GetCrashCount()).To(Equal(c.count))
				Expect(after.GetState()).To(Equal(c.state))
				Expect(after.GetCrashReason()).To(Equal("oops"))
				Expect(after.GetActualLrpInstanceKey()).To(BeComparableTo(&models.ActualLRPInstanceKey{}, protocmp.Transform()))
				Expect(after.GetActualLrpNetInfo()).To(BeComparableTo(&models.ActualLRPNetInfo{}, protocmp.Transform()))
				expectWritten(before, after)
				expectCellIndex("")
			}
		})

		It("starts counting again at 1 after more than 5 minutes RUNNING", func() {
			inState(models.ActualLRPStateRunning)
			crash(k1)
			claim(k1)
			start(k1)
			Expect(stored().GetCrashCount()).To(BeEquivalentTo(1))

			clock.Increment(models.CrashResetTimeout)
			after, restart := crash(k1)
			Expect(after.GetCrashCount()).To(BeEquivalentTo(2), "exactly 5 minutes is not more")
			Expect(restart).To(BeTrue())

			claim(k1)
			start(k1)
			clock.Increment(models.CrashResetTimeout + time.Second)
			after, restart = crash(k1)
			Expect(after.GetCrashCount()).To(BeEquivalentTo(1))
			Expect(restart).To(BeTrue())
		})

		It("does not reset the count of an instance that was only CLAIMED", func() {
			inState(models.ActualLRPStateRunning)
			crash(k1)
			crash2 := func() *models.ActualLRP {
				claim(k1)
				clock.Increment(10 * time.Minute)
				after, _ := crash(k1)
				return after
			}
			Expect(crash2().GetCrashCount()).To(BeEquivalentTo(2))
		})

		It("deletes the record instead of restarting it when the desired LRP is gone", func() {
			inState(models.ActualLRPStateRunning)
			_, err := store.RemoveDesiredLRP(ctx(), logger, pg)
			Expect(err).NotTo(HaveOccurred())
			before, after, restart, err := store.CrashActualLRP(ctx(), logger, key, k1, "oops")
			Expect(err).NotTo(HaveOccurred())
			Expect(before.GetState()).To(Equal(models.ActualLRPStateRunning))
			Expect(after).To(BeNil())
			Expect(restart).To(BeFalse())
			gone()
			expectCellIndex("")
		})

		It("keeps a CRASHED record when the desired LRP is gone (convergence retires it)", func() {
			inState(models.ActualLRPStateRunning)
			crash(k1)
			claim(k1)
			crash(k1)
			claim(k1)
			_, err := store.RemoveDesiredLRP(ctx(), logger, pg)
			Expect(err).NotTo(HaveOccurred())
			after, restart := crash(k1)
			Expect(restart).To(BeFalse())
			Expect(after.GetState()).To(Equal(models.ActualLRPStateCrashed))
			Expect(stored().GetState()).To(Equal(models.ActualLRPStateCrashed))
		})

		It("truncates the crash reason to 1024 bytes", func() {
			inState(models.ActualLRPStateRunning)
			_, after, _, err := store.CrashActualLRP(ctx(), logger, key, k1, strings.Repeat("x", 2000))
			Expect(err).NotTo(HaveOccurred())
			Expect(after.GetCrashReason()).To(HaveLen(1024))
		})
	})

	Describe("FailActualLRP", func() {
		It("records the placement error on an UNCLAIMED record", func() {
			initial := inState(models.ActualLRPStateUnclaimed)
			before, after, err := store.FailActualLRP(ctx(), logger, key, "found no compatible cell")
			Expect(err).NotTo(HaveOccurred())
			Expect(before).To(BeComparableTo(initial, protocmp.Transform()))
			Expect(after.GetPlacementError()).To(Equal("found no compatible cell"))
			expectWritten(before, after)
		})
	})

	Describe("RemoveActualLRP", func() {
		It("deletes the record and its index entry when the instance key matches", func() {
			inState(models.ActualLRPStateRunning)
			Expect(store.RemoveActualLRP(ctx(), logger, pg, 0, instanceKey("ig-1", "cell-1"))).To(Succeed())
			gone()
			expectCellIndex("")
		})

		It("deletes any record when no instance key is given", func() {
			inState(models.ActualLRPStateUnclaimed)
			Expect(store.RemoveActualLRP(ctx(), logger, pg, 0, nil)).To(Succeed())
			gone()
		})

		It("returns ResourceNotFound for a mismatched key or a missing record", func() {
			inState(models.ActualLRPStateRunning)
			err := store.RemoveActualLRP(ctx(), logger, pg, 0, k2)
			expectModelError(err, models.Error_ResourceNotFound)
			stored()
			err = store.RemoveActualLRP(ctx(), logger, pg, 1, nil)
			expectModelError(err, models.Error_ResourceNotFound)
		})
	})

	Describe("UnclaimActualLRP", func() {
		It("gives a RUNNING instance back, keeping its crash count", func() {
			inState(models.ActualLRPStateRunning)
			crash(k1)
			claim(k1)
			start(k1)
			before, after, err := store.UnclaimActualLRP(ctx(), logger, key)
			Expect(err).NotTo(HaveOccurred())
			Expect(after.GetState()).To(Equal(models.ActualLRPStateUnclaimed))
			Expect(after.GetCrashCount()).To(BeEquivalentTo(1))
			expectWritten(before, after)
			expectCellIndex("")
		})
	})

	Describe("RetireActualLRP", func() {
		DescribeTable("deletes UNCLAIMED and CRASHED records and returns others untouched",
			func(state string, removed bool) {
				initial := inState(state)
				rev := rawRevision(keys.ActualInstance(pg, 0))
				lrp, wasRemoved, err := store.RetireActualLRP(ctx(), logger, key)
				Expect(err).NotTo(HaveOccurred())
				Expect(wasRemoved).To(Equal(removed))
				Expect(lrp).To(BeComparableTo(initial, protocmp.Transform()))
				if removed {
					gone()
					expectCellIndex("")
				} else {
					Expect(rawRevision(keys.ActualInstance(pg, 0))).To(Equal(rev))
				}
			},
			Entry(nil, models.ActualLRPStateUnclaimed, true),
			Entry(nil, models.ActualLRPStateCrashed, true),
			Entry(nil, models.ActualLRPStateClaimed, false),
			Entry(nil, models.ActualLRPStateRunning, false),
		)

		It("returns ResourceNotFound for a missing record", func() {
			_, _, err := store.RetireActualLRP(ctx(), logger, key)
			expectModelError(err, models.Error_ResourceNotFound)
		})
	})

	Describe("ActualLRPs", func() {
		BeforeEach(func() {
			// pg-a (dom-a): 0 RUNNING on cell-1, 1 CLAIMED on cell-2, 2 UNCLAIMED,
			//               10 RUNNING on cell-2 with an evacuating record on cell-1.
			// pg-b (dom-b): 0 RUNNING on cell-1.
			for _, i := range []int32{0, 1, 2, 10} {
				_, err := store.CreateUnclaimedActualLRP(ctx(), logger, lrpKey("pg-a", i, "dom-a"))
				Expect(err).NotTo(HaveOccurred())
			}
			_, _, err := store.StartActualLRP(ctx(), logger, lrpKey("pg-a", 0, "dom-a"), k1, net1, nil, nil, nil, "")
			Expect(err).NotTo(HaveOccurred())
			_, _, err = store.ClaimActualLRP(ctx(), logger, "pg-a", 1, k2)
			Expect(err).NotTo(HaveOccurred())
			_, _, err = store.StartActualLRP(ctx(), logger, lrpKey("pg-a", 10, "dom-a"), instanceKey("ig-10", "cell-1"), net1, nil, nil, nil, "")
			Expect(err).NotTo(HaveOccurred())
			keep, auction, err := store.EvacuateRunningActualLRP(ctx(), logger, lrpKey("pg-a", 10, "dom-a"), instanceKey("ig-10", "cell-1"), net1, 0, nil, nil, nil, "")
			Expect(err).NotTo(HaveOccurred())
			Expect(keep).To(BeTrue())
			Expect(auction).To(BeTrue())
			_, _, err = store.StartActualLRP(ctx(), logger, lrpKey("pg-a", 10, "dom-a"), instanceKey("ig-11", "cell-2"), net1, nil, nil, nil, "")
			Expect(err).NotTo(HaveOccurred())
			_, _, err = store.StartActualLRP(ctx(), logger, lrpKey("pg-b", 0, "dom-b"), instanceKey("ig-b", "cell-1"), net1, nil, nil, nil, "")
			Expect(err).NotTo(HaveOccurred())
		})

		type ref struct {
			pg       string
			index    int32
			presence models.ActualLRP_Presence
		}
		list := func(f db.ActualLRPFilter) []ref {
			GinkgoHelper()
			lrps, err := store.ActualLRPs(ctx(), logger, f)
			Expect(err).NotTo(HaveOccurred())
			var out []ref
			for _, l := range lrps {
				Expect(l.Validate()).To(Succeed())
				out = append(out, ref{l.GetActualLrpKey().GetProcessGuid(), l.GetActualLrpKey().GetIndex(), l.GetPresence()})
			}
			return out
		}
		ord, evac := models.ActualLRP_ORDINARY, models.ActualLRP_EVACUATING
		idx := func(i int32) *int32 { return &i }

		DescribeTable("filters, with presence on every record",
			func(f db.ActualLRPFilter, want []ref) {
				Expect(list(f)).To(Equal(want))
			},
			Entry("everything", db.ActualLRPFilter{}, []ref{
				{"pg-a", 0, ord}, {"pg-a", 1, ord}, {"pg-a", 2, ord}, {"pg-a", 10, ord}, {"pg-a", 10, evac}, {"pg-b", 0, ord},
			}),
			Entry("a domain", db.ActualLRPFilter{Domain: "dom-b"}, []ref{{"pg-b", 0, ord}}),
			Entry("a cell (through the index)", db.ActualLRPFilter{CellID: "cell-1"}, []ref{
				{"pg-a", 0, ord}, {"pg-a", 10, evac}, {"pg-b", 0, ord},
			}),
			Entry("a cell and a domain", db.ActualLRPFilter{CellID: "cell-1", Domain: "dom-a"}, []ref{
				{"pg-a", 0, ord}, {"pg-a", 10, evac},
			}),
			Entry("another cell", db.ActualLRPFilter{CellID: "cell-2"}, []ref{{"pg-a", 1, ord}, {"pg-a", 10, ord}}),
			Entry("a process guid", db.ActualLRPFilter{ProcessGuid: "pg-a"}, []ref{
				{"pg-a", 0, ord}, {"pg-a", 1, ord}, {"pg-a", 2, ord}, {"pg-a", 10, ord}, {"pg-a", 10, evac},
			}),
			Entry("a process guid and index", db.ActualLRPFilter{ProcessGuid: "pg-a", Index: idx(10)}, []ref{
				{"pg-a", 10, ord}, {"pg-a", 10, evac},
			}),
			Entry("an index alone", db.ActualLRPFilter{Index: idx(0)}, []ref{{"pg-a", 0, ord}, {"pg-b", 0, ord}}),
			Entry("a process guid that is a prefix of another", db.ActualLRPFilter{ProcessGuid: "pg"}, nil),
		)

		It("keeps one index entry per record on a cell", func() {
			Expect(cellIndex()).To(ConsistOf(
				keys.ActualByCell("cell-1", "pg-a", 0, false),
				keys.ActualByCell("cell-2", "pg-a", 1, false),
				keys.ActualByCell("cell-2", "pg-a", 10, false),
				keys.ActualByCell("cell-1", "pg-a", 10, true),
				keys.ActualByCell("cell-1", "pg-b", 0, false),
			))
		})

		It("ignores stray index entries and skips undecodable records", func() {
			rawPut(keys.ActualByCell("cell-1", "pg-c", 0, false), "")
			rawPut(keys.ActualByCell("cell-1", "pg-a", 1, false), "")
			rawPut(keys.ActualInstance("pg-b", 0), "junk")
			Expect(list(db.ActualLRPFilter{CellID: "cell-1"})).To(Equal([]ref{{"pg-a", 0, ord}, {"pg-a", 10, evac}}))
			Expect(list(db.ActualLRPFilter{Domain: "dom-b"})).To(BeEmpty())
		})
	})

	It("lets exactly one of 50 racing cells claim an UNCLAIMED record", func() {
		inState(models.ActualLRPStateUnclaimed)
		type result struct {
			ik  *models.ActualLRPInstanceKey
			err error
		}
		const racers = 50
		results := make(chan result, racers)
		gate := make(chan struct{})
		c := ctx()
		var wg sync.WaitGroup
		for i := range racers {
			ik := instanceKey(fmt.Sprintf("ig-%02d", i), fmt.Sprintf("cell-%02d", i))
			wg.Go(func() {
				<-gate
				_, _, err := store.ClaimActualLRP(c, logger, pg, 0, ik)
				results <- result{ik, err}
			})
		}
		close(gate)
		wg.Wait()
		close(results)

		var winners []*models.ActualLRPInstanceKey
		for r := range results {
			if r.err == nil {
				winners = append(winners, r.ik)
				continue
			}
			Expect(r.err).To(MatchError(models.ErrActualLRPCannotBeClaimed), "loser %s", r.ik.GetCellId())
		}
		Expect(winners).To(HaveLen(1))
		lrp := stored()
		Expect(lrp.GetState()).To(Equal(models.ActualLRPStateClaimed))
		Expect(lrp.GetActualLrpInstanceKey()).To(BeComparableTo(winners[0], protocmp.Transform()))
		Expect(lrp.GetModificationTag().GetIndex()).To(BeEquivalentTo(1))
		expectCellIndex(winners[0].GetCellId())
	})
})
