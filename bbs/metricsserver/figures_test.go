package metricsserver_test

import (
	"errors"

	"diego/bbs/metricsserver"
	"diego/models"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// actual is an instance of pg in domain cf-apps on cell c1.
func actual(pg string, index int32, state string, presence models.ActualLRP_Presence) *models.ActualLRP {
	return &models.ActualLRP{ActualLrpKey: &models.ActualLRPKey{ProcessGuid: pg, Index: index, Domain: "cf-apps"},
		ActualLrpInstanceKey: &models.ActualLRPInstanceKey{InstanceGuid: "ig", CellId: "c1"}, State: state, Presence: presence}
}

func sched(pg string, instances int32) *models.DesiredLRPSchedulingInfo {
	return &models.DesiredLRPSchedulingInfo{DesiredLrpKey: &models.DesiredLRPKey{ProcessGuid: pg, Domain: "cf-apps"}, Instances: instances}
}

var _ = Describe("Figures", func() {
	It("computes every gauge of the spec", func() {
		f := metricsserver.Figures(metricsserver.Snapshot{
			Tasks: []*models.Task{{State: models.Task_Pending}, {State: models.Task_Pending}, {State: models.Task_Running},
				{State: models.Task_Completed}, {State: models.Task_Resolving}},
			SchedulingInfos: []*models.DesiredLRPSchedulingInfo{sched("a", 3), sched("b", 1)},
			ActualLRPs: []*models.ActualLRP{
				actual("a", 0, "RUNNING", models.ActualLRP_ORDINARY),
				actual("a", 0, "RUNNING", models.ActualLRP_EVACUATING), // not counted
				actual("a", 1, "CRASHED", models.ActualLRP_ORDINARY),
				actual("b", 0, "UNCLAIMED", models.ActualLRP_ORDINARY),
				actual("b", 1, "CLAIMED", models.ActualLRP_ORDINARY),    // extra: b wants 1
				actual("gone", 0, "RUNNING", models.ActualLRP_ORDINARY), // extra: no longer desired
			},
			Domains: []string{"cf-apps"},
			Cells:   []*models.CellPresence{{CellId: "c1"}, {CellId: "c2"}},
		})
		Expect(f).To(Equal(map[string]float64{
			"TasksPending": 2, "TasksRunning": 1, "TasksCompleted": 1, "TasksResolving": 1,
			"LRPsDesired": 4, "LRPsUnclaimed": 1, "LRPsClaimed": 1, "LRPsRunning": 2, "CrashedActualLRPs": 1,
			"CrashingDesiredLRPs": 1, "LRPsMissing": 1, "LRPsExtra": 2,
			"Domain.cf-apps": 1, "PresentCells": 2,
		}))
	})

	It("counts as extra only what convergence would retire: never in a stale domain, never on a missing cell", func() {
		stale := actual("gone", 0, "RUNNING", models.ActualLRP_ORDINARY)
		stale.ActualLrpKey.Domain = "stale"
		lost := actual("b", 1, "RUNNING", models.ActualLRP_ORDINARY)
		lost.ActualLrpInstanceKey.CellId = "vanished"
		f := metricsserver.Figures(metricsserver.Snapshot{
			SchedulingInfos: []*models.DesiredLRPSchedulingInfo{sched("b", 1)},
			ActualLRPs:      []*models.ActualLRP{actual("b", 0, "RUNNING", models.ActualLRP_ORDINARY), stale, lost},
			Domains:         []string{"cf-apps"},
			Cells:           []*models.CellPresence{{CellId: "c1"}},
		})
		Expect(f).To(HaveKeyWithValue("LRPsExtra", 0.0))
		Expect(f).To(HaveKeyWithValue("LRPsMissing", 0.0))
		Expect(f).To(HaveKeyWithValue("CrashingDesiredLRPs", 0.0))
	})

	It("reports -1 for every figure whose read failed", func() {
		boom := errors.New("bbs unreachable")
		f := metricsserver.Figures(metricsserver.Snapshot{TasksErr: boom, ActualLRPsErr: boom, CellsErr: boom, DomainsErr: boom})
		for _, name := range []string{"TasksPending", "TasksRunning", "LRPsRunning", "CrashedActualLRPs", "LRPsMissing", "LRPsExtra", "PresentCells"} {
			Expect(f).To(HaveKeyWithValue(name, -1.0), name)
		}
		Expect(f).To(HaveKeyWithValue("LRPsDesired", 0.0), "its own read worked")
	})
})
