package simulation_test

import (
	"testing"

	"diego/auctioneer/auctionrunner"
	"diego/auctioneer/simulation"
)

// BenchmarkPlace8200On100Cells is B4's rate: the 100-cell large cold start
// (8,200 instances) in one round. The target is < 1 s per round.
func BenchmarkPlace8200On100Cells(b *testing.B) {
	cells := simulation.NewCells(100)
	work := simulation.LargeColdStart(100, 42)
	cfg := simulation.Config()
	for b.Loop() {
		r := auctionrunner.Schedule(cfg, cells, work, nil)
		if len(r.FailedLRPs) != 0 {
			b.Fatalf("%d placements failed", len(r.FailedLRPs))
		}
	}
}
