package receptor

import (
	"encoding/json"
	"fmt"
)

// Event names of GET /v1/events (spec core §3.5).
const (
	EventTypeDesiredLRPCreated = "desired_lrp_created"
	EventTypeDesiredLRPChanged = "desired_lrp_changed"
	EventTypeDesiredLRPRemoved = "desired_lrp_removed"
	EventTypeActualLRPCreated  = "actual_lrp_created"
	EventTypeActualLRPChanged  = "actual_lrp_changed"
	EventTypeActualLRPRemoved  = "actual_lrp_removed"
)

// Event is one receptor SSE event; its data is the event marshalled as JSON.
// Key is what consumers dedupe on: the process guid for desired events, the
// instance guid for actual ones.
type Event interface {
	EventType() string
	Key() string
}

type DesiredLRPCreatedEvent struct {
	DesiredLRPResponse DesiredLRPResponse `json:"desired_lrp"`
}

type DesiredLRPChangedEvent struct {
	Before DesiredLRPResponse `json:"desired_lrp_before"`
	After  DesiredLRPResponse `json:"desired_lrp_after"`
}

type DesiredLRPRemovedEvent struct {
	DesiredLRPResponse DesiredLRPResponse `json:"desired_lrp"`
}

type ActualLRPCreatedEvent struct {
	ActualLRPResponse ActualLRPResponse `json:"actual_lrp"`
}

type ActualLRPChangedEvent struct {
	Before ActualLRPResponse `json:"actual_lrp_before"`
	After  ActualLRPResponse `json:"actual_lrp_after"`
}

type ActualLRPRemovedEvent struct {
	ActualLRPResponse ActualLRPResponse `json:"actual_lrp"`
}

func (DesiredLRPCreatedEvent) EventType() string { return EventTypeDesiredLRPCreated }
func (DesiredLRPChangedEvent) EventType() string { return EventTypeDesiredLRPChanged }
func (DesiredLRPRemovedEvent) EventType() string { return EventTypeDesiredLRPRemoved }
func (ActualLRPCreatedEvent) EventType() string  { return EventTypeActualLRPCreated }
func (ActualLRPChangedEvent) EventType() string  { return EventTypeActualLRPChanged }
func (ActualLRPRemovedEvent) EventType() string  { return EventTypeActualLRPRemoved }

func (e DesiredLRPCreatedEvent) Key() string { return e.DesiredLRPResponse.ProcessGuid }
func (e DesiredLRPChangedEvent) Key() string { return e.Before.ProcessGuid }
func (e DesiredLRPRemovedEvent) Key() string { return e.DesiredLRPResponse.ProcessGuid }
func (e ActualLRPCreatedEvent) Key() string  { return e.ActualLRPResponse.InstanceGuid }
func (e ActualLRPChangedEvent) Key() string  { return e.Before.InstanceGuid }
func (e ActualLRPRemovedEvent) Key() string  { return e.ActualLRPResponse.InstanceGuid }

// DecodeEvent reads an event from its SSE name and JSON data.
func DecodeEvent(eventType string, data []byte) (Event, error) {
	var e Event
	var err error
	switch eventType {
	case EventTypeDesiredLRPCreated:
		var v DesiredLRPCreatedEvent
		err, e = json.Unmarshal(data, &v), &v
	case EventTypeDesiredLRPChanged:
		var v DesiredLRPChangedEvent
		err, e = json.Unmarshal(data, &v), &v
	case EventTypeDesiredLRPRemoved:
		var v DesiredLRPRemovedEvent
		err, e = json.Unmarshal(data, &v), &v
	case EventTypeActualLRPCreated:
		var v ActualLRPCreatedEvent
		err, e = json.Unmarshal(data, &v), &v
	case EventTypeActualLRPChanged:
		var v ActualLRPChangedEvent
		err, e = json.Unmarshal(data, &v), &v
	case EventTypeActualLRPRemoved:
		var v ActualLRPRemovedEvent
		err, e = json.Unmarshal(data, &v), &v
	default:
		return nil, fmt.Errorf("unknown event type %q", eventType)
	}
	if err != nil {
		return nil, fmt.Errorf("decoding %s event: %w", eventType, err)
	}
	return e, nil
}
