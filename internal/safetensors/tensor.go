package safetensors

import (
	"fmt"
	"math"
	"slices"
)

// Tensor is one named tensor of a checkpoint. Its data is stored row-major
// (C order) and little-endian.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	data  []byte
}

// NewTensor returns a tensor over data, which must hold exactly
// product(shape) elements of dtype. The tensor keeps data without copying it.
func NewTensor(name string, dtype DType, shape []int, data []byte) (*Tensor, error) {
	if !dtype.Valid() {
		return nil, fmt.Errorf("tensor %q: unknown dtype %q", name, dtype)
	}
	n, err := numElements(shape)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	if want, ok := mulNoOverflow(n, dtype.Size()); !ok || want != len(data) {
		return nil, fmt.Errorf("tensor %q: %d bytes of data, want %d elements × %d bytes (%s, shape %v)",
			name, len(data), n, dtype.Size(), dtype, shape)
	}
	return &Tensor{Name: name, DType: dtype, Shape: slices.Clone(shape), data: data}, nil
}

// NumElements returns the number of elements, the product of the shape
// (1 for a scalar).
func (t *Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Bytes returns the raw little-endian data. The slice aliases the tensor's
// storage (and, for a parsed file, the file's buffer): do not modify it.
func (t *Tensor) Bytes() []byte { return t.data }

// Float32 returns a copy of the data as float32. F16, BF16 and FP8 values are
// up-cast exactly; F64 values are rounded to the nearest float32. Integer
// dtypes are an error.
func (t *Tensor) Float32() ([]float32, error) {
	if !t.DType.IsFloat() {
		return nil, fmt.Errorf("tensor %q: dtype %s is not a floating-point type", t.Name, t.DType)
	}
	if err := t.checkLen(); err != nil {
		return nil, err
	}
	out := make([]float32, t.NumElements())
	if err := toFloat32(t.DType, t.data, out); err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	return out, nil
}

// Int64 returns a copy of the data as int64. It accepts the integer dtypes
// and BOOL (as 0 or 1); floating-point dtypes are an error, as is a U64 value
// above math.MaxInt64.
func (t *Tensor) Int64() ([]int64, error) {
	if !t.DType.IsInt() {
		return nil, fmt.Errorf("tensor %q: dtype %s is not an integer type", t.Name, t.DType)
	}
	if err := t.checkLen(); err != nil {
		return nil, err
	}
	out := make([]int64, t.NumElements())
	if err := toInt64(t.DType, t.data, out); err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	return out, nil
}

// checkLen guards against a Tensor built by hand with inconsistent fields.
func (t *Tensor) checkLen() error {
	n, err := numElements(t.Shape)
	if err != nil {
		return fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	if want, ok := mulNoOverflow(n, t.DType.Size()); !ok || want != len(t.data) {
		return fmt.Errorf("tensor %q: %d bytes of data do not match dtype %s and shape %v", t.Name, len(t.data), t.DType, t.Shape)
	}
	return nil
}

// numElements returns the product of shape, rejecting negative dimensions and
// overflow.
func numElements(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		var ok bool
		if n, ok = mulNoOverflow(n, d); !ok {
			return 0, fmt.Errorf("shape %v has too many elements", shape)
		}
	}
	return n, nil
}

// mulNoOverflow returns a×b for non-negative a and b, and false if the
// product does not fit in an int.
func mulNoOverflow(a, b int) (int, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	if a > math.MaxInt/b {
		return 0, false
	}
	return a * b, true
}
