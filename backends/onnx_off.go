//go:build !onnx

package backends

import (
	"fmt"

	"github.com/gomlx/compute"
)

// ONNXAvailable reports whether this build includes the ONNX Runtime backend.
const ONNXAvailable = false

func openONNX(Config) (compute.Backend, error) {
	return nil, fmt.Errorf("%w: this binary was built without the onnx build tag (go build -tags onnx)", ErrUnavailable)
}
