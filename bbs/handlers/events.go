package handlers

import (
	"io"
	"net/http"

	"google.golang.org/protobuf/proto"

	"diego/bbs"
	"diego/bbs/events"
	"diego/deploy/logging"
	"diego/models"
)

func (s *Server) eventHandlers() map[string]http.Handler {
	return map[string]http.Handler{
		bbs.EventStreamRoute:               s.stream(events.LRPGroupStream, nil),
		bbs.EventStreamRoute_r0:            s.stream(events.LRPGroupStream, toV0),
		bbs.LRPInstanceEventStreamRoute:    s.stream(events.LRPInstanceStream, nil),
		bbs.LRPInstanceEventStreamRoute_r0: s.stream(events.LRPInstanceStream, toV0),
		bbs.TaskEventStreamRoute:           s.stream(events.TaskStream, nil),
		bbs.TaskEventStreamRoute_r0:        s.stream(events.TaskStream, nil),
	}
}

// stream serves one event stream; an optional EventsByCellId body filters
// LRP streams to one cell.
func (s *Server) stream(kind events.Stream, convert events.Convert) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logger := logging.Session(s.logger, "event-stream", "request_id", r.Header.Get("X-Vcap-Request-Id"))
		var filter models.EventsByCellId
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.deps.MaxRequestBytes))
		if err == nil {
			err = proto.Unmarshal(body, &filter)
		}
		if err != nil {
			logger.Info("bad-filter", "error", err)
			http.Error(w, "the request received is invalid", http.StatusBadRequest)
			return
		}
		sub, err := s.deps.Hub.Subscribe(kind, filter.GetCellId())
		if err != nil {
			logger.Error("failed-to-subscribe", "error", err)
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		logger.Info("subscribed", "cell_id", filter.GetCellId())
		if err := events.ServeSSE(w, r, sub, convert); err != nil {
			logger.Error("stream-failed", "error", err)
		}
		logger.Info("unsubscribed")
	})
}

// toV0 gives `.r0` subscribers desired LRPs in their old form.
func toV0(e models.Event) models.Event {
	switch e := e.(type) {
	case *models.DesiredLRPCreatedEvent:
		return &models.DesiredLRPCreatedEvent{DesiredLrp: e.GetDesiredLrp().VersionDownTo0(), TraceId: e.GetTraceId()}
	case *models.DesiredLRPChangedEvent:
		return &models.DesiredLRPChangedEvent{Before: e.GetBefore().VersionDownTo0(), After: e.GetAfter().VersionDownTo0(), TraceId: e.GetTraceId()}
	case *models.DesiredLRPRemovedEvent:
		return &models.DesiredLRPRemovedEvent{DesiredLrp: e.GetDesiredLrp().VersionDownTo0(), TraceId: e.GetTraceId()}
	}
	return e
}
