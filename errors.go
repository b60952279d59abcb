package sie

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
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

// Error reads "sie: OP "MODEL": CAUSE". The sentinels carry a "sie:" prefix
// so that they read well alone; inside a ModelError the prefix is said once,
// in front.
func (e *ModelError) Error() string {
	return fmt.Sprintf("sie: %s %q: %s", e.Op, e.Model, strings.TrimPrefix(e.Err.Error(), "sie: "))
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
	return &kindError{kind: kind, err: err}
}

// kindError is a cause classified by one of the sentinels. Its text names the
// kind once: a cause that already starts with the same words (an
// "unsupported architecture" from package arch) is not prefixed again.
type kindError struct {
	kind, err error
}

func (e *kindError) Error() string {
	kind, cause := e.kind.Error(), e.err.Error()
	if strings.HasPrefix(cause, strings.TrimPrefix(kind, "sie: ")) {
		return "sie: " + strings.TrimPrefix(cause, "sie: ")
	}
	return kind + ": " + cause
}

func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

// inDir shows the files of a model directory by their names inside it: the
// ModelError around a load error already names the model, so full paths
// would say where it lives twice.
type inDir struct {
	dir string
	err error
}

func (e *inDir) Error() string {
	return strings.ReplaceAll(e.err.Error(), e.dir+string(filepath.Separator), "")
}

func (e *inDir) Unwrap() error { return e.err }
