package agent

import (
	"google.golang.org/protobuf/proto"

	"diego/metron/events"
)

// maxPendingStarts bounds the 2015 HttpStart envelopes waiting for their
// HttpStop; past it the oldest are forgotten (a start whose stop never
// comes must not grow the agent without bound).
const maxPendingStarts = 10000

type counterKey struct{ origin, name string }

type startKey struct {
	low, high uint64
	peer      events.PeerType
}

// aggregator is metron's message aggregator (spec cell §5.3): counter
// totals per (origin, name), and legacy HttpStart/HttpStop pairs merged into
// one HttpStartStop. It is used by the agent's one reading goroutine only.
type aggregator struct {
	totals  map[counterKey]uint64
	starts  map[startKey]*events.Envelope
	order   []startKey
	dropped uint64 // starts forgotten unmatched
}

func newAggregator() *aggregator {
	return &aggregator{totals: map[counterKey]uint64{}, starts: map[startKey]*events.Envelope{}}
}

// process returns the envelope to forward, or nil when it is held (an
// HttpStart) or consumed (an HttpStop without its start).
func (a *aggregator) process(env *events.Envelope) *events.Envelope {
	switch env.GetEventType() {
	case events.Envelope_CounterEvent:
		k := counterKey{env.GetOrigin(), env.CounterEvent.GetName()}
		a.totals[k] += env.CounterEvent.GetDelta()
		env.CounterEvent.Total = proto.Uint64(a.totals[k])
		return env
	case events.Envelope_HttpStart:
		a.holdStart(env)
		return nil
	case events.Envelope_HttpStop:
		return a.merge(env)
	}
	return env
}

func keyOf(id *events.UUID, peer events.PeerType) startKey {
	return startKey{id.GetLow(), id.GetHigh(), peer}
}

func (a *aggregator) holdStart(env *events.Envelope) {
	k := keyOf(env.HttpStart.GetRequestId(), env.HttpStart.GetPeerType())
	if _, ok := a.starts[k]; !ok {
		a.order = append(a.order, k)
	}
	a.starts[k] = env
	for len(a.starts) > maxPendingStarts {
		oldest := a.order[0]
		a.order = a.order[1:]
		if _, ok := a.starts[oldest]; ok {
			delete(a.starts, oldest)
			a.dropped++
		}
	}
	if len(a.order) > 2*maxPendingStarts { // compact keys already matched
		kept := a.order[:0]
		for _, k := range a.order {
			if _, ok := a.starts[k]; ok {
				kept = append(kept, k)
			}
		}
		a.order = kept
	}
}

func (a *aggregator) merge(stopEnv *events.Envelope) *events.Envelope {
	stop := stopEnv.HttpStop
	k := keyOf(stop.GetRequestId(), stop.GetPeerType())
	startEnv, ok := a.starts[k]
	if !ok {
		return nil
	}
	delete(a.starts, k)
	start := startEnv.HttpStart
	appID := start.GetApplicationId()
	if appID == nil {
		appID = stop.GetApplicationId()
	}
	return &events.Envelope{
		Origin: startEnv.Origin, EventType: events.Envelope_HttpStartStop.Enum(), Timestamp: stopEnv.Timestamp,
		Deployment: startEnv.Deployment, Job: startEnv.Job, Index: startEnv.Index, Ip: startEnv.Ip, Tags: startEnv.Tags,
		HttpStartStop: &events.HttpStartStop{
			StartTimestamp: start.Timestamp, StopTimestamp: stop.Timestamp, RequestId: start.RequestId,
			PeerType: start.PeerType, Method: start.Method, Uri: start.Uri, RemoteAddress: start.RemoteAddress,
			UserAgent: start.UserAgent, StatusCode: stop.StatusCode, ContentLength: stop.ContentLength,
			ApplicationId: appID, InstanceIndex: start.InstanceIndex, InstanceId: start.InstanceId,
		},
	}
}
