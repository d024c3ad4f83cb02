package healthcheck_test

import (
	"context"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	check "diego/ccbridge/lifecycle/healthcheck"
)

// script is a fake check: it answers with results in turn (nil once they
// run out) and records when it was called.
type script struct {
	mu      sync.Mutex
	results []error
	calls   []time.Time
}

func (s *script) check(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, time.Now())
	if len(s.results) == 0 {
		return nil
	}
	err := s.results[0]
	s.results = s.results[1:]
	return err
}

func (s *script) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

func fails(n int, err error) []error {
	out := make([]error, n)
	for i := range out {
		out[i] = err
	}
	return out
}

var (
	refused     = &check.Error{Code: check.CodeTCPFailure, Message: "refused"}
	unready     = &check.Error{Code: check.CodeHTTPFailure, Message: "received status code 503 in 1ms"}
	noInterface = &check.Error{Code: check.CodeNoInterface, Message: "no interface"}
)

var _ = Describe("Run", func() {
	ctx := context.Background()
	const tick = 5 * time.Millisecond

	It("checks exactly once without a mode", func() {
		s := &script{results: []error{refused}}
		Expect(check.Run(ctx, s.check, check.Modes{})).To(Equal(refused))
		Expect(s.count()).To(Equal(1))

		s = &script{}
		Expect(check.Run(ctx, s.check, check.Modes{})).To(Succeed())
		Expect(s.count()).To(Equal(1))
	})

	// runsAtOnce: with an hour's interval, only a first check made at once
	// lets Run return.
	runsAtOnce := func(m check.Modes) {
		s := &script{}
		done := make(chan error, 1)
		go func() { done <- check.Run(ctx, s.check, m) }()
		Eventually(done).Should(Receive(BeNil()))
		Expect(s.count()).To(Equal(1))
	}

	Describe("startup", func() {
		It("checks at once", func() { runsAtOnce(check.Modes{StartupInterval: time.Hour, StartupTimeout: 2 * time.Hour}) })

		It("checks at once, then every interval until a check passes", func() {
			s := &script{results: fails(3, refused)}
			Expect(check.Run(ctx, s.check, check.Modes{StartupInterval: tick, StartupTimeout: time.Minute})).To(Succeed())
			Expect(s.count()).To(Equal(4))
			for i := 1; i < len(s.calls); i++ {
				Expect(s.calls[i].Sub(s.calls[i-1])).To(BeNumerically(">=", tick))
			}
		})

		It("fails with the last check's code and message when the timeout passes", func() {
			s := &script{results: fails(1000, refused)}
			start := time.Now()
			err := check.Run(ctx, s.check, check.Modes{StartupInterval: 20 * time.Millisecond, StartupTimeout: 100 * time.Millisecond})
			Expect(time.Since(start)).To(BeNumerically(">=", 100*time.Millisecond))
			Expect(check.Code(err)).To(Equal(check.CodeTCPFailure))
			Expect(err.Error()).To(MatchRegexp(`^refused\nFailed after [0-9.]+m?s: startup health check never passed\.$`))
			// At once, every 20ms (a loaded machine may manage fewer), and
			// once more at the deadline.
			Expect(s.count()).To(BeNumerically(">=", 2))
			Expect(s.count()).To(BeNumerically("<=", 7))
			Expect(s.calls[len(s.calls)-1].Sub(start)).To(BeNumerically(">=", 100*time.Millisecond))
		})

		It("never gives up with a zero timeout", func() {
			s := &script{results: fails(20, refused)}
			Expect(check.Run(ctx, s.check, check.Modes{StartupInterval: time.Millisecond})).To(Succeed())
			Expect(s.count()).To(Equal(21))
		})

		It("stops at once when there is no interface", func() {
			s := &script{results: fails(10, noInterface)}
			Expect(check.Run(ctx, s.check, check.Modes{StartupInterval: tick, StartupTimeout: time.Minute})).To(Equal(noInterface))
			Expect(s.count()).To(Equal(1))
		})

		It("goes on to liveness once the app is up", func() {
			s := &script{results: append(fails(2, refused), nil, nil, unready)}
			err := check.Run(ctx, s.check, check.Modes{StartupInterval: tick, StartupTimeout: time.Minute, LivenessInterval: tick})
			Expect(err).To(Equal(unready))
			Expect(s.count()).To(Equal(5))
		})

		It("does not carry the startup deadline into the liveness phase", func() {
			s := &script{results: append(fails(10, nil), refused)}
			start := time.Now()
			err := check.Run(ctx, s.check, check.Modes{StartupInterval: tick, StartupTimeout: 20 * time.Millisecond, LivenessInterval: tick})
			Expect(err).To(Equal(refused))
			Expect(time.Since(start)).To(BeNumerically(">=", 50*time.Millisecond))
		})
	})

	DescribeTable("liveness and readiness check every interval, first after one, and fail at the first failure",
		func(m check.Modes) {
			s := &script{results: []error{nil, nil, unready, nil}}
			start := time.Now()
			Expect(check.Run(ctx, s.check, m)).To(Equal(unready))
			Expect(s.count()).To(Equal(3))
			Expect(s.calls[0].Sub(start)).To(BeNumerically(">=", 10*time.Millisecond))
		},
		Entry("liveness", check.Modes{LivenessInterval: 10 * time.Millisecond}),
		Entry("readiness", check.Modes{ReadinessInterval: 10 * time.Millisecond}),
	)

	It("keeps a liveness loop going while the app is healthy, until cancelled", func() {
		s := &script{}
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- check.Run(cctx, s.check, check.Modes{LivenessInterval: time.Millisecond}) }()
		Eventually(s.count).Should(BeNumerically(">=", 10))
		Consistently(done, 20*time.Millisecond).ShouldNot(Receive())
		cancel()
		var err error
		Eventually(done).Should(Receive(&err))
		Expect(err).To(MatchError(context.Canceled))
		Expect(check.Code(err)).To(Equal(check.CodeUnknown))
	})

	Describe("until-ready", func() {
		It("checks at once", func() { runsAtOnce(check.Modes{UntilReadyInterval: time.Hour}) })

		It("checks at once, then every interval until a check passes, reporting nothing", func() {
			s := &script{results: append(fails(3, unready), refused)}
			Expect(check.Run(ctx, s.check, check.Modes{UntilReadyInterval: tick})).To(Succeed())
			Expect(s.count()).To(Equal(5))
		})

		It("stops at once when there is no interface", func() {
			s := &script{results: fails(10, noInterface)}
			Expect(check.Run(ctx, s.check, check.Modes{UntilReadyInterval: tick})).To(Equal(noInterface))
			Expect(s.count()).To(Equal(1))
		})
	})
})

var _ = Describe("Modes.Validate", func() {
	DescribeTable("accepts",
		func(m check.Modes) { Expect(m.Validate()).To(Succeed()) },
		Entry("nothing", check.Modes{}),
		Entry("startup with liveness", check.Modes{StartupInterval: 1, StartupTimeout: 1, LivenessInterval: 1}),
		Entry("startup with readiness", check.Modes{StartupInterval: 1, ReadinessInterval: 1}),
		Entry("until-ready", check.Modes{UntilReadyInterval: 1}),
	)
	DescribeTable("rejects",
		func(m check.Modes, msg string) { Expect(m.Validate()).To(MatchError(ContainSubstring(msg))) },
		Entry("a negative interval", check.Modes{LivenessInterval: -1}, "-liveness-interval must not be negative"),
		Entry("a negative startup timeout", check.Modes{StartupTimeout: -time.Second}, "-startup-timeout must not be negative, got -1s"),
		Entry("liveness and readiness", check.Modes{LivenessInterval: 1, ReadinessInterval: 1}, "at most one of"),
		Entry("readiness and until-ready", check.Modes{ReadinessInterval: 1, UntilReadyInterval: 1}, "at most one of"),
	)
})
