package steps

import "os"

// runGroup runs steps at once, passing signals to all. It closes ready
// when every member is ready (or, with successCountsAsReady, has
// succeeded). onExit is called for each member as it exits, with whether
// the group had been signalled, and returns the error to record for it.
func runGroup(steps []Step, signals <-chan os.Signal, ready chan<- struct{}, successCountsAsReady bool,
	onExit func(i int, err error, interrupted bool, children []*running) error) []error {
	type event struct {
		i    int
		done bool
	}
	n := len(steps)
	events := make(chan event, 2*n)
	children := make([]*running, n)
	for i, step := range steps {
		c := start(step)
		children[i] = c
		go func() {
			select {
			case <-c.ready:
				events <- event{i, false}
				<-c.done
			case <-c.done:
			}
			events <- event{i, true}
		}()
	}

	errs := make([]error, n)
	isReady := make([]bool, n)
	nReady, nDone := 0, 0
	readyClosed := n == 0
	if readyClosed {
		close(ready)
	}
	interrupted := false
	markReady := func(i int) {
		if isReady[i] {
			return
		}
		isReady[i] = true
		nReady++
		if nReady == n && !readyClosed {
			readyClosed = true
			close(ready)
		}
	}
	for nDone < n {
		select {
		case ev := <-events:
			c := children[ev.i]
			if !ev.done {
				markReady(ev.i)
				continue
			}
			nDone++
			errs[ev.i] = onExit(ev.i, c.err, interrupted, children)
			if c.err == nil && successCountsAsReady {
				markReady(ev.i)
			}
		case sig := <-signals:
			interrupted = true
			for _, c := range children {
				c.interrupt(sig)
			}
		}
	}
	return errs
}
