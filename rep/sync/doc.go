// Package sync drives the BBS from the cell's containers (spec cell
// §4.4–§4.7, §4.9): executor events and a periodic bulk sync become
// operations keyed by container guid, run through a sliding queue, and each
// operation re-reads its container and applies the LRP processor (normal or
// evacuation mode) or the task processor. Residual operations clean up BBS
// records whose container is gone.
package sync
