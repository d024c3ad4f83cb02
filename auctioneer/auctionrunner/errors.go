package auctionrunner

import (
	"fmt"
	"strings"
)

// Placement error texts (spec core §5.3, §5.4).
const (
	ErrNoCells              = "unable to communicate to compatible cells"
	ErrInflightLimit        = "waiting to start instance: reached in-flight start limit"
	ErrIncompatibleRootFS   = "found no compatible cell for required rootfs"
	ErrIncompatibleVolumes  = "found no compatible cell with required volume drivers"
	ErrInsufficientResource = "insufficient resources"
)

// PlacementTagsError is the text for work whose placement tags no cell
// matches: `…with placement tag "x"`, `…with placement tags "a", "b" and
// "c"`, or `…with no placement tags`.
func PlacementTagsError(tags []string) string {
	const prefix = "found no compatible cell with "
	quoted := make([]string, len(tags))
	for i, t := range tags {
		quoted[i] = fmt.Sprintf("%q", t)
	}
	switch len(quoted) {
	case 0:
		return prefix + "no placement tags"
	case 1:
		return prefix + "placement tag " + quoted[0]
	default:
		last := len(quoted) - 1
		return prefix + "placement tags " + strings.Join(quoted[:last], ", ") + " and " + quoted[last]
	}
}
