package steps

import "os"

type parallelStep struct {
	steps []Step
}

// NewParallel is the parallel action: every step starts at once and all
// are waited for. It fails with the aggregate of the failed members'
// errors, and is ready when every member is ready (or done).
func NewParallel(steps []Step) Step {
	return &parallelStep{steps: steps}
}

func (s *parallelStep) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	interrupted := false
	errs := runGroup(s.steps, signals, ready, true, func(_ int, err error, signalled bool, _ []*running) error {
		interrupted = interrupted || signalled
		return err
	})
	if err := NewAggregateError(errs...); err != nil {
		return err
	}
	if interrupted {
		return ErrCancelled
	}
	return nil
}
