package sie

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/compute/dtypes/float16"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// Precision is the floating-point format a model's weights are kept in on
// the device. The zero value is float32, the default on every backend.
//
// BFloat16 and Float16 halve the weights' memory (and the bytes a model
// counts against MemoryBudget). The graphs widen each weight to float32 where
// it is used and compute in float32, so on CPU backends the vectors stay
// within a cosine of 0.999 of float32 (tested on every fixture) while speed
// is unchanged or slightly lower: the gain there is memory. On GPUs (XLA) the
// widening fuses into the kernels that read the weights. The onnx backend
// has no half-precision buffers and takes float32 only.
type Precision int

const (
	Float32Weights  Precision = iota // float32 (default)
	BFloat16Weights                  // bfloat16: float32's range, 8 bits of mantissa
	Float16Weights                   // IEEE float16: more mantissa, range ±65504
)

// String names the precision as the command line and the HTTP API spell it.
func (p Precision) String() string {
	switch p {
	case Float32Weights:
		return "float32"
	case BFloat16Weights:
		return "bfloat16"
	case Float16Weights:
		return "float16"
	}
	return fmt.Sprintf("Precision(%d)", int(p))
}

// ParsePrecision reads "float32" (or ""), "bfloat16" (or "bf16"), "float16" (or "fp16").
func ParsePrecision(s string) (Precision, error) {
	switch s {
	case "", "float32", "fp32", "f32":
		return Float32Weights, nil
	case "bfloat16", "bf16":
		return BFloat16Weights, nil
	case "float16", "fp16", "f16", "half":
		return Float16Weights, nil
	}
	return 0, fmt.Errorf("%w: unknown precision %q (want float32, bfloat16 or float16)", ErrInvalidInput, s)
}

func (p Precision) valid() bool { return p >= Float32Weights && p <= Float16Weights }

// bytesPerWeight is the device size of one weight element.
func (p Precision) bytesPerWeight() int64 {
	if p == Float32Weights {
		return 4
	}
	return 2
}

// tensor puts float32 data into a host tensor of this precision.
func (p Precision) tensor(data []float32, shape []int) *tensors.Tensor {
	switch p {
	case BFloat16Weights:
		out := make([]bfloat16.BFloat16, len(data))
		for i, v := range data {
			out[i] = bfloat16.FromFloat32(v)
		}
		return tensors.FromFlatDataAndDimensions(out, shape...)
	case Float16Weights:
		out := make([]float16.Float16, len(data))
		for i, v := range data {
			out[i] = float16.FromFloat32(v)
		}
		return tensors.FromFlatDataAndDimensions(out, shape...)
	}
	return tensors.FromFlatDataAndDimensions(data, shape...)
}

// widen turns the weight nodes back into float32 for the float32 graph.
func (p Precision) widen(weights []*graph.Node) []*graph.Node {
	if p == Float32Weights {
		return weights
	}
	out := make([]*graph.Node, len(weights))
	for i, w := range weights {
		out[i] = graph.ConvertDType(w, dtypes.Float32)
	}
	return out
}
