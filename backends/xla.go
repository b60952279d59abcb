//go:build xla

package backends

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/go-xla/compute/xla"
	"github.com/gomlx/go-xla/pjrt"
)

// XLAAvailable reports whether this build includes the XLA/PJRT backend.
const XLAAvailable = true

// openXLA starts XLA with the plugin named by the config or the kind. The
// plugin is never downloaded: a missing plugin is an error.
func openXLA(c Config) (compute.Backend, error) {
	xla.EnableAutoInstall(false)
	plugin := c.XLAPlugin
	if plugin == "" {
		plugin = "cpu"
		if c.Kind == XLACUDA {
			plugin = "cuda"
		}
	}
	options := pjrt.NamedValuesMap{}
	config := plugin
	if c.Kind == XLACUDA && !c.XLAPreallocate {
		config += ",nopreallocate"
	}
	b, err := xla.NewWithOptions(config, options)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return b, nil
}
