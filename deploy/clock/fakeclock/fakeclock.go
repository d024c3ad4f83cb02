// Package fakeclock is a clock.Clock whose time moves only when a test
// says so, making timeouts, TTLs and tickers deterministic.
package fakeclock

import (
	"sync"
	"time"

	"diego/deploy/clock"
)

// FakeClock is a manually advanced clock.Clock, safe for concurrent use.
//
// Every pending After, Sleep, Timer and Ticker is a "watcher". Tests should
// wait for the code under test to register its watcher
// (Eventually(fc.WatcherCount).Should(Equal(1))) before advancing time,
// otherwise the advance may happen before the watcher exists and be missed.
type FakeClock struct {
	mu       sync.Mutex
	now      time.Time
	watchers map[*fakeTimer]struct{}
}

var _ clock.Clock = (*FakeClock)(nil)

// NewFakeClock returns a FakeClock whose time starts at now.
func NewFakeClock(now time.Time) *FakeClock {
	return &FakeClock{now: now, watchers: map[*fakeTimer]struct{}{}}
}

// Now returns the fake time.
func (fc *FakeClock) Now() time.Time {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.now
}

// Since returns the fake time elapsed since t.
func (fc *FakeClock) Since(t time.Time) time.Duration {
	return fc.Now().Sub(t)
}

// After returns a channel that receives once time has been advanced by d.
func (fc *FakeClock) After(d time.Duration) <-chan time.Time {
	return fc.NewTimer(d).C()
}

// Sleep blocks until time has been advanced by d.
func (fc *FakeClock) Sleep(d time.Duration) {
	<-fc.After(d)
}

// NewTimer returns a Timer that fires once time has been advanced by d.
// Like time.NewTimer, a non-positive d fires at once.
func (fc *FakeClock) NewTimer(d time.Duration) clock.Timer {
	t := &fakeTimer{clock: fc, c: make(chan time.Time, 1)}
	t.Reset(d)
	return t
}

// NewTicker returns a Ticker that fires every time the clock passes another
// multiple of d. Like time.NewTicker, it panics if d is not positive.
func (fc *FakeClock) NewTicker(d time.Duration) clock.Ticker {
	if d <= 0 {
		panic("fakeclock: non-positive interval for NewTicker")
	}
	t := &fakeTimer{clock: fc, c: make(chan time.Time, 1), period: d}
	t.Reset(d)
	return fakeTicker{t}
}

// Increment advances time by d, firing every watcher that falls due.
func (fc *FakeClock) Increment(d time.Duration) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	fc.setTimeLocked(fc.now.Add(d))
}

// IncrementBySeconds advances time by n seconds.
func (fc *FakeClock) IncrementBySeconds(n uint64) {
	fc.Increment(time.Duration(n) * time.Second)
}

// SetTime moves time to now, firing every watcher that falls due.
func (fc *FakeClock) SetTime(now time.Time) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	fc.setTimeLocked(now)
}

// WatcherCount is the number of timers, tickers, Afters and Sleeps waiting
// to fire.
func (fc *FakeClock) WatcherCount() int {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return len(fc.watchers)
}

func (fc *FakeClock) setTimeLocked(now time.Time) {
	fc.now = now
	for t := range fc.watchers {
		if t.fireAt.After(now) {
			continue
		}
		t.send(now)
		if t.period == 0 {
			delete(fc.watchers, t)
			continue
		}
		// Like a real ticker, a jump over several periods delivers one tick.
		for !t.fireAt.After(now) {
			t.fireAt = t.fireAt.Add(t.period)
		}
	}
}

// fakeTimer backs both timers and tickers (period > 0). Its fields are
// guarded by clock.mu.
type fakeTimer struct {
	clock  *FakeClock
	c      chan time.Time
	fireAt time.Time
	period time.Duration
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

// Reset, like time.Timer since Go 1.23, discards any unreceived tick so the
// next receive is the new deadline.
func (t *fakeTimer) Reset(d time.Duration) bool {
	fc := t.clock
	fc.mu.Lock()
	defer fc.mu.Unlock()

	wasActive := t.stopLocked()
	t.fireAt = fc.now.Add(d)
	if d <= 0 && t.period == 0 {
		t.send(fc.now)
	} else {
		fc.watchers[t] = struct{}{}
	}
	return wasActive
}

func (t *fakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	return t.stopLocked()
}

func (t *fakeTimer) stopLocked() bool {
	select {
	case <-t.c:
	default:
	}
	_, active := t.clock.watchers[t]
	delete(t.clock.watchers, t)
	return active
}

// send never blocks: the channel holds one tick, and a tick nobody has
// received yet makes a newer one redundant, as with package time.
func (t *fakeTimer) send(now time.Time) {
	select {
	case t.c <- now:
	default:
	}
}

type fakeTicker struct{ t *fakeTimer }

func (f fakeTicker) C() <-chan time.Time { return f.t.C() }
func (f fakeTicker) Stop()               { f.t.Stop() }
