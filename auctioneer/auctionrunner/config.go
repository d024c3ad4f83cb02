// Package auctionrunner is the auctioneer's pure scheduler (spec core §5.3):
// small filters that each give a reason, then fit, then scoring, over a copy
// of the cells' states. It does no I/O and reads no clock, so one input
// always yields the same placements.
package auctionrunner

// Config holds the scoring weights and the in-flight limit.
type Config struct {
	// StartingContainerWeight multiplies a cell's StartingContainerCount.
	StartingContainerWeight float64
	// BinPackFirstFitWeight multiplies a cell's index within its zone.
	BinPackFirstFitWeight float64
	// LRPSpreadWeight is added per instance of the same process guid on a cell.
	LRPSpreadWeight float64
	// TaskSpreadWeight is added per task already on a cell.
	TaskSpreadWeight float64
	// StartingContainerCountMaximum caps starting containers; 0 is unlimited.
	StartingContainerCountMaximum int
}

// DefaultConfig returns Diego's modern defaults.
func DefaultConfig() Config {
	return Config{
		StartingContainerWeight: 0.25,
		BinPackFirstFitWeight:   0,
		LRPSpreadWeight:         1000,
		TaskSpreadWeight:        1000,
	}
}
