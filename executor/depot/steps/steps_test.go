package steps_test

import (
	"errors"
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"diego/executor/depot/steps"
)

var _ = Describe("errors", func() {
	Describe("AggregateError", func() {
		It("is nil without errors", func() {
			Expect(steps.NewAggregateError(nil, nil)).To(BeNil())
		})

		It("joins the displayable messages with '; ', leaving interrupts out", func() {
			err := steps.NewAggregateError(
				steps.NewEmittableError(nil, "Exited with status 1"),
				steps.ErrCancelled,
				steps.ErrExceededGracefulShutdownInterval,
				errors.New("boom"),
			)
			Expect(err.Error()).To(Equal("Exited with status 1; boom"))
		})

		It("leaves nested interrupts out too", func() {
			inner := steps.NewAggregateError(steps.ErrCancelled, errors.New("inner"))
			err := steps.NewAggregateError(inner, steps.NewAggregateError(steps.ErrCancelled), errors.New("outer"))
			Expect(err.Error()).To(Equal("inner; outer"))
		})

		It("falls back to the first message when nothing is displayable", func() {
			Expect(steps.NewAggregateError(steps.ErrCancelled, steps.ErrCancelled).Error()).To(Equal("cancelled"))
		})

		It("unwraps to its members", func() {
			err := steps.NewAggregateError(steps.ErrCodependentStepExited, steps.ErrCancelled)
			Expect(errors.Is(err, steps.ErrCodependentStepExited)).To(BeTrue())
			var agg *steps.AggregateError
			Expect(errors.As(err, &agg)).To(BeTrue())
			Expect(agg.Errors()).To(HaveLen(2))
		})
	})

	Describe("IsEmittable", func() {
		It("recognises emittable and timeout errors, also wrapped or aggregated", func() {
			e := steps.NewEmittableError(errors.New("cause"), "Exited with status %d", 2)
			Expect(e.Error()).To(Equal("Exited with status 2"))
			Expect(errors.Unwrap(e)).To(MatchError("cause"))
			Expect(steps.IsEmittable(e)).To(BeTrue())
			Expect(steps.IsEmittable(fmt.Errorf("wrapped: %w", e))).To(BeTrue())
			Expect(steps.IsEmittable(steps.NewAggregateError(steps.ErrCancelled, e))).To(BeTrue())
			Expect(steps.IsEmittable(&steps.TimeoutError{})).To(BeTrue())
			Expect(steps.IsEmittable(errors.New("plain"))).To(BeFalse())
			Expect(steps.IsEmittable(steps.ErrCancelled)).To(BeFalse())
		})
	})

	Describe("IsInterrupted", func() {
		It("is true for interrupt errors and aggregates made only of them", func() {
			Expect(steps.IsInterrupted(steps.ErrCancelled)).To(BeTrue())
			Expect(steps.IsInterrupted(steps.ErrExceededGracefulShutdownInterval)).To(BeTrue())
			Expect(steps.IsInterrupted(steps.ErrProcessDidNotExit)).To(BeTrue())
			Expect(steps.IsInterrupted(fmt.Errorf("x: %w", steps.ErrCancelled))).To(BeTrue())
			Expect(steps.IsInterrupted(steps.NewAggregateError(steps.ErrCancelled, steps.NewAggregateError(steps.ErrCancelled)))).To(BeTrue())
		})

		It("is false for nil, real failures, and aggregates with one", func() {
			Expect(steps.IsInterrupted(nil)).To(BeFalse())
			Expect(steps.IsInterrupted(errors.New("boom"))).To(BeFalse())
			Expect(steps.IsInterrupted(steps.NewAggregateError(steps.ErrCancelled, steps.ErrCodependentStepExited))).To(BeFalse())
		})

		It("does not look inside an emittable error", func() {
			unhealthy := steps.NewEmittableError(steps.NewAggregateError(errors.New("check"), steps.ErrCancelled), "Instance became unhealthy: check")
			Expect(steps.IsInterrupted(steps.NewAggregateError(steps.ErrCancelled, unhealthy))).To(BeFalse())
		})
	})

	Describe("Limiter", func() {
		It("does not limit when n ≤ 0", func() {
			Expect(steps.NewLimiter(0)).To(BeNil())
			Expect(cap(steps.NewLimiter(5))).To(Equal(5))
		})
	})
})
