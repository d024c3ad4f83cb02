package models

import (
	"fmt"

	"google.golang.org/protobuf/proto"
)

// Event is one message of the BBS event streams (spec core §3.3). Its type
// is the SSE event name; its key is what consumers dedupe on: the process
// guid for desired events, the instance guid for actual ones, the task guid
// for tasks.
type Event interface {
	proto.Message
	EventType() string
	Key() string
}

// SSE event names (spec core §3.3).
const (
	EventTypeDesiredLRPCreated = "desired_lrp_created"
	EventTypeDesiredLRPChanged = "desired_lrp_changed"
	EventTypeDesiredLRPRemoved = "desired_lrp_removed"

	EventTypeActualLRPCreated = "actual_lrp_created"
	EventTypeActualLRPChanged = "actual_lrp_changed"
	EventTypeActualLRPRemoved = "actual_lrp_removed"
	EventTypeActualLRPCrashed = "actual_lrp_crashed"

	EventTypeActualLRPInstanceCreated = "actual_lrp_instance_created"
	EventTypeActualLRPInstanceChanged = "actual_lrp_instance_changed"
	EventTypeActualLRPInstanceRemoved = "actual_lrp_instance_removed"

	EventTypeTaskCreated = "task_created"
	EventTypeTaskChanged = "task_changed"
	EventTypeTaskRemoved = "task_removed"
)

func (*DesiredLRPCreatedEvent) EventType() string        { return EventTypeDesiredLRPCreated }
func (*DesiredLRPChangedEvent) EventType() string        { return EventTypeDesiredLRPChanged }
func (*DesiredLRPRemovedEvent) EventType() string        { return EventTypeDesiredLRPRemoved }
func (*ActualLRPCreatedEvent) EventType() string         { return EventTypeActualLRPCreated }
func (*ActualLRPChangedEvent) EventType() string         { return EventTypeActualLRPChanged }
func (*ActualLRPRemovedEvent) EventType() string         { return EventTypeActualLRPRemoved }
func (*ActualLRPCrashedEvent) EventType() string         { return EventTypeActualLRPCrashed }
func (*ActualLRPInstanceCreatedEvent) EventType() string { return EventTypeActualLRPInstanceCreated }
func (*ActualLRPInstanceChangedEvent) EventType() string { return EventTypeActualLRPInstanceChanged }
func (*ActualLRPInstanceRemovedEvent) EventType() string { return EventTypeActualLRPInstanceRemoved }
func (*TaskCreatedEvent) EventType() string              { return EventTypeTaskCreated }
func (*TaskChangedEvent) EventType() string              { return EventTypeTaskChanged }
func (*TaskRemovedEvent) EventType() string              { return EventTypeTaskRemoved }

func (e *DesiredLRPCreatedEvent) Key() string { return e.GetDesiredLrp().GetProcessGuid() }
func (e *DesiredLRPChangedEvent) Key() string { return e.GetBefore().GetProcessGuid() }
func (e *DesiredLRPRemovedEvent) Key() string { return e.GetDesiredLrp().GetProcessGuid() }
func (e *ActualLRPCreatedEvent) Key() string  { return groupKey(e.GetActualLrpGroup()) }
func (e *ActualLRPChangedEvent) Key() string  { return groupKey(e.GetBefore()) }
func (e *ActualLRPRemovedEvent) Key() string  { return groupKey(e.GetActualLrpGroup()) }
func (e *ActualLRPCrashedEvent) Key() string  { return e.GetActualLrpInstanceKey().GetInstanceGuid() }
func (e *ActualLRPInstanceCreatedEvent) Key() string {
	return e.GetActualLrp().GetActualLrpInstanceKey().GetInstanceGuid()
}
func (e *ActualLRPInstanceChangedEvent) Key() string {
	return e.GetActualLrpInstanceKey().GetInstanceGuid()
}
func (e *ActualLRPInstanceRemovedEvent) Key() string {
	return e.GetActualLrp().GetActualLrpInstanceKey().GetInstanceGuid()
}
func (e *TaskCreatedEvent) Key() string { return e.GetTask().GetTaskGuid() }
func (e *TaskChangedEvent) Key() string { return e.GetBefore().GetTaskGuid() }
func (e *TaskRemovedEvent) Key() string { return e.GetTask().GetTaskGuid() }

func groupKey(g *ActualLRPGroup) string {
	lrp, _ := ResolveActualLRPGroup(g)
	return lrp.GetActualLrpInstanceKey().GetInstanceGuid()
}

var eventConstructors = map[string]func() Event{
	EventTypeDesiredLRPCreated:        func() Event { return &DesiredLRPCreatedEvent{} },
	EventTypeDesiredLRPChanged:        func() Event { return &DesiredLRPChangedEvent{} },
	EventTypeDesiredLRPRemoved:        func() Event { return &DesiredLRPRemovedEvent{} },
	EventTypeActualLRPCreated:         func() Event { return &ActualLRPCreatedEvent{} },
	EventTypeActualLRPChanged:         func() Event { return &ActualLRPChangedEvent{} },
	EventTypeActualLRPRemoved:         func() Event { return &ActualLRPRemovedEvent{} },
	EventTypeActualLRPCrashed:         func() Event { return &ActualLRPCrashedEvent{} },
	EventTypeActualLRPInstanceCreated: func() Event { return &ActualLRPInstanceCreatedEvent{} },
	EventTypeActualLRPInstanceChanged: func() Event { return &ActualLRPInstanceChangedEvent{} },
	EventTypeActualLRPInstanceRemoved: func() Event { return &ActualLRPInstanceRemovedEvent{} },
	EventTypeTaskCreated:              func() Event { return &TaskCreatedEvent{} },
	EventTypeTaskChanged:              func() Event { return &TaskChangedEvent{} },
	EventTypeTaskRemoved:              func() Event { return &TaskRemovedEvent{} },
}

// DecodeEvent turns an event's name and protobuf payload back into the
// event (the payload is already base64-decoded).
func DecodeEvent(eventType string, payload []byte) (Event, error) {
	newEvent, ok := eventConstructors[eventType]
	if !ok {
		return nil, fmt.Errorf("unknown event type %q", eventType)
	}
	e := newEvent()
	if err := proto.Unmarshal(payload, e); err != nil {
		return nil, fmt.Errorf("decoding %s event: %w", eventType, err)
	}
	return e, nil
}
