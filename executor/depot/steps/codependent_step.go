package steps

import "os"

// CodependentOptions are the two ways Diego's codependent step differs
// between the codependent action and a long-running process's members.
type CodependentOptions struct {
	// ErrorOnExit turns a member's successful exit into
	// ErrCodependentStepExited, which (being an error) interrupts the rest.
	ErrorOnExit bool
	// CancelOthersOnExit interrupts the rest when a member exits
	// successfully; the members interrupted that way are left out of the
	// result, so the step succeeds.
	CancelOthersOnExit bool
}

type codependentStep struct {
	steps []Step
	opts  CodependentOptions
}

// NewCodependent is the codependent action: every step starts at once and
// the first to exit, even successfully, interrupts the rest; a success
// counts as ErrCodependentStepExited. It fails with the aggregate of the
// members' errors, and is ready when every member is ready.
func NewCodependent(steps []Step) Step {
	return NewCodependentWith(steps, CodependentOptions{ErrorOnExit: true})
}

// NewCodependentWith is a codependent step with explicit options (spec cell
// §3.6; decision 44). Whatever the options, a member that fails
// interrupts the rest, and the result aggregates the failures.
func NewCodependentWith(steps []Step, opts CodependentOptions) Step {
	return &codependentStep{steps: steps, opts: opts}
}

func (s *codependentStep) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	interruptedBy := ""
	outerSignal := false
	errs := runGroup(s.steps, signals, ready, false, func(_ int, err error, signalled bool, children []*running) error {
		outerSignal = outerSignal || signalled
		if interruptedBy != "" || signalled {
			if interruptedBy == "success" && !signalled && IsInterrupted(err) {
				return nil
			}
			return err
		}
		if err == nil && s.opts.ErrorOnExit {
			err = ErrCodependentStepExited
		}
		switch {
		case err != nil:
			interruptedBy = "failure"
		case s.opts.CancelOthersOnExit:
			interruptedBy = "success"
		default:
			return nil
		}
		for _, c := range children {
			c.interrupt(os.Interrupt)
		}
		return err
	})
	if err := NewAggregateError(errs...); err != nil {
		return err
	}
	if outerSignal {
		// Only a signal lets every member end without an error.
		return ErrCancelled
	}
	return nil
}
