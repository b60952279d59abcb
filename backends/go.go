package backends

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
)

// openGo starts the pure-Go backend. Built with GOEXPERIMENT=simd it uses
// AVX2/AVX-512 matmul kernels.
func openGo() (compute.Backend, error) {
	return gobackend.New("")
}
