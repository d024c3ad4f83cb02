package peers

import "time"

// SetClock replaces the clock the address cache ages by.
func (a *Auctioneer) SetClock(now func() time.Time) { a.now = now }
