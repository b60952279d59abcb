// Package backends opens the compute backend an Engine runs its graphs on:
// the pure-Go backend (default, no cgo), ONNX Runtime (build tag `onnx`) and
// XLA/PJRT for CUDA GPUs or CPUs (build tag `xla`). Which one is used is
// always the caller's explicit choice: nothing is downloaded and there is no
// silent fallback from one backend to another.
package backends

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/gomlx/compute"
)

// Kind names a backend.
type Kind string

const (
	Go      Kind = "go"       // pure Go, always available
	ONNX    Kind = "onnx"     // ONNX Runtime on the CPU; needs the `onnx` build tag and the ORT shared library
	XLACUDA Kind = "xla:cuda" // XLA/PJRT on an NVIDIA GPU; needs the `xla` build tag and a CUDA PJRT plugin
	XLACPU  Kind = "xla:cpu"  // XLA/PJRT on the CPU; needs the `xla` build tag and a CPU PJRT plugin
)

// Kinds lists every backend kind sie knows.
var Kinds = []Kind{Go, ONNX, XLACUDA, XLACPU}

// Environment variables that supply defaults when the Config leaves a field zero.
const (
	EnvBackend     = "SIE_BACKEND"                     // a Kind
	EnvONNXLibrary = "ONNXRUNTIME_SHARED_LIBRARY_PATH" // path of libonnxruntime.so
	EnvXLAPlugin   = "SIE_XLA_PLUGIN"                  // absolute path of a PJRT plugin
)

// ErrUnavailable reports a backend that this build or this machine cannot provide.
var ErrUnavailable = errors.New("backend unavailable")

// Config selects and tunes a backend. The zero value means the pure-Go
// backend, unless $SIE_BACKEND names another.
type Config struct {
	// Kind is the backend; zero means $SIE_BACKEND, else Go.
	Kind Kind
	// ONNXLibrary is the ONNX Runtime shared library for the ONNX kind; zero
	// means $ONNXRUNTIME_SHARED_LIBRARY_PATH, else the system's library search.
	ONNXLibrary string
	// XLAPlugin is the PJRT plugin for the XLA kinds: an absolute path to a
	// .so file, or a plugin name found on PJRT_PLUGIN_LIBRARY_PATH. Zero means
	// $SIE_XLA_PLUGIN, else the plugin named by the kind ("cuda" or "cpu").
	XLAPlugin string
	// XLAPreallocate lets the CUDA plugin reserve most of the GPU up front.
	// Off by default: the Engine keeps its own memory budget.
	XLAPreallocate bool
}

// Resolve fills the zero fields of c from the environment and checks the kind.
func (c Config) Resolve() (Config, error) {
	if c.Kind == "" {
		c.Kind = Kind(strings.TrimSpace(os.Getenv(EnvBackend)))
	}
	if c.Kind == "" {
		c.Kind = Go
	}
	if c.ONNXLibrary == "" {
		c.ONNXLibrary = os.Getenv(EnvONNXLibrary)
	}
	if c.XLAPlugin == "" {
		c.XLAPlugin = os.Getenv(EnvXLAPlugin)
	}
	for _, k := range Kinds {
		if c.Kind == k {
			return c, nil
		}
	}
	return c, fmt.Errorf("unknown backend %q (known: go, onnx, xla:cuda, xla:cpu)", c.Kind)
}

// Open resolves c and starts the backend it names. The caller owns the
// returned backend and must Finalize it.
func Open(c Config) (compute.Backend, Config, error) {
	c, err := c.Resolve()
	if err != nil {
		return nil, c, err
	}
	var b compute.Backend
	switch c.Kind {
	case Go:
		b, err = openGo()
	case ONNX:
		b, err = openONNX(c)
	case XLACUDA, XLACPU:
		b, err = openXLA(c)
	}
	if err != nil {
		return nil, c, fmt.Errorf("backend %s: %w", c.Kind, err)
	}
	return b, c, nil
}
