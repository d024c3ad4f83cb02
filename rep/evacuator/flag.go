package evacuator

import (
	"sync"
	"sync/atomic"
)

// Flag is the rep's evacuation flag (spec cell §4.9): set once by POST
// /evacuate or a signal (TrapSignals), read by /state, /work, the bulk sync's
// interval and the LRP processor's mode, and waited on by the Evacuator. It
// is never cleared: an evacuating rep exits.
type Flag struct {
	set  atomic.Bool
	once sync.Once
	ch   chan struct{}
}

// NewFlag returns an unset flag.
func NewFlag() *Flag { return &Flag{ch: make(chan struct{})} }

// Evacuate sets the flag; later calls do nothing.
func (f *Flag) Evacuate() {
	f.once.Do(func() {
		f.set.Store(true)
		close(f.ch)
	})
}

// Evacuating says whether the flag is set.
func (f *Flag) Evacuating() bool { return f.set.Load() }

// Started is closed when the flag is set.
func (f *Flag) Started() <-chan struct{} { return f.ch }
