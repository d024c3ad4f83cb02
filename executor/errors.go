package executor

import (
	"errors"
	"net/http"
)

// ErrorHeader carries the error's name on every error response.
const ErrorHeader = "X-Executor-Error"

// Error is an executor API error: a name, an HTTP status and a message
// (spec cell §3.2).
type Error struct {
	Name    string
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Message }

// The executor's errors.
var (
	ErrContainerGuidNotAvailable      = &Error{"ContainerGuidNotAvailable", http.StatusBadRequest, "container guid not available"}
	ErrContainerNotCompleted          = &Error{"ContainerNotCompleted", http.StatusBadRequest, "container must be stopped before it can be deleted"}
	ErrInsufficientResourcesAvailable = &Error{"InsufficientResourcesAvailable", http.StatusServiceUnavailable, "insufficient resources available"}
	ErrContainerNotFound              = &Error{"ContainerNotFound", http.StatusNotFound, "container not found"}
	ErrStepsInvalid                   = &Error{"StepsInvalid", http.StatusBadRequest, "steps invalid"}
	ErrLimitsInvalid                  = &Error{"LimitsInvalid", http.StatusBadRequest, "container limits invalid"}
	ErrGuidNotSpecified               = &Error{"GuidNotSpecified", http.StatusBadRequest, "container guid not specified"}
	ErrInvalidTransition              = &Error{"InvalidStateTransition", http.StatusConflict, "container cannot transition to given state"}
	ErrFailureToCheckSpace            = &Error{"ErrFailureToCheckSpace", http.StatusInternalServerError, "failed to check available space"}
	ErrInvalidSecurityGroup           = &Error{"ErrInvalidSecurityGroup", http.StatusBadRequest, "security group has invalid values"}
)

var errorsByName = map[string]*Error{}

func init() {
	for _, e := range []*Error{ErrContainerGuidNotAvailable, ErrContainerNotCompleted, ErrInsufficientResourcesAvailable,
		ErrContainerNotFound, ErrStepsInvalid, ErrLimitsInvalid, ErrGuidNotSpecified, ErrInvalidTransition,
		ErrFailureToCheckSpace, ErrInvalidSecurityGroup} {
		errorsByName[e.Name] = e
	}
}

// ErrorByName is the client's side of X-Executor-Error: the named error, or
// nil for an unknown name.
func ErrorByName(name string) *Error { return errorsByName[name] }

// StatusOf is the HTTP status an error is served with (500 for anything
// that is not an executor Error).
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return http.StatusInternalServerError
}
