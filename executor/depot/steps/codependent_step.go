package steps

import "os"

type codependentStep struct {
	steps []Step
}

// NewCodependent is the codependent action: every step starts at once and
// the first to exit, even successfully, interrupts the rest; a success
// counts as ErrCodependentStepExited. It fails with the aggregate of the
// members' errors, and is ready when every member is ready.
func NewCodependent(steps []Step) Step {
	return &codependentStep{steps: steps}
}

func (s *codependentStep) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	first := true
	errs := runGroup(s.steps, signals, ready, false, func(_ int, err error, signalled bool, children []*running) error {
		if !first {
			return err
		}
		first = false
		if !signalled {
			for _, c := range children {
				c.interrupt(os.Interrupt)
			}
			if err == nil {
				return ErrCodependentStepExited
			}
		}
		return err
	})
	if err := NewAggregateError(errs...); err != nil {
		return err
	}
	if len(s.steps) == 0 {
		return nil
	}
	// Only a signal lets every member end without an error.
	return ErrCancelled
}
