package sie

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error an Engine returns about a model is a
// *ModelError wrapping one of these (or a lower-level cause); test with
// errors.Is.
var (
	ErrModelNotFound           = errors.New("sie: model not found")
	ErrUnsupportedArchitecture = errors.New("sie: unsupported architecture")
	ErrInvalidModel            = errors.New("sie: invalid model files")
	ErrInvalidInput            = errors.New("sie: invalid input")
	ErrOverloaded              = errors.New("sie: overloaded")
	ErrResourceExhausted       = errors.New("sie: resource exhausted")
	ErrClosed                  = errors.New("sie: engine closed")
	ErrBackend                 = errors.New("sie: backend failure")
)

// ModelError reports a failed operation on one model.
type ModelError struct {
	Model string // the name the caller used
	Op    string // "load", "embed", …
	Err   error
}

func (e *ModelError) Error() string {
	return fmt.Sprintf("sie: %s %q: %v", e.Op, e.Model, e.Err)
}

func (e *ModelError) Unwrap() error { return e.Err }

func modelErr(model, op string, err error) error {
	if err == nil {
		return nil
	}
	var me *ModelError
	if errors.As(err, &me) && me.Model == model {
		return err
	}
	return &ModelError{Model: model, Op: op, Err: err}
}

// joinKind wraps err so that it matches both kind and err with errors.Is.
func joinKind(kind, err error) error {
	return fmt.Errorf("%w: %w", kind, err)
}
