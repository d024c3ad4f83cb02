package etcddb

import (
	"fmt"

	"diego/models"
)

// storeError is a failure talking to etcd: an UnknownError carrying the
// cause's text, which still unwraps to the cause (so errors.Is finds
// context.Canceled and friends).
type storeError struct {
	modelErr *models.Error
	cause    error
}

func (e *storeError) Error() string   { return e.modelErr.Error() }
func (e *storeError) Unwrap() []error { return []error{e.modelErr, e.cause} }

// etcdError translates an error from the etcd client.
func etcdError(op, key string, err error) error {
	return &storeError{
		modelErr: models.NewError(models.Error_UnknownError, fmt.Sprintf("etcd %s %s: %s", op, key, err)),
		cause:    err,
	}
}

// keyError names the key a canonical error is about, keeping the type.
func keyError(key string, err *models.Error) error {
	return fmt.Errorf("%s: %w", key, err)
}
