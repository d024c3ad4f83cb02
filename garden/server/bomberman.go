package server

import (
	"sync"
	"time"

	"diego/deploy/clock"
)

// bomberman reaps idle containers (spec cell §2.4): one countdown per
// container, of its grace time, paused while any request about the
// container is in flight and started afresh when the last one ends. A zero
// grace time never fires.
type bomberman struct {
	clock    clock.Clock
	detonate func(handle string)

	mu      sync.Mutex
	bombs   map[string]*bomb
	stopped bool
}

// bomb is one container's countdown. Its fields are guarded by
// bomberman.mu.
type bomb struct {
	grace  time.Duration
	paused int
	// timer and disarm are the running countdown and what stops its
	// goroutine; nil when none runs (paused, grace 0, or fired).
	timer  clock.Timer
	disarm chan struct{}
}

func newBomberman(clk clock.Clock, detonate func(handle string)) *bomberman {
	return &bomberman{clock: clk, detonate: detonate, bombs: map[string]*bomb{}}
}

// Strap arms handle's countdown with grace, replacing any earlier one but
// keeping the count of requests in flight (SetGraceTime runs inside one).
func (b *bomberman) Strap(handle string, grace time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		return
	}
	bm, ok := b.bombs[handle]
	if !ok {
		bm = &bomb{}
		b.bombs[handle] = bm
	}
	b.disarmLocked(bm)
	bm.grace = grace
	if bm.paused == 0 {
		b.armLocked(handle, bm)
	}
}

// Pause stops handle's countdown until the matching Unpause.
func (b *bomberman) Pause(handle string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bm, ok := b.bombs[handle]
	if !ok {
		return
	}
	bm.paused++
	b.disarmLocked(bm)
}

// Unpause ends one Pause; the last one restarts the full countdown.
func (b *bomberman) Unpause(handle string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bm, ok := b.bombs[handle]
	if !ok || bm.paused == 0 {
		return
	}
	bm.paused--
	if bm.paused == 0 && !b.stopped {
		b.armLocked(handle, bm)
	}
}

// Defuse forgets handle (it was destroyed).
func (b *bomberman) Defuse(handle string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if bm, ok := b.bombs[handle]; ok {
		b.disarmLocked(bm)
		delete(b.bombs, handle)
	}
}

// Stop disarms every countdown for good.
func (b *bomberman) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopped = true
	for handle, bm := range b.bombs {
		b.disarmLocked(bm)
		delete(b.bombs, handle)
	}
}

func (b *bomberman) armLocked(handle string, bm *bomb) {
	if bm.grace <= 0 {
		return
	}
	disarm := make(chan struct{})
	bm.disarm = disarm
	timer := b.clock.NewTimer(bm.grace)
	bm.timer = timer
	go func() {
		select {
		case <-disarm:
			return
		case <-timer.C():
		}

		b.mu.Lock()
		// A Pause, Strap or Defuse that won the race for the lock
		// closed disarm: this countdown no longer counts.
		select {
		case <-disarm:
			b.mu.Unlock()
			return
		default:
		}
		delete(b.bombs, handle)
		b.mu.Unlock()
		b.detonate(handle)
	}()
}

func (b *bomberman) disarmLocked(bm *bomb) {
	if bm.disarm != nil {
		bm.timer.Stop()
		close(bm.disarm)
		bm.timer, bm.disarm = nil, nil
	}
}
