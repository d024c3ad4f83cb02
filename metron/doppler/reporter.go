package doppler

import (
	"os"
	"time"

	"diego/deploy/clock"
)

// Metrics is where the doppler's own counters go (metron/emitter.Emitter).
type Metrics interface {
	AddToCounter(name string, delta uint64)
}

// The doppler's own counters.
const (
	ReceivedCount       = "dropsondeListener.receivedMessageCount"
	UnsignedCount       = "signatureVerifier.missingSignatureErrors"
	BadSignatureCount   = "signatureVerifier.invalidSignatureErrors"
	UnmarshalErrorCount = "dropsondeUnmarshaller.unmarshalErrors"
	SlowConsumerSkips   = "sinks.websocket.droppedMessages"
)

// Reporter sends the ingest's counts as counter deltas on a timer (an ifrit
// runner).
type Reporter struct {
	Ingest   *Ingest
	Store    *Store
	Metrics  Metrics
	Clock    clock.Clock
	Interval time.Duration
}

// Run reports until signalled.
func (r *Reporter) Run(signals <-chan os.Signal, ready chan<- struct{}) error {
	ticker := r.Clock.NewTicker(r.Interval)
	defer ticker.Stop()
	close(ready)
	var last IngestStats
	var lastSkips uint64
	for {
		select {
		case <-ticker.C():
			now, skips := r.Ingest.Stats(), r.Store.SlowConsumerSkips()
			r.Metrics.AddToCounter(ReceivedCount, now.Received-last.Received)
			r.Metrics.AddToCounter(UnsignedCount, now.Unsigned-last.Unsigned)
			r.Metrics.AddToCounter(BadSignatureCount, now.BadSignature-last.BadSignature)
			r.Metrics.AddToCounter(UnmarshalErrorCount, now.UnmarshalErrors-last.UnmarshalErrors)
			r.Metrics.AddToCounter(SlowConsumerSkips, skips-lastSkips)
			last, lastSkips = now, skips
		case <-signals:
			return nil
		}
	}
}
