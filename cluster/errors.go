package cluster

import (
	"errors"
	"time"

	"github.com/sie-project/sie"
)

// Errors of the cluster transport. Each says how long a caller should wait
// before trying again (RetryAfter), which an HTTP front end turns into
// 503 or 504 with a Retry-After header.
var (
	// ErrProvisioning: no worker serves the lane now (none started yet,
	// scaled to zero, or all gone). Retry after a minute, when an
	// autoscaler has had time to start one.
	ErrProvisioning = errors.New("sie/cluster: no worker serves the lane")

	// ErrBackpressure: the pool's stream is full and refused the work. It
	// matches sie.ErrOverloaded too.
	ErrBackpressure = errors.New("sie/cluster: the work queue is full")

	// ErrTimeout: no complete answer before the call's deadline (the
	// Client's Timeout or the context's). It matches
	// context.DeadlineExceeded when the context expired.
	ErrTimeout = errors.New("sie/cluster: no answer in time")

	// ErrDeadLetter: an item of the call reached its delivery limit (every
	// worker that took it failed or died) and was moved to the dead-letter
	// stream.
	ErrDeadLetter = errors.New("sie/cluster: item moved to the dead-letter stream")

	// ErrUnavailable: NATS could not be used (connection closed, JetStream
	// not answering).
	ErrUnavailable = errors.New("sie/cluster: NATS unavailable")
)

// RetryAfter says whether err is transient and how long to wait before
// retrying: a minute for ErrProvisioning, five seconds for backpressure,
// timeouts, overloaded or loading models, zero and false otherwise.
func RetryAfter(err error) (time.Duration, bool) {
	switch {
	case errors.Is(err, ErrProvisioning):
		return 60 * time.Second, true
	case errors.Is(err, ErrBackpressure), errors.Is(err, ErrTimeout), errors.Is(err, ErrUnavailable),
		errors.Is(err, sie.ErrOverloaded), errors.Is(err, sie.ErrResourceExhausted):
		return 5 * time.Second, true
	}
	return 0, false
}

// kindError is an error that is also one or two sentinel kinds, so that
// errors.Is matches each of them while the message stays the one given.
type kindError struct {
	msg   string
	kinds []error
}

func (e *kindError) Error() string   { return e.msg }
func (e *kindError) Unwrap() []error { return e.kinds }

// Codes for sie's sentinel errors on the wire, in the order checked.
var errorCodes = []struct {
	code string
	err  error
}{
	{"dead_letter", ErrDeadLetter},
	{"invalid_input", sie.ErrInvalidInput},
	{"model_not_found", sie.ErrModelNotFound},
	{"unsupported_architecture", sie.ErrUnsupportedArchitecture},
	{"invalid_model", sie.ErrInvalidModel},
	{"overloaded", sie.ErrOverloaded},
	{"resource_exhausted", sie.ErrResourceExhausted},
	{"closed", sie.ErrClosed},
	{"backend", sie.ErrBackend},
}

func errorCode(err error) string {
	for _, c := range errorCodes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return "internal"
}

func errorForCode(code string) error {
	for _, c := range errorCodes {
		if c.code == code {
			return c.err
		}
	}
	return nil
}
