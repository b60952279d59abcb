//go:build race

package backends

import (
	"fmt"
	"os"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
)

// Under the race detector (go test -race) the Go toolchain also turns on
// checkptr, which rejects the pointer arithmetic of the pure-Go backend's
// matmul kernels ("pointer arithmetic result points to invalid allocation").
// So that a service importing sie can run its own tests with -race and no
// extra flags, race builds route every matmul around those kernels: DotGeneral
// becomes broadcast, multiply and sum (ops checkptr accepts), and the fused
// ops that would call the kernels report "not implemented", which makes GoMLX
// use their decomposed forms. Results are the same up to float32 summation
// order; only speed suffers (several times slower matmuls).
//
// A test binary built with checkptr off for GoMLX
// (-race -gcflags=github.com/gomlx/compute/...=-d=checkptr=0) can keep the
// fast kernels by setting EnvRaceKernels=1, as sie's own CI does.

// EnvRaceKernels set to 1 keeps the matmul kernels in race builds.
const EnvRaceKernels = "SIE_RACE_KERNELS"

// raceSafe wraps the pure-Go backend for race builds.
func raceSafe(b compute.Backend) compute.Backend {
	if os.Getenv(EnvRaceKernels) == "1" {
		return b
	}
	return raceBackend{b}
}

type raceBackend struct{ compute.Backend }

func (b raceBackend) Builder(name string) compute.Builder {
	return raceBuilder{b.Backend.Builder(name)}
}

type raceBuilder struct{ compute.Builder }

func (b raceBuilder) Main() compute.Function { return raceFunction{b.Builder.Main()} }

func (b raceBuilder) NewFunction(name string) (compute.Function, error) {
	f, err := b.Builder.NewFunction(name)
	if err != nil {
		return nil, err
	}
	return raceFunction{f}, nil
}

type raceFunction struct{ compute.Function }

func (f raceFunction) FusedDense(x, weight, bias compute.Value, options compute.DenseConfig) (compute.Value, error) {
	return nil, compute.ErrNotImplemented
}

func (f raceFunction) FusedQuantizedDense(x, weights, bias compute.Value, q *compute.Quantization, act compute.ActivationType) (compute.Value, error) {
	return nil, compute.ErrNotImplemented
}

func (f raceFunction) FusedScaledDotProductAttention(query, key, value compute.Value, layout compute.AttentionAxesLayout,
	options *compute.ScaledDotProductAttentionConfig) (compute.Value, []compute.Value, error) {
	return nil, nil, compute.ErrNotImplemented
}

func (f raceFunction) FusedAttentionQKVProjection(x, wQKV, biasQ, biasK, biasV compute.Value, queryDim, keyValueDim int) (
	compute.Value, compute.Value, compute.Value, error) {
	return nil, nil, nil, compute.ErrNotImplemented
}

// raceChunkElements bounds the broadcast product of one DotGeneral chunk.
const raceChunkElements = 1 << 22

// DotGeneral computes the contraction as Σ_k lhs[b,m,k]·rhs[b,n,k] with
// elementwise ops, in chunks of lhs rows so the broadcast product stays small.
func (f raceFunction) DotGeneral(lhs compute.Value, lhsContracting, lhsBatch []int,
	rhs compute.Value, rhsContracting, rhsBatch []int, config compute.DotGeneralConfig) (compute.Value, error) {
	b := f.Builder()
	ls, err := b.OpShape(lhs)
	if err != nil {
		return nil, err
	}
	rs, err := b.OpShape(rhs)
	if err != nil {
		return nil, err
	}
	if ls.IsDynamic() || rs.IsDynamic() || ls.DType != rs.DType {
		return f.Function.DotGeneral(lhs, lhsContracting, lhsBatch, rhs, rhsContracting, rhsBatch, config)
	}
	dtype := config.AccumulatorDType
	if dtype == dtypes.InvalidDType {
		dtype = ls.DType
	}
	out := config.OutputDType
	if out == dtypes.InvalidDType {
		out = dtype
	}
	// [batch..., free..., contracting...] flattened to [B, M, K] and [B, N, K].
	lhs3, lhsFree, bsz, m, k, err := f.normalize(lhs, ls, lhsContracting, lhsBatch, dtype)
	if err != nil {
		return nil, err
	}
	rhs3, rhsFree, _, n, _, err := f.normalize(rhs, rs, rhsContracting, rhsBatch, dtype)
	if err != nil {
		return nil, err
	}
	rows := max(1, min(m, raceChunkElements/max(1, bsz*n*k)))
	var parts []compute.Value
	for lo := 0; lo < m; lo += rows {
		hi := min(m, lo+rows)
		l, err := f.Slice(lhs3, []int{0, lo, 0}, []int{bsz, hi, k}, nil)
		if err != nil {
			return nil, err
		}
		full := shapes.Make(dtype, bsz, hi-lo, n, k)
		lb, err := f.BroadcastInDim(l, full, []int{0, 1, 3})
		if err != nil {
			return nil, err
		}
		rb, err := f.BroadcastInDim(rhs3, full, []int{0, 2, 3})
		if err != nil {
			return nil, err
		}
		p, err := f.Mul(lb, rb)
		if err != nil {
			return nil, err
		}
		s, err := f.ReduceSum(p, 3)
		if err != nil {
			return nil, err
		}
		parts = append(parts, s)
	}
	res := parts[0]
	if len(parts) > 1 {
		if res, err = f.Concatenate(1, parts...); err != nil {
			return nil, err
		}
	}
	dims := make([]int, 0, len(lhsBatch)+len(lhsFree)+len(rhsFree))
	for _, a := range lhsBatch {
		dims = append(dims, ls.Dimensions[a])
	}
	for _, a := range lhsFree {
		dims = append(dims, ls.Dimensions[a])
	}
	for _, a := range rhsFree {
		dims = append(dims, rs.Dimensions[a])
	}
	if res, err = f.Reshape(res, dims...); err != nil {
		return nil, err
	}
	if out != dtype {
		return f.ConvertDType(res, out)
	}
	return res, nil
}

// normalize transposes x to [batch..., free..., contracting...], converts it
// to dtype and reshapes it to [B, F, K]; it returns the free axes too.
func (f raceFunction) normalize(x compute.Value, s shapes.Shape, contracting, batch []int, dtype dtypes.DType) (
	v compute.Value, free []int, b, fr, k int, err error) {
	used := map[int]bool{}
	for _, a := range append(append([]int{}, batch...), contracting...) {
		if a < 0 || a >= s.Rank() || used[a] {
			return nil, nil, 0, 0, 0, fmt.Errorf("DotGeneral: bad axis %d for shape %s", a, s)
		}
		used[a] = true
	}
	for a := range s.Rank() {
		if !used[a] {
			free = append(free, a)
		}
	}
	perm := append(append(append([]int{}, batch...), free...), contracting...)
	b, fr, k = 1, 1, 1
	for _, a := range batch {
		b *= s.Dimensions[a]
	}
	for _, a := range free {
		fr *= s.Dimensions[a]
	}
	for _, a := range contracting {
		k *= s.Dimensions[a]
	}
	if v, err = f.Transpose(x, perm...); err != nil {
		return
	}
	if s.DType != dtype {
		if v, err = f.ConvertDType(v, dtype); err != nil {
			return
		}
	}
	v, err = f.Reshape(v, b, fr, k)
	return
}
