package garden

import (
	"errors"
	"net/http"
)

// The error types of the wire format (spec §2.1).
const (
	UnrecoverableErrorType      = "UnrecoverableError"
	ServiceUnavailableErrorType = "ServiceUnavailableError"
	ContainerNotFoundErrorType  = "ContainerNotFoundError"
	ProcessNotFoundErrorType    = "ProcessNotFoundError"
	ExecutableNotFoundErrorType = "ExecutableNotFoundError"
)

// ContainerNotFoundError is the answer for an unknown handle (404).
type ContainerNotFoundError struct{ Handle string }

func (e ContainerNotFoundError) Error() string { return "unknown handle: " + e.Handle }

// ProcessNotFoundError is the answer for an unknown process id (404).
type ProcessNotFoundError struct{ ProcessID string }

func (e ProcessNotFoundError) Error() string { return "unknown process: " + e.ProcessID }

// ExecutableNotFoundError says a process's path is not in the container.
type ExecutableNotFoundError struct{ Message string }

func (e ExecutableNotFoundError) Error() string { return e.Message }

// ServiceUnavailableError says the backend cannot serve now.
type ServiceUnavailableError struct{ Cause string }

func (e ServiceUnavailableError) Error() string { return e.Cause }

// UnrecoverableError says the server is broken beyond this request.
type UnrecoverableError struct{ Symptom string }

func (e UnrecoverableError) Error() string { return e.Symptom }

// ErrAlreadyBeingDestroyed is the second of two concurrent destroys.
var ErrAlreadyBeingDestroyed = errors.New("container already being destroyed")

// Error is the error JSON of the wire (spec §2.1). It round-trips the typed
// errors above: NewError on the server, Err on the client.
type Error struct {
	Type      string `json:"Type"`
	Message   string `json:"Message"`
	Handle    string `json:"Handle"`
	ProcessID string `json:"ProcessID"`
	Binary    string `json:"Binary"`
}

// NewError converts err to its wire form (nil for nil).
func NewError(err error) *Error {
	if err == nil {
		return nil
	}
	e := &Error{Message: err.Error()}
	var (
		cnf ContainerNotFoundError
		pnf ProcessNotFoundError
		enf ExecutableNotFoundError
		su  ServiceUnavailableError
		ur  UnrecoverableError
	)
	switch {
	case errors.As(err, &cnf):
		e.Type, e.Handle = ContainerNotFoundErrorType, cnf.Handle
	case errors.As(err, &pnf):
		e.Type, e.ProcessID = ProcessNotFoundErrorType, pnf.ProcessID
	case errors.As(err, &enf):
		e.Type = ExecutableNotFoundErrorType
	case errors.As(err, &su):
		e.Type = ServiceUnavailableErrorType
	case errors.As(err, &ur):
		e.Type = UnrecoverableErrorType
	}
	return e
}

// StatusCode is the HTTP status this error is served with.
func (e *Error) StatusCode() int {
	switch e.Type {
	case ContainerNotFoundErrorType, ProcessNotFoundErrorType:
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

// Err converts the wire form back to a typed error.
func (e *Error) Err() error {
	if e == nil {
		return nil
	}
	switch e.Type {
	case ContainerNotFoundErrorType:
		return ContainerNotFoundError{Handle: e.Handle}
	case ProcessNotFoundErrorType:
		return ProcessNotFoundError{ProcessID: e.ProcessID}
	case ExecutableNotFoundErrorType:
		return ExecutableNotFoundError{Message: e.Message}
	case ServiceUnavailableErrorType:
		return ServiceUnavailableError{Cause: e.Message}
	case UnrecoverableErrorType:
		return UnrecoverableError{Symptom: e.Message}
	}
	return errors.New(e.Message)
}

func (e *Error) Error() string { return e.Message }
