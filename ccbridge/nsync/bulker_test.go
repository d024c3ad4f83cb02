package nsync_test

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/ccbridge/ccclient"
	"diego/ccbridge/nsync"
	"diego/ccbridge/nsync/nsyncfakes"
	"diego/deploy/clock/fakeclock"
	"diego/deploy/logging"
	"diego/receptor"
)

var _ = Describe("The bulker's sync (spec bridge §3.4)", func() {
	var (
		rc     *nsyncfakes.FakeReceptor
		cc     *nsyncfakes.FakeCC
		bulker *nsync.Bulker
		apps   map[string]ccclient.DesireAppRequestFromCC
	)

	app := func(guid, etag string) ccclient.DesireAppRequestFromCC {
		req := desireRequest()
		req.ProcessGuid, req.ETag = guid, etag
		return req
	}

	BeforeEach(func() {
		rc, cc = &nsyncfakes.FakeReceptor{}, &nsyncfakes.FakeCC{}
		apps = map[string]ccclient.DesireAppRequestFromCC{
			"missing": app("missing", "1"), "stale": app("stale", "2"), "fresh": app("fresh", "3"),
		}
		rc.DesiredLRPsByDomainReturns([]receptor.DesiredLRPResponse{
			{DesiredLRPCreateRequest: receptor.DesiredLRPCreateRequest{ProcessGuid: "stale", Annotation: "1",
				Routes: receptor.RoutingInfo{"diego-ssh": json.RawMessage(`{"container_port":2222}`), "cf-router": json.RawMessage(`[]`)}}},
			{DesiredLRPCreateRequest: receptor.DesiredLRPCreateRequest{ProcessGuid: "fresh", Annotation: "3"}},
			{DesiredLRPCreateRequest: receptor.DesiredLRPCreateRequest{ProcessGuid: "gone", Annotation: "9"}},
		}, nil)
		// Two pages of two: the first full, the second short.
		cc.FingerprintsStub = func(_ context.Context, token json.RawMessage, batch int) (ccclient.CCDesiredStateFingerprintResponse, error) {
			Expect(batch).To(Equal(2))
			switch string(token) {
			case `{}`:
				return ccclient.CCDesiredStateFingerprintResponse{Fingerprints: []ccclient.CCDesiredAppFingerprint{
					{ProcessGuid: "missing", ETag: "1"}, {ProcessGuid: "stale", ETag: "2"},
				}, Token: json.RawMessage(`{"id":2}`)}, nil
			case `{"id":2}`:
				return ccclient.CCDesiredStateFingerprintResponse{Fingerprints: []ccclient.CCDesiredAppFingerprint{
					{ProcessGuid: "fresh", ETag: "3"},
				}, Token: json.RawMessage(`{"id":3}`)}, nil
			}
			return ccclient.CCDesiredStateFingerprintResponse{}, errors.New("unexpected token " + string(token))
		}
		cc.DesireAppRequestsStub = func(_ context.Context, guids []string) ([]ccclient.DesireAppRequestFromCC, error) {
			var out []ccclient.DesireAppRequestFromCC
			for _, g := range guids {
				out = append(out, apps[g])
			}
			return out, nil
		}
		bulker = nsync.NewBulker(nsync.BulkerConfig{
			PollingInterval: 30 * time.Second, BatchSize: 2, DomainTTL: 2 * time.Minute, UpdateLRPWorkers: 3,
		}, nsync.BulkerDeps{Logger: logging.Discard(), Clock: fakeclock.NewFakeClock(time.Now()), Receptor: rc, CC: cc, Recipes: builder})
	})

	It("creates the missing, updates the stale keeping other route keys, deletes the unlisted, then bumps cf-apps", func() {
		Expect(bulker.Sync(context.Background())).To(Succeed())

		Expect(cc.DesireAppRequestsCallCount()).To(Equal(1))
		_, guids := cc.DesireAppRequestsArgsForCall(0)
		Expect(guids).To(ConsistOf("missing", "stale"))

		Expect(rc.CreateDesiredLRPCallCount()).To(Equal(1))
		_, created := rc.CreateDesiredLRPArgsForCall(0)
		Expect(created.ProcessGuid).To(Equal("missing"))
		Expect(created.Annotation).To(Equal("1"))

		Expect(rc.UpdateDesiredLRPCallCount()).To(Equal(1))
		_, guid, update := rc.UpdateDesiredLRPArgsForCall(0)
		Expect(guid).To(Equal("stale"))
		Expect(*update.Annotation).To(Equal("2"))
		Expect(*update.Instances).To(Equal(int32(3)))
		Expect(update.Routes).To(HaveKey("diego-ssh"))
		Expect(string(update.Routes["cf-router"])).To(ContainSubstring("a.example.com"))

		Expect(rc.DeleteDesiredLRPCallCount()).To(Equal(1))
		_, deleted := rc.DeleteDesiredLRPArgsForCall(0)
		Expect(deleted).To(Equal("gone"))

		Expect(rc.UpsertDomainCallCount()).To(Equal(1))
		_, domain, ttl := rc.UpsertDomainArgsForCall(0)
		Expect(domain).To(Equal("cf-apps"))
		Expect(ttl).To(Equal(2 * time.Minute))
	})

	It("neither deletes nor bumps the domain when a fingerprint page fails", func() {
		cc.FingerprintsReturns(ccclient.CCDesiredStateFingerprintResponse{}, &ccclient.StatusError{Status: 500})
		cc.FingerprintsStub = nil
		Expect(bulker.Sync(context.Background())).NotTo(Succeed())
		Expect(rc.DeleteDesiredLRPCallCount()).To(BeZero())
		Expect(rc.UpsertDomainCallCount()).To(BeZero())
	})

	It("still deletes but does not bump the domain when a create fails", func() {
		rc.CreateDesiredLRPReturns(&receptor.Error{Type: receptor.UnknownError, Message: "bbs down"})
		Expect(bulker.Sync(context.Background())).NotTo(Succeed())
		Expect(rc.DeleteDesiredLRPCallCount()).To(Equal(1))
		Expect(rc.UpsertDomainCallCount()).To(BeZero())
	})

	It("does not bump the domain when an update fails", func() {
		rc.UpdateDesiredLRPReturns(&receptor.Error{Type: receptor.ResourceConflict, Message: "conflict"})
		Expect(bulker.Sync(context.Background())).NotTo(Succeed())
		Expect(rc.UpsertDomainCallCount()).To(BeZero())
	})

	It("counts an invalid desired LRP, or a message it cannot build, as no failure", func() {
		rc.CreateDesiredLRPReturns(&receptor.Error{Type: receptor.InvalidLRP, Message: "bad"})
		Expect(bulker.Sync(context.Background())).To(Succeed())
		Expect(rc.UpsertDomainCallCount()).To(Equal(1))

		broken := app("missing", "1")
		broken.DropletUri = ""
		apps["missing"] = broken
		Expect(bulker.Sync(context.Background())).To(Succeed())
		Expect(rc.UpsertDomainCallCount()).To(Equal(2))
	})

	It("aborts before asking the CC when the desired LRPs cannot be listed", func() {
		rc.DesiredLRPsByDomainReturns(nil, errors.New("receptor down"))
		Expect(bulker.Sync(context.Background())).NotTo(Succeed())
		Expect(cc.FingerprintsCallCount()).To(BeZero())
		Expect(rc.UpsertDomainCallCount()).To(BeZero())
	})
})
