package evacuator

import "os"

// UseEvacuationSignal makes TrapSignals listen for sig instead of SIGUSR1
// (which the ginkgo test process itself handles) and returns the undo.
func UseEvacuationSignal(sig os.Signal) func() {
	old := evacuationSignal
	evacuationSignal = sig
	return func() { evacuationSignal = old }
}

// EvacuationSignal is the signal TrapSignals listens for.
func EvacuationSignal() os.Signal { return evacuationSignal }
