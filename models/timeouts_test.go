package models_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/models"
)

// The 2015 timeout action's "timeout" (nanoseconds) and the modern
// timeout_ms (spec core §1.2, §1.7).
var _ = Describe("Timeout action units", func() {
	timeout := func(ns, ms int64) *models.Action {
		return models.WrapAction(&models.TimeoutAction{Action: run(), DeprecatedTimeoutNs: ns, TimeoutMs: ms})
	}
	// tree puts t at every depth a timeout can hide at.
	tree := func(t func() *models.Action) *models.Action {
		return models.WrapAction(&models.SerialAction{Actions: []*models.Action{
			t(),
			models.WrapAction(&models.TryAction{Action: t()}),
			models.WrapAction(&models.EmitProgressAction{Action: t()}),
			models.WrapAction(&models.ParallelAction{Actions: []*models.Action{t()}}),
			models.WrapAction(&models.CodependentAction{Actions: []*models.Action{
				models.WrapAction(&models.TimeoutAction{Action: t(), TimeoutMs: 1}),
			}}),
		}})
	}
	var timeouts func(a *models.Action) []*models.TimeoutAction
	timeouts = func(a *models.Action) []*models.TimeoutAction {
		var out []*models.TimeoutAction
		if t := a.GetTimeoutAction(); t != nil {
			out = append(out, t)
			out = append(out, timeouts(t.GetAction())...)
		}
		for _, in := range []*models.Action{a.GetTryAction().GetAction(), a.GetEmitProgressAction().GetAction()} {
			if in != nil {
				out = append(out, timeouts(in)...)
			}
		}
		for _, l := range [][]*models.Action{a.GetSerialAction().GetActions(), a.GetParallelAction().GetActions(), a.GetCodependentAction().GetActions()} {
			for _, in := range l {
				out = append(out, timeouts(in)...)
			}
		}
		return out
	}

	DescribeTable("2015 timeout to timeout_ms, at every depth",
		func(ns, ms, wantMs int64) {
			a := tree(func() *models.Action { return timeout(ns, ms) })
			a.SetTimeoutMsFromDeprecatedTimeoutNs()
			ts := timeouts(a)
			Expect(ts).To(HaveLen(6))
			// ts[4] is the 1 ms timeout that wraps the codependent's member.
			Expect(ts[4].GetTimeoutMs()).To(Equal(int64(1)))
			for _, t := range append(ts[:4:4], ts[5]) {
				Expect(t.GetTimeoutMs()).To(Equal(wantMs))
				Expect(t.GetDeprecatedTimeoutNs()).To(BeZero())
			}
		},
		Entry("whole milliseconds", int64(15e9), int64(0), int64(15000)),
		Entry("a remainder rounds up", int64(1), int64(0), int64(1)),
		Entry("timeout_ms wins", int64(15e9), int64(7), int64(7)),
		Entry("zero stays zero (and is invalid)", int64(0), int64(0), int64(0)),
		Entry("negative stays zero (and is invalid)", int64(-5), int64(0), int64(0)),
	)

	It("fills the 2015 timeout from timeout_ms at every depth, and leaves a nil action alone", func() {
		a := tree(func() *models.Action { return timeout(0, 250) })
		a.SetDeprecatedTimeoutNs()
		ts := timeouts(a)
		Expect(ts).To(HaveLen(6))
		for _, t := range append(ts[:4:4], ts[5]) {
			Expect(t.GetDeprecatedTimeoutNs()).To(Equal(int64(250e6)))
			Expect(t.GetTimeoutMs()).To(Equal(int64(250)))
		}
		Expect(ts[4].GetDeprecatedTimeoutNs()).To(Equal(int64(1e6)))
		var none *models.Action
		none.SetDeprecatedTimeoutNs()
		none.SetTimeoutMsFromDeprecatedTimeoutNs()
	})
})
