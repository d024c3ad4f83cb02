package models

import "google.golang.org/protobuf/proto"

func cloneDesired(d *DesiredLRP) *DesiredLRP { return proto.Clone(d).(*DesiredLRP) }

func cloneTask(t *Task) *Task { return proto.Clone(t).(*Task) }
