package etcddb_test

import (
	"errors"
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

var _ = Describe("Desired LRPs", func() {
	var (
		clock *fakeclock.FakeClock
		store *etcddb.ETCDDB
		keys  etcddb.Keys
	)
	logger := logging.Discard()

	BeforeEach(func() {
		clock = fakeclock.NewFakeClock(time.Unix(1_700_000_000, 0))
		store = newStore(etcdClient, clock, "")
		keys = store.Keys()
	})

	desire := func(d *models.DesiredLRP) {
		GinkgoHelper()
		Expect(store.DesireLRP(ctx(), logger, d)).To(Succeed())
	}

	stored := func(pg string) *models.DesiredLRP {
		GinkgoHelper()
		d, err := store.DesiredLRPByProcessGuid(ctx(), logger, pg)
		Expect(err).NotTo(HaveOccurred())
		return d
	}

	guidsOf := func(lrps []*models.DesiredLRP) []string {
		var out []string
		for _, d := range lrps {
			out = append(out, d.GetProcessGuid())
		}
		return out
	}

	Describe("DesireLRP", func() {
		It("stores both records, the domain index entry, a new epoch and index 0", func() {
			d := desiredLRP("pg-1", "dom", 3)
			desire(d)
			got := stored("pg-1")
			Expect(got.GetModificationTag().GetEpoch()).NotTo(BeEmpty())
			Expect(got.GetModificationTag().GetIndex()).To(BeZero())

			want := proto.Clone(d).(*models.DesiredLRP)
			want.ModificationTag = got.GetModificationTag()
			Expect(got).To(BeComparableTo(want, protocmp.Transform()))
			Expect(d.GetModificationTag()).To(BeNil(), "the argument is left alone")

			Expect(rawKeys(keys.DesiredByDomainPrefix("dom"))).To(ConsistOf(keys.DesiredByDomain("dom", "pg-1")))
			value, ok := rawValue(keys.RunInfo("pg-1"))
			Expect(ok).To(BeTrue())
			var run models.DesiredLRPRunInfo
			Expect(etcddb.Decode("run", value, &run)).To(Succeed())
			Expect(run.GetCreatedAt()).To(Equal(clock.Now().UnixNano()))
			Expect(run.Validate()).To(Succeed())

			info, err := store.DesiredLRPSchedulingInfoByProcessGuid(ctx(), logger, "pg-1")
			Expect(err).NotTo(HaveOccurred())
			Expect(info.Validate()).To(Succeed())
			Expect(info.GetInstances()).To(BeEquivalentTo(3))
			Expect(rawRevision(keys.SchedulingInfo("pg-1"))).To(Equal(rawRevision(keys.RunInfo("pg-1"))), "one transaction")
		})

		It("gives every desired LRP its own epoch", func() {
			desire(desiredLRP("pg-1", "dom", 1))
			desire(desiredLRP("pg-2", "dom", 1))
			Expect(stored("pg-1").GetModificationTag().GetEpoch()).NotTo(Equal(stored("pg-2").GetModificationTag().GetEpoch()))
		})

		It("refuses an existing process guid with ResourceExists and changes nothing", func() {
			desire(desiredLRP("pg-1", "dom", 1))
			rev := rawRevision(keys.SchedulingInfo("pg-1"))
			err := store.DesireLRP(ctx(), logger, desiredLRP("pg-1", "other", 5))
			expectModelError(err, models.Error_ResourceExists)
			Expect(rawRevision(keys.SchedulingInfo("pg-1"))).To(Equal(rev))
			Expect(rawKeys(keys.DesiredByDomainPrefix("other"))).To(BeEmpty())
		})

		It("refuses a process guid whose orphaned run info is still there", func() {
			desire(desiredLRP("pg-1", "dom", 1))
			rawDelete(keys.SchedulingInfo("pg-1"))
			err := store.DesireLRP(ctx(), logger, desiredLRP("pg-1", "dom", 1))
			expectModelError(err, models.Error_ResourceExists)
			_, ok := rawValue(keys.SchedulingInfo("pg-1"))
			Expect(ok).To(BeFalse())
		})
	})

	Describe("reads", func() {
		BeforeEach(func() {
			desire(desiredLRP("pg-a1", "dom-a", 1))
			desire(desiredLRP("pg-a2", "dom-a", 2))
			desire(desiredLRP("pg-b1", "dom-b", 3))
		})

		DescribeTable("DesiredLRPs filters by domain and process guids",
			func(filter db.DesiredLRPFilter, want []string) {
				lrps, err := store.DesiredLRPs(ctx(), logger, filter)
				Expect(err).NotTo(HaveOccurred())
				Expect(guidsOf(lrps)).To(Equal(want))
				for _, d := range lrps {
					Expect(d.Validate()).To(Succeed())
					Expect(d).To(BeComparableTo(stored(d.GetProcessGuid()), protocmp.Transform()))
				}
			},
			Entry("everything", db.DesiredLRPFilter{}, []string{"pg-a1", "pg-a2", "pg-b1"}),
			Entry("a domain", db.DesiredLRPFilter{Domain: "dom-a"}, []string{"pg-a1", "pg-a2"}),
			Entry("an unknown domain", db.DesiredLRPFilter{Domain: "nope"}, nil),
			Entry("process guids", db.DesiredLRPFilter{ProcessGuids: []string{"pg-b1", "pg-a1", "missing"}}, []string{"pg-a1", "pg-b1"}),
			Entry("both", db.DesiredLRPFilter{Domain: "dom-a", ProcessGuids: []string{"pg-b1", "pg-a2"}}, []string{"pg-a2"}),
		)

		It("filters by app guid, the first 36 characters of a CC process guid", func() {
			app := "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
			desire(desiredLRP(app+"-v1", "dom-a", 1))
			desire(desiredLRP(app+"-v2", "dom-b", 1))
			desire(desiredLRP("aaaaaaaa-4b5a-6978-8796-a5b4c3d2e1f0-v1", "dom-a", 1))
			lrps, err := store.DesiredLRPs(ctx(), logger, db.DesiredLRPFilter{AppGuids: []string{app}})
			Expect(err).NotTo(HaveOccurred())
			Expect(guidsOf(lrps)).To(Equal([]string{app + "-v1", app + "-v2"}))
			infos, err := store.DesiredLRPSchedulingInfos(ctx(), logger, db.DesiredLRPFilter{Domain: "dom-a", AppGuids: []string{app}})
			Expect(err).NotTo(HaveOccurred())
			Expect(infos).To(HaveLen(1))
			Expect(infos[0].GetDesiredLrpKey().GetProcessGuid()).To(Equal(app + "-v1"))
		})

		It("lists scheduling infos with the same filters", func() {
			infos, err := store.DesiredLRPSchedulingInfos(ctx(), logger, db.DesiredLRPFilter{Domain: "dom-a"})
			Expect(err).NotTo(HaveOccurred())
			Expect(infos).To(HaveLen(2))
			Expect(infos[0]).To(BeComparableTo(stored("pg-a1").DesiredLRPSchedulingInfo(), protocmp.Transform()))

			infos, err = store.DesiredLRPSchedulingInfos(ctx(), logger, db.DesiredLRPFilter{ProcessGuids: []string{"pg-b1"}})
			Expect(err).NotTo(HaveOccurred())
			Expect(infos).To(HaveLen(1))
			Expect(infos[0].GetInstances()).To(BeEquivalentTo(3))
		})

		It("lists routing infos with only the routing fields", func() {
			infos, err := store.DesiredLRPRoutingInfos(ctx(), logger, db.DesiredLRPFilter{})
			Expect(err).NotTo(HaveOccurred())
			Expect(guidsOf(infos)).To(Equal([]string{"pg-a1", "pg-a2", "pg-b1"}))
			full := stored("pg-b1")
			Expect(infos[2]).To(BeComparableTo(&models.DesiredLRP{
				ProcessGuid:     "pg-b1",
				Domain:          "dom-b",
				LogGuid:         "log-pg-b1",
				Instances:       3,
				Routes:          full.GetRoutes(),
				ModificationTag: full.GetModificationTag(),
			}, protocmp.Transform()))
		})

		It("skips a scheduling info without run info and undecodable records", func() {
			rawDelete(keys.RunInfo("pg-a2"))
			rawPut(keys.SchedulingInfo("pg-junk"), "junk")
			lrps, err := store.DesiredLRPs(ctx(), logger, db.DesiredLRPFilter{})
			Expect(err).NotTo(HaveOccurred())
			Expect(guidsOf(lrps)).To(Equal([]string{"pg-a1", "pg-b1"}))

			_, err = store.DesiredLRPByProcessGuid(ctx(), logger, "pg-a2")
			expectModelError(err, models.Error_ResourceNotFound)
		})

		It("returns ResourceNotFound for a missing process guid", func() {
			_, err := store.DesiredLRPByProcessGuid(ctx(), logger, "missing")
			expectModelError(err, models.Error_ResourceNotFound)
			_, err = store.DesiredLRPSchedulingInfoByProcessGuid(ctx(), logger, "missing")
			expectModelError(err, models.Error_ResourceNotFound)
		})
	})

	Describe("UpdateDesiredLRP", func() {
		BeforeEach(func() {
			desire(desiredLRP("pg-1", "dom", 2))
		})
		AfterEach(func() { etcddb.SetRaceHook(nil) })

		It("applies instances, routes and annotation and counts the write", func() {
			routes := &models.ProtoRoutes{Routes: map[string][]byte{"tcp-router": []byte(`[]`)}}
			before, after, err := store.UpdateDesiredLRP(ctx(), logger, "pg-1", &models.DesiredLRPUpdate{
				Instances: proto.Int32(5), Routes: routes, Annotation: proto.String("new"),
			})
			Expect(err).NotTo(HaveOccurred())
			Expect(before.GetInstances()).To(BeEquivalentTo(2))
			Expect(after.GetInstances()).To(BeEquivalentTo(5))
			Expect(after.GetAnnotation()).To(Equal("new"))
			Expect(after.GetRoutes()).To(BeComparableTo(routes, protocmp.Transform()))
			Expect(after.GetModificationTag().GetEpoch()).To(Equal(before.GetModificationTag().GetEpoch()))
			Expect(after.GetModificationTag().GetIndex()).To(Equal(before.GetModificationTag().GetIndex() + 1))

			got := stored("pg-1")
			Expect(got.DesiredLRPSchedulingInfo()).To(BeComparableTo(after, protocmp.Transform()))
			Expect(got.GetMemoryMb()).To(BeEquivalentTo(256))
		})

		It("leaves absent fields alone", func() {
			_, after, err := store.UpdateDesiredLRP(ctx(), logger, "pg-1", &models.DesiredLRPUpdate{Instances: proto.Int32(0)})
			Expect(err).NotTo(HaveOccurred())
			Expect(after.GetInstances()).To(BeZero())
			Expect(after.GetAnnotation()).To(Equal("annotated"))
		})

		It("returns ResourceNotFound for a missing process guid", func() {
			_, _, err := store.UpdateDesiredLRP(ctx(), logger, "missing", &models.DesiredLRPUpdate{Instances: proto.Int32(1)})
			expectModelError(err, models.Error_ResourceNotFound)
		})

		It("retries once when the first swap loses a race", func() {
			attempts := 0
			etcddb.SetRaceHook(func(op string, attempt int) {
				attempts++
				if attempts == 1 {
					rawBump(store, "pg-1", "racer")
				}
			})
			before, after, err := store.UpdateDesiredLRP(ctx(), logger, "pg-1", &models.DesiredLRPUpdate{Instances: proto.Int32(4)})
			Expect(err).NotTo(HaveOccurred())
			Expect(attempts).To(Equal(2))
			Expect(before.GetAnnotation()).To(Equal("racer"))
			Expect(after.GetAnnotation()).To(Equal("racer"))
			Expect(after.GetInstances()).To(BeEquivalentTo(4))
			Expect(after.GetModificationTag().GetIndex()).To(BeEquivalentTo(2))
		})

		It("gives up with ResourceConflict only after losing every one of its rounds", func() {
			attempts := 0
			etcddb.SetRaceHook(func(op string, attempt int) {
				attempts++
				rawBump(store, "pg-1", "racer")
			})
			_, _, err := store.UpdateDesiredLRP(ctx(), logger, "pg-1", &models.DesiredLRPUpdate{Instances: proto.Int32(4)})
			expectModelError(err, models.Error_ResourceConflict)
			Expect(attempts).To(Equal(etcddb.CASAttempts))
			etcddb.SetRaceHook(nil)
			Expect(stored("pg-1").GetInstances()).To(BeEquivalentTo(2))
		})

		It("loses no write among 20 concurrent read-then-update callers", func() {
			const updaters = 20
			type result struct {
				read          int32
				before, after *models.DesiredLRPSchedulingInfo
				err           error
			}
			results := make(chan result, updaters)
			gate := make(chan struct{})
			c := ctx()
			var wg sync.WaitGroup
			for range updaters {
				wg.Go(func() {
					<-gate
					info, err := store.DesiredLRPSchedulingInfoByProcessGuid(c, logger, "pg-1")
					if err != nil {
						results <- result{err: err}
						return
					}
					read := info.GetInstances()
					before, after, err := store.UpdateDesiredLRP(c, logger, "pg-1", &models.DesiredLRPUpdate{Instances: proto.Int32(read + 1)})
					results <- result{read: read, before: before, after: after, err: err}
				})
			}
			close(gate)
			wg.Wait()
			close(results)

			var successes []result
			for r := range results {
				if r.err != nil {
					Expect(errors.Is(r.err, models.ErrResourceConflict)).To(BeTrue(), "unexpected error %v", r.err)
					continue
				}
				successes = append(successes, r)
			}
			Expect(successes).NotTo(BeEmpty())

			final, err := store.DesiredLRPSchedulingInfoByProcessGuid(ctx(), logger, "pg-1")
			Expect(err).NotTo(HaveOccurred())
			// Every reported success is exactly one compare-and-swap step:
			// the successes' tag indexes chain 0→1→…→n with no gap or repeat.
			Expect(final.GetModificationTag().GetIndex()).To(BeEquivalentTo(len(successes)))
			seen := map[uint32]result{}
			for _, s := range successes {
				from := s.before.GetModificationTag().GetIndex()
				Expect(s.after.GetModificationTag().GetIndex()).To(Equal(from + 1))
				Expect(seen).NotTo(HaveKey(from))
				seen[from] = s
				Expect(s.after.GetInstances()).To(Equal(s.read + 1))
			}
			// Each write started from the previous write's result.
			for i := uint32(1); i < uint32(len(successes)); i++ {
				Expect(seen[i].before.GetInstances()).To(Equal(seen[i-1].after.GetInstances()))
			}
			Expect(final.GetInstances()).To(Equal(seen[uint32(len(successes)-1)].after.GetInstances()))
			// A success whose swap started from what its caller read added
			// exactly one instance; a retried one re-applied its caller's
			// (possibly stale) absolute value, as the 2-attempt rule says.
			for _, s := range successes {
				if s.before.GetInstances() == s.read {
					Expect(s.after.GetInstances()).To(Equal(s.before.GetInstances() + 1))
				}
			}
		})
	})

	Describe("RemoveDesiredLRP", func() {
		It("deletes both records and the index entry in one step and returns the LRP", func() {
			desire(desiredLRP("pg-1", "dom", 2))
			want := stored("pg-1")
			removed, err := store.RemoveDesiredLRP(ctx(), logger, "pg-1")
			Expect(err).NotTo(HaveOccurred())
			Expect(removed).To(BeComparableTo(want, protocmp.Transform()))
			Expect(rawKeys(keys.Root() + "/v1/desired_lrp/")).To(BeEmpty())
			Expect(rawKeys(keys.IndexPrefix())).To(BeEmpty())
		})

		It("removes an orphaned run info", func() {
			desire(desiredLRP("pg-1", "dom", 2))
			rawDelete(keys.SchedulingInfo("pg-1"))
			removed, err := store.RemoveDesiredLRP(ctx(), logger, "pg-1")
			Expect(err).NotTo(HaveOccurred())
			Expect(removed.GetProcessGuid()).To(Equal("pg-1"))
			Expect(rawKeys(keys.Root() + "/v1/desired_lrp/")).To(BeEmpty())
			Expect(rawKeys(keys.IndexPrefix())).To(BeEmpty())
		})

		It("returns ResourceNotFound when neither record exists", func() {
			_, err := store.RemoveDesiredLRP(ctx(), logger, "missing")
			expectModelError(err, models.Error_ResourceNotFound)
		})
	})
})

// rawBump rewrites a scheduling info behind the store's back (a racing
// writer), with a new annotation.
func rawBump(store *etcddb.ETCDDB, pg, annotation string) {
	GinkgoHelper()
	key := store.Keys().SchedulingInfo(pg)
	value, ok := rawValue(key)
	Expect(ok).To(BeTrue())
	var info models.DesiredLRPSchedulingInfo
	Expect(etcddb.Decode(key, value, &info)).To(Succeed())
	info.Annotation = annotation
	info.ModificationTag.Increment()
	encoded, err := etcddb.Encode(&info)
	Expect(err).NotTo(HaveOccurred())
	rawPut(key, string(encoded))
}
