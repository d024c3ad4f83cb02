package auctionrunner

import "diego/rep"

// A Filter reports whether a cell can run work with the given constraint;
// when it cannot, reason says why in the spec's words.
type Filter func(cell *rep.CellState, pc rep.PlacementConstraint) (ok bool, reason string)

// Filters are applied in this order; a later filter's reason is more
// specific than an earlier one's (spec core §5.3 item 3).
var Filters = []Filter{FilterRootFS, FilterVolumeDrivers, FilterPlacementTags}

// FilterRootFS keeps cells that provide the rootfs.
func FilterRootFS(cell *rep.CellState, pc rep.PlacementConstraint) (bool, string) {
	if cell.RootFSProviders.MatchRootFS(pc.RootFs) {
		return true, ""
	}
	return false, ErrIncompatibleRootFS
}

// FilterVolumeDrivers keeps cells that have every requested volume driver.
func FilterVolumeDrivers(cell *rep.CellState, pc rep.PlacementConstraint) (bool, string) {
	if cell.MatchVolumeDrivers(pc.VolumeDrivers) {
		return true, ""
	}
	return false, ErrIncompatibleVolumes
}

// FilterPlacementTags keeps cells whose required tags ⊆ the requested tags ⊆
// their required ∪ optional tags.
func FilterPlacementTags(cell *rep.CellState, pc rep.PlacementConstraint) (bool, string) {
	if cell.MatchPlacementTags(pc.PlacementTags) {
		return true, ""
	}
	return false, PlacementTagsError(pc.PlacementTags)
}

// applyFilters runs every filter on the cell. rank is the number of filters
// the cell passed: len(Filters) when it passed them all, so a higher rank
// is a more specific mismatch.
func applyFilters(cell *rep.CellState, pc rep.PlacementConstraint) (rank int, reason string) {
	for i, f := range Filters {
		if ok, why := f(cell, pc); !ok {
			return i, why
		}
	}
	return len(Filters), ""
}
