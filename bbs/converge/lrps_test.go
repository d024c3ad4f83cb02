package converge_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/bbs/converge"
	"diego/models"
)

var _ = Describe("ConvergeLRPs", func() {
	now := time.Unix(200000, 0)
	ago := func(d time.Duration) int64 { return now.Add(-d).UnixNano() }

	var snap converge.LRPSnapshot

	info := func(pg string, instances int32) *models.DesiredLRPSchedulingInfo {
		return &models.DesiredLRPSchedulingInfo{DesiredLrpKey: &models.DesiredLRPKey{ProcessGuid: pg, Domain: "apps"}, Instances: instances}
	}
	actual := func(pg string, index int32, state, cell string) *models.ActualLRP {
		a := &models.ActualLRP{ActualLrpKey: &models.ActualLRPKey{ProcessGuid: pg, Index: index, Domain: "apps"},
			State: state, Since: ago(time.Second), ActualLrpInstanceKey: &models.ActualLRPInstanceKey{}}
		if cell != "" {
			a.ActualLrpInstanceKey = &models.ActualLRPInstanceKey{InstanceGuid: "ig", CellId: cell}
		}
		return a
	}
	crashed := func(pg string, index, count int32, since time.Duration) *models.ActualLRP {
		a := actual(pg, index, models.ActualLRPStateCrashed, "")
		a.CrashCount = count
		a.Since = ago(since)
		return a
	}
	rules := func(p converge.LRPPlan) []converge.LRPRule {
		out := []converge.LRPRule{}
		for _, a := range p.Actions {
			out = append(out, a.Rule)
		}
		return out
	}

	BeforeEach(func() {
		snap = converge.LRPSnapshot{
			SchedulingInfos: map[string]*models.DesiredLRPSchedulingInfo{},
			FreshDomains:    map[string]bool{"apps": true},
			Cells:           map[string]bool{"cell-1": true},
		}
	})

	It("creates and starts every missing index, in one start per process guid", func() {
		snap.SchedulingInfos["pg"] = info("pg", 3)
		snap.SchedulingInfos["pg-2"] = info("pg-2", 1)
		snap.Instances = []*models.ActualLRP{actual("pg", 1, models.ActualLRPStateRunning, "cell-1")}
		p := converge.ConvergeLRPs(now, snap)
		Expect(rules(p)).To(Equal([]converge.LRPRule{"missing", "missing", "missing"}))
		Expect(p.Actions[0].Key).To(Equal(&models.ActualLRPKey{ProcessGuid: "pg", Index: 0, Domain: "apps"}))
		Expect(p.Actions[0].LRP).To(BeNil())
		Expect(p.Starts).To(HaveLen(2))
		Expect(p.Starts[0].SchedulingInfo).To(BeIdenticalTo(snap.SchedulingInfos["pg"]))
		Expect(p.Starts[0].Indices).To(Equal([]int{0, 2}))
		Expect(p.Starts[1].Indices).To(Equal([]int{0}))
		Expect(p.Counts.Missing).To(Equal(3))
		Expect(p.Counts.Desired).To(Equal(4))
	})

	Describe("missing cell", func() {
		It("deletes a CLAIMED or RUNNING record on a gone cell and recreates a desired index", func() {
			snap.SchedulingInfos["pg"] = info("pg", 2)
			snap.Instances = []*models.ActualLRP{
				actual("pg", 0, models.ActualLRPStateClaimed, "cell-gone"),
				actual("pg", 1, models.ActualLRPStateRunning, "cell-gone"),
			}
			p := converge.ConvergeLRPs(now, snap)
			Expect(rules(p)).To(Equal([]converge.LRPRule{"missing-cell", "missing-cell"}))
			Expect(p.Actions[0].Recreate).To(BeTrue())
			Expect(p.Actions[1].LRP).To(BeIdenticalTo(snap.Instances[1]))
			Expect(p.Starts[0].Indices).To(Equal([]int{0, 1}))
		})

		It("wins over extra: an index beyond the count is deleted, not recreated or retired", func() {
			snap.SchedulingInfos["pg"] = info("pg", 1)
			snap.Instances = []*models.ActualLRP{
				actual("pg", 0, models.ActualLRPStateRunning, "cell-1"),
				actual("pg", 1, models.ActualLRPStateRunning, "cell-gone"),
			}
			p := converge.ConvergeLRPs(now, snap)
			Expect(p.Actions).To(HaveLen(1))
			Expect(p.Actions[0].Rule).To(Equal(converge.RuleMissingCell))
			Expect(p.Actions[0].Recreate).To(BeFalse())
			Expect(p.Starts).To(BeEmpty())
		})

		It("leaves records on present cells alone", func() {
			snap.SchedulingInfos["pg"] = info("pg", 1)
			snap.Instances = []*models.ActualLRP{actual("pg", 0, models.ActualLRPStateRunning, "cell-1")}
			Expect(converge.ConvergeLRPs(now, snap).Actions).To(BeEmpty())
		})
	})

	Describe("extra", func() {
		It("retires an index beyond the count in a fresh domain", func() {
			snap.SchedulingInfos["pg"] = info("pg", 1)
			snap.Instances = []*models.ActualLRP{
				actual("pg", 0, models.ActualLRPStateRunning, "cell-1"),
				actual("pg", 1, models.ActualLRPStateRunning, "cell-1"),
				actual("pg", 2, models.ActualLRPStateUnclaimed, ""),
			}
			p := converge.ConvergeLRPs(now, snap)
			Expect(rules(p)).To(Equal([]converge.LRPRule{"extra", "extra"}))
			Expect(p.Counts.Extra).To(Equal(2))
			Expect(p.Starts).To(BeEmpty())
		})

		It("keeps extra indices in an unfresh domain (later rules still apply)", func() {
			snap.FreshDomains = map[string]bool{}
			snap.SchedulingInfos["pg"] = info("pg", 1)
			snap.Instances = []*models.ActualLRP{
				actual("pg", 0, models.ActualLRPStateRunning, "cell-1"),
				actual("pg", 1, models.ActualLRPStateRunning, "cell-1"),
				crashed("pg", 2, 3, time.Minute),
			}
			p := converge.ConvergeLRPs(now, snap)
			Expect(rules(p)).To(Equal([]converge.LRPRule{"restart-crash"}))
		})
	})

	Describe("restart-crash and the crash restart policy", func() {
		DescribeTable("restarts a CRASHED instance only once its backoff has passed",
			func(count int32, backoff time.Duration) {
				snap.SchedulingInfos["pg"] = info("pg", 1)
				snap.Instances = []*models.ActualLRP{crashed("pg", 0, count, backoff-time.Nanosecond)}
				Expect(converge.ConvergeLRPs(now, snap).Actions).To(BeEmpty())

				snap.Instances = []*models.ActualLRP{crashed("pg", 0, count, backoff)}
				p := converge.ConvergeLRPs(now, snap)
				Expect(rules(p)).To(Equal([]converge.LRPRule{"restart-crash"}))
				Expect(p.Starts[0].Indices).To(Equal([]int{0}))
				Expect(p.Counts.Crashed).To(Equal(1))
				Expect(p.Counts.CrashingDesired).To(Equal(1))
			},
			Entry("3 crashes: 30 s", int32(3), 30*time.Second),
			Entry("4 crashes: 1 min", int32(4), time.Minute),
			Entry("5 crashes: 2 min", int32(5), 2*time.Minute),
			Entry("6 crashes: 4 min", int32(6), 4*time.Minute),
			Entry("7 crashes: 8 min", int32(7), 8*time.Minute),
			Entry("8 crashes: 16 min", int32(8), 16*time.Minute),
			Entry("199 crashes: still 16 min", int32(199), 16*time.Minute),
		)

		It("never restarts an instance that crashed 200 times or more", func() {
			snap.SchedulingInfos["pg"] = info("pg", 2)
			snap.Instances = []*models.ActualLRP{crashed("pg", 0, 200, 24*time.Hour), crashed("pg", 1, 201, 24*time.Hour)}
			p := converge.ConvergeLRPs(now, snap)
			Expect(p.Actions).To(BeEmpty())
			Expect(p.Counts.Crashed).To(Equal(2))
			Expect(p.Counts.CrashingDesired).To(Equal(1))
		})
	})

	Describe("stale-unclaimed", func() {
		It("starts again an UNCLAIMED record older than 30 s, with or without a placement error", func() {
			snap.SchedulingInfos["pg"] = info("pg", 3)
			stale := actual("pg", 0, models.ActualLRPStateUnclaimed, "")
			stale.Since = ago(30*time.Second + time.Nanosecond)
			failed := actual("pg", 1, models.ActualLRPStateUnclaimed, "")
			failed.Since = ago(time.Minute)
			failed.PlacementError = "insufficient resources"
			exactly := actual("pg", 2, models.ActualLRPStateUnclaimed, "")
			exactly.Since = ago(30 * time.Second)
			snap.Instances = []*models.ActualLRP{stale, failed, exactly}
			p := converge.ConvergeLRPs(now, snap)
			Expect(rules(p)).To(Equal([]converge.LRPRule{"stale-unclaimed", "stale-unclaimed"}))
			Expect(p.Starts[0].Indices).To(Equal([]int{0, 1}))
			Expect(p.Counts.Unclaimed).To(Equal(3))
		})
	})

	Describe("no desired LRP", func() {
		It("retires actuals in a fresh domain and skips those in an unfresh one", func() {
			gone := actual("gone", 0, models.ActualLRPStateRunning, "cell-1")
			other := actual("other", 0, models.ActualLRPStateCrashed, "")
			other.ActualLrpKey.Domain = "stale-domain"
			snap.Instances = []*models.ActualLRP{gone, other}
			p := converge.ConvergeLRPs(now, snap)
			Expect(p.Actions).To(Equal([]converge.LRPAction{
				{Rule: converge.RuleNoLongerDesired, Key: gone.ActualLrpKey, LRP: gone},
				{Rule: converge.RuleSkippingUnfreshDomain, Key: other.ActualLrpKey, LRP: other},
			}))
			Expect(p.Starts).To(BeEmpty())
			Expect(p.Counts.CrashingDesired).To(BeZero())
		})
	})

	Describe("evacuating records", func() {
		It("deletes those whose cell is gone and nothing else", func() {
			evac := func(cell string) *models.ActualLRP {
				a := actual("pg", 0, models.ActualLRPStateRunning, cell)
				a.Presence = models.ActualLRP_EVACUATING
				return a
			}
			snap.SchedulingInfos["pg"] = info("pg", 1)
			snap.Instances = []*models.ActualLRP{actual("pg", 0, models.ActualLRPStateRunning, "cell-1")}
			gone, here := evac("cell-gone"), evac("cell-1")
			snap.Evacuating = []*models.ActualLRP{gone, here}
			p := converge.ConvergeLRPs(now, snap)
			Expect(p.Actions).To(Equal([]converge.LRPAction{{Rule: converge.RuleRemoveEvacuating, Key: gone.ActualLrpKey, LRP: gone}}))
			Expect(p.Counts.Running).To(Equal(1))
		})
	})

	It("counts the gauges of one pass", func() {
		snap.SchedulingInfos["a"] = info("a", 2)
		snap.SchedulingInfos["b"] = info("b", 3)
		snap.Instances = []*models.ActualLRP{
			actual("a", 0, models.ActualLRPStateClaimed, "cell-1"),
			actual("a", 1, models.ActualLRPStateRunning, "cell-1"),
			actual("b", 0, models.ActualLRPStateUnclaimed, ""),
			crashed("b", 1, 3, time.Second),
		}
		Expect(converge.ConvergeLRPs(now, snap).Counts).To(Equal(converge.LRPCounts{
			Desired: 5, Unclaimed: 1, Claimed: 1, Running: 1, Crashed: 1, CrashingDesired: 1, Missing: 1,
		}))
	})

	It("gives the first matching rule only", func() {
		snap.SchedulingInfos["pg"] = info("pg", 1)
		// index 1 is extra in a fresh domain and also a stale unclaimed record.
		old := actual("pg", 1, models.ActualLRPStateUnclaimed, "")
		old.Since = ago(time.Hour)
		snap.Instances = []*models.ActualLRP{actual("pg", 0, models.ActualLRPStateRunning, "cell-1"), old}
		Expect(rules(converge.ConvergeLRPs(now, snap))).To(Equal([]converge.LRPRule{"extra"}))
	})
})
