package models

import (
	"fmt"
	"time"
)

// The text used when an Action holds no concrete action, or more than one.
const invalidActionType = "invalid action type"

// ActionType names the concrete action by its JSON type key.
type ActionType string

const (
	ActionTypeDownload     ActionType = "download"
	ActionTypeUpload       ActionType = "upload"
	ActionTypeRun          ActionType = "run"
	ActionTypeTimeout      ActionType = "timeout"
	ActionTypeEmitProgress ActionType = "emit_progress"
	ActionTypeTry          ActionType = "try"
	ActionTypeParallel     ActionType = "parallel"
	ActionTypeSerial       ActionType = "serial"
	ActionTypeCodependent  ActionType = "codependent"
)

// ValidatableAction is what every concrete action offers.
type ValidatableAction interface {
	Validate() error
	ActionType() ActionType
}

func (*DownloadAction) ActionType() ActionType     { return ActionTypeDownload }
func (*UploadAction) ActionType() ActionType       { return ActionTypeUpload }
func (*RunAction) ActionType() ActionType          { return ActionTypeRun }
func (*TimeoutAction) ActionType() ActionType      { return ActionTypeTimeout }
func (*EmitProgressAction) ActionType() ActionType { return ActionTypeEmitProgress }
func (*TryAction) ActionType() ActionType          { return ActionTypeTry }
func (*ParallelAction) ActionType() ActionType     { return ActionTypeParallel }
func (*SerialAction) ActionType() ActionType       { return ActionTypeSerial }
func (*CodependentAction) ActionType() ActionType  { return ActionTypeCodependent }

// Unwrap returns the one concrete action inside a, or nil when a holds none
// or more than one.
func (a *Action) Unwrap() ValidatableAction {
	var found []ValidatableAction
	add := func(ok bool, v ValidatableAction) {
		if ok {
			found = append(found, v)
		}
	}
	add(a.GetDownloadAction() != nil, a.GetDownloadAction())
	add(a.GetUploadAction() != nil, a.GetUploadAction())
	add(a.GetRunAction() != nil, a.GetRunAction())
	add(a.GetTimeoutAction() != nil, a.GetTimeoutAction())
	add(a.GetEmitProgressAction() != nil, a.GetEmitProgressAction())
	add(a.GetTryAction() != nil, a.GetTryAction())
	add(a.GetParallelAction() != nil, a.GetParallelAction())
	add(a.GetSerialAction() != nil, a.GetSerialAction())
	add(a.GetCodependentAction() != nil, a.GetCodependentAction())
	if len(found) != 1 {
		return nil
	}
	return found[0]
}

// WrapAction puts a concrete action into an Action; nil gives nil.
func WrapAction(v ValidatableAction) *Action {
	switch a := v.(type) {
	case *DownloadAction:
		return &Action{DownloadAction: a}
	case *UploadAction:
		return &Action{UploadAction: a}
	case *RunAction:
		return &Action{RunAction: a}
	case *TimeoutAction:
		return &Action{TimeoutAction: a}
	case *EmitProgressAction:
		return &Action{EmitProgressAction: a}
	case *TryAction:
		return &Action{TryAction: a}
	case *ParallelAction:
		return &Action{ParallelAction: a}
	case *SerialAction:
		return &Action{SerialAction: a}
	case *CodependentAction:
		return &Action{CodependentAction: a}
	}
	return nil
}

// Validate requires exactly one concrete action, itself valid. A nil
// *Action is valid: callers decide whether an action is required.
func (a *Action) Validate() error {
	if a == nil {
		return nil
	}
	var p problems
	switch inner := a.Unwrap(); {
	case inner != nil:
		p.merge(inner.Validate())
	case a.count() == 0:
		p.field(true, "inner-action")
	default:
		p.add(invalidActionType)
	}
	return p.err()
}

// count is how many concrete actions a holds.
func (a *Action) count() int {
	n := 0
	for _, set := range []bool{
		a.GetDownloadAction() != nil, a.GetUploadAction() != nil, a.GetRunAction() != nil,
		a.GetTimeoutAction() != nil, a.GetEmitProgressAction() != nil, a.GetTryAction() != nil,
		a.GetParallelAction() != nil, a.GetSerialAction() != nil, a.GetCodependentAction() != nil,
	} {
		if set {
			n++
		}
	}
	return n
}

// validateInner checks an action wrapped by timeout, try or emit_progress.
func validateInner(p *problems, a *Action) {
	if a == nil {
		p.field(true, "action")
		return
	}
	p.merge(a.Validate())
}

func (a *DownloadAction) Validate() error {
	var p problems
	p.field(a.GetFrom() == "", "from")
	p.field(a.GetTo() == "", "to")
	p.field(a.GetUser() == "", "user")
	validateChecksum(&p, a.GetChecksumAlgorithm(), a.GetChecksumValue())
	return p.err()
}

func (a *UploadAction) Validate() error {
	var p problems
	p.field(a.GetTo() == "", "to")
	p.field(a.GetFrom() == "", "from")
	p.field(a.GetUser() == "", "user")
	return p.err()
}

func (a *RunAction) Validate() error {
	var p problems
	p.field(a.GetPath() == "", "path")
	p.field(a.GetUser() == "", "user")
	return p.err()
}

func (a *TimeoutAction) Validate() error {
	var p problems
	validateInner(&p, a.GetAction())
	p.field(a.GetTimeoutMs() <= 0, "timeout_ms")
	return p.err()
}

func (a *EmitProgressAction) Validate() error {
	var p problems
	validateInner(&p, a.GetAction())
	return p.err()
}

func (a *TryAction) Validate() error {
	var p problems
	validateInner(&p, a.GetAction())
	return p.err()
}

func (a *ParallelAction) Validate() error    { return validateActions(a.GetActions()) }
func (a *SerialAction) Validate() error      { return validateActions(a.GetActions()) }
func (a *CodependentAction) Validate() error { return validateActions(a.GetActions()) }

func validateActions(actions []*Action) error {
	var p problems
	p.field(len(actions) == 0, "actions")
	for i, a := range actions {
		if a == nil {
			p.field(true, fmt.Sprintf("action at index %d", i))
			continue
		}
		p.merge(a.Validate())
	}
	return p.err()
}

// SetDeprecatedTimeoutNs fills, in place, every timeout action's 2015
// "timeout" (nanoseconds) from its timeout_ms: the form Diego's oldest
// readers expect (spec core §1.2).
func (a *Action) SetDeprecatedTimeoutNs() {
	a.eachTimeout(func(t *TimeoutAction) { t.DeprecatedTimeoutNs = t.GetTimeoutMs() * int64(time.Millisecond) })
}

// SetTimeoutMsFromDeprecatedTimeoutNs turns, in place, a 2015 timeout
// (nanoseconds) into timeout_ms where timeout_ms is unset, rounding up so that
// a positive timeout stays positive, and clears the nanoseconds so that one
// value is stored.
func (a *Action) SetTimeoutMsFromDeprecatedTimeoutNs() {
	a.eachTimeout(func(t *TimeoutAction) {
		if ns := t.GetDeprecatedTimeoutNs(); t.GetTimeoutMs() == 0 && ns > 0 {
			t.TimeoutMs = (ns + int64(time.Millisecond) - 1) / int64(time.Millisecond)
		}
		t.DeprecatedTimeoutNs = 0
	})
}

// eachTimeout calls f on every timeout action in the tree under a.
func (a *Action) eachTimeout(f func(*TimeoutAction)) {
	if a == nil {
		return
	}
	if t := a.GetTimeoutAction(); t != nil {
		f(t)
	}
	for _, inner := range []*Action{a.GetTimeoutAction().GetAction(), a.GetTryAction().GetAction(), a.GetEmitProgressAction().GetAction()} {
		inner.eachTimeout(f)
	}
	for _, list := range [][]*Action{a.GetSerialAction().GetActions(), a.GetParallelAction().GetActions(), a.GetCodependentAction().GetActions()} {
		for _, inner := range list {
			inner.eachTimeout(f)
		}
	}
}
