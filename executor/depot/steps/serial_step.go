package steps

import "os"

type serialStep struct {
	steps []Step
}

// NewSerial is the serial action: the steps run in order until one fails,
// and that error is returned. A signal goes to the current step; the
// sequence then ends (ErrCancelled if that step still succeeded). It is
// ready when its last step is.
func NewSerial(steps []Step) Step {
	return &serialStep{steps: steps}
}

func (s *serialStep) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	interrupted := false
	for i, step := range s.steps {
		if interrupted {
			return ErrCancelled
		}
		c := start(step)
		var childReady <-chan struct{}
		if i == len(s.steps)-1 {
			childReady = c.ready
		}
	wait:
		for {
			select {
			case <-childReady:
				close(ready)
				childReady = nil
			case <-c.done:
				break wait
			case sig := <-signals:
				interrupted = true
				c.interrupt(sig)
			}
		}
		if c.err != nil {
			return c.err
		}
	}
	if interrupted {
		return ErrCancelled
	}
	return nil
}
