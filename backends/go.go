package backends

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
)

// openGo starts the pure-Go backend. Built with GOEXPERIMENT=simd it uses
// AVX2/AVX-512 matmul kernels. Race builds route matmuls around the kernels
// that checkptr rejects (see race.go).
func openGo() (compute.Backend, error) {
	b, err := gobackend.New("")
	if err != nil {
		return nil, err
	}
	return raceSafe(b), nil
}
