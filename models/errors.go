package models

import (
	"errors"
	"fmt"
)

// Error is both the wire error of every BBS response and a Go error, so the
// BBS, its client and every daemon pass one value from etcd to the caller.

// Error returns the message, as Diego's error does.
func (e *Error) Error() string {
	return e.GetMessage()
}

// Is makes errors.Is match on the error type alone: two errors of one type
// mean the same outcome whatever their text.
func (e *Error) Is(target error) bool {
	var t *Error
	if !errors.As(target, &t) {
		return false
	}
	return e.GetType() == t.GetType()
}

// Equal reports whether two errors have the same type (Diego's comparison).
func (e *Error) Equal(other error) bool {
	return e.Is(other)
}

// NewError builds an error of type t.
func NewError(t Error_Type, msg string) *Error {
	return &Error{Type: t, Message: msg}
}

// The canonical errors and their messages (spec core §1.10). They are shared
// values: never modify one; build a new error with NewError instead.
var (
	ErrUnknownError = NewError(Error_UnknownError, "the request failed for an unknown reason")

	ErrBadRequest           = NewError(Error_InvalidRequest, "the request received is invalid")
	ErrDeserialize          = NewError(Error_Deserialize, "could not deserialize record")
	ErrFailedToOpenEnvelope = NewError(Error_FailedToOpenEnvelope, "could not open envelope")

	ErrResourceNotFound = NewError(Error_ResourceNotFound, "the requested resource could not be found")
	ErrResourceExists   = NewError(Error_ResourceExists, "the requested resource already exists")
	ErrResourceConflict = NewError(Error_ResourceConflict, "the requested resource is in a conflicting state")

	ErrActualLRPCannotBeClaimed   = NewError(Error_ActualLRPCannotBeClaimed, "cannot claim actual LRP")
	ErrActualLRPCannotBeStarted   = NewError(Error_ActualLRPCannotBeStarted, "cannot start actual LRP")
	ErrActualLRPCannotBeCrashed   = NewError(Error_ActualLRPCannotBeCrashed, "cannot crash actual LRP")
	ErrActualLRPCannotBeFailed    = NewError(Error_ActualLRPCannotBeFailed, "cannot fail actual LRP")
	ErrActualLRPCannotBeRemoved   = NewError(Error_ActualLRPCannotBeRemoved, "cannot remove actual LRP")
	ErrActualLRPCannotBeUnclaimed = NewError(Error_ActualLRPCannotBeUnclaimed, "cannot unclaim actual LRP")

	ErrGUIDGeneration = NewError(Error_GUIDGeneration, "cannot generate random guid")
	ErrLockCollision  = NewError(Error_LockCollision, "lock already exists")
)

// NewTaskTransitionError reports an illegal task state change, naming the
// states as Diego does ("Cannot transition from Running to Running").
func NewTaskTransitionError(from, to Task_State) *Error {
	return NewError(Error_InvalidStateTransition, fmt.Sprintf("Cannot transition from %s to %s", from, to))
}

// NewRunningOnDifferentCellError reports a task write from a cell that does
// not own the task.
func NewRunningOnDifferentCellError(expected, actual string) *Error {
	return NewError(Error_RunningOnDifferentCell, fmt.Sprintf("Running on cell %s not %s", actual, expected))
}

// NewUnrecoverableError reports a failure after which the server must exit.
func NewUnrecoverableError(err error) *Error {
	return NewError(Error_Unrecoverable, fmt.Sprintf("Unrecoverable Error: %s", err))
}

// ConvertError turns any error into a wire error: a *Error (possibly wrapped)
// is returned as it is, anything else becomes UnknownError with its text.
func ConvertError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return NewError(Error_UnknownError, err.Error())
}
