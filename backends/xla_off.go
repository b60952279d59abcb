//go:build !xla

package backends

import (
	"fmt"

	"github.com/gomlx/compute"
)

// XLAAvailable reports whether this build includes the XLA/PJRT backend.
const XLAAvailable = false

func openXLA(Config) (compute.Backend, error) {
	return nil, fmt.Errorf("%w: this binary was built without the xla build tag (go build -tags xla, needs cgo)", ErrUnavailable)
}
