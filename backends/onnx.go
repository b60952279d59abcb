//go:build onnx

package backends

import (
	"fmt"
	"os"

	"github.com/gomlx/compute"
	onnxbackend "github.com/gomlx/compute-onnx"
)

// ONNXAvailable reports whether this build includes the ONNX Runtime backend.
const ONNXAvailable = true

// openONNX starts ONNX Runtime on the CPU. The library path travels through
// the environment variable the ORT loader reads.
func openONNX(c Config) (compute.Backend, error) {
	// The library must be named: left to itself the ORT loader would try to
	// download one. ONNX Runtime is initialised once per process, so the first
	// library opened is the one every later Engine uses.
	if c.ONNXLibrary == "" {
		return nil, fmt.Errorf("%w: no ONNX Runtime library given (set %s or the backend's ONNXLibrary option)", ErrUnavailable, EnvONNXLibrary)
	}
	if _, err := os.Stat(c.ONNXLibrary); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if err := os.Setenv(EnvONNXLibrary, c.ONNXLibrary); err != nil {
		return nil, err
	}
	return onnxbackend.New("cpu")
}
