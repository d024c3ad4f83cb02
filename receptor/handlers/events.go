package handlers

import (
	"encoding/json"
	"net/http"

	"diego/deploy/logging"
	"diego/deploy/sse"
	"diego/models"
	"diego/receptor"
)

// events streams the BBS's LRP events as the receptor's JSON events (spec
// core §3.5): desired events as they are, actual group events resolved as
// in §2.3. Crash events have no receptor form and are skipped.
func (s *server) events(w http.ResponseWriter, r *http.Request) {
	logger := logging.Session(s.Logger, "event-stream")
	source, err := s.Events.SubscribeToEvents(r.Context())
	if err != nil {
		logger.Error("failed-to-subscribe", "error", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-r.Context().Done():
		case <-done:
		}
		_ = source.Close()
	}()

	stream, err := sse.NewWriter(w)
	if err != nil {
		logger.Error("failed-to-stream", "error", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	for {
		bbsEvent, err := source.Next()
		if err != nil {
			logger.Debug("stream-ended", "error", err)
			return
		}
		event, ok := ConvertEvent(bbsEvent)
		if !ok {
			continue
		}
		data, err := json.Marshal(event)
		if err != nil {
			logger.Error("failed-to-marshal-event", "error", err)
			continue
		}
		if err := stream.Send(event.EventType(), data); err != nil {
			return
		}
	}
}

// ConvertEvent turns a BBS LRP event into its receptor event; ok is false
// for events the receptor does not send.
func ConvertEvent(e models.Event) (receptor.Event, bool) {
	switch e := e.(type) {
	case *models.DesiredLRPCreatedEvent:
		return receptor.DesiredLRPCreatedEvent{DesiredLRPResponse: receptor.DesiredLRPToResponse(e.GetDesiredLrp())}, true
	case *models.DesiredLRPChangedEvent:
		return receptor.DesiredLRPChangedEvent{
			Before: receptor.DesiredLRPToResponse(e.GetBefore()),
			After:  receptor.DesiredLRPToResponse(e.GetAfter()),
		}, true
	case *models.DesiredLRPRemovedEvent:
		return receptor.DesiredLRPRemovedEvent{DesiredLRPResponse: receptor.DesiredLRPToResponse(e.GetDesiredLrp())}, true
	case *models.ActualLRPCreatedEvent:
		resp, ok := receptor.ActualLRPGroupToResponse(e.GetActualLrpGroup())
		return receptor.ActualLRPCreatedEvent{ActualLRPResponse: resp}, ok
	case *models.ActualLRPChangedEvent:
		before, ok1 := receptor.ActualLRPGroupToResponse(e.GetBefore())
		after, ok2 := receptor.ActualLRPGroupToResponse(e.GetAfter())
		return receptor.ActualLRPChangedEvent{Before: before, After: after}, ok1 && ok2
	case *models.ActualLRPRemovedEvent:
		resp, ok := receptor.ActualLRPGroupToResponse(e.GetActualLrpGroup())
		return receptor.ActualLRPRemovedEvent{ActualLRPResponse: resp}, ok
	}
	return nil, false
}
