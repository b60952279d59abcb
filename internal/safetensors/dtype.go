// Package safetensors reads (and, for tests and tools, writes) checkpoints
// in the Hugging Face safetensors format.
//
// A safetensors file is an 8-byte little-endian header length N, N bytes of
// JSON describing every tensor (dtype, shape and byte range), then the raw
// little-endian tensor data. See https://github.com/huggingface/safetensors.
package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
)

// DType is the element type of a tensor, spelled as in the safetensors header.
type DType string

// The element types this package understands.
const (
	F64    DType = "F64"
	F32    DType = "F32"
	F16    DType = "F16"
	BF16   DType = "BF16"
	F8E5M2 DType = "F8_E5M2"
	F8E4M3 DType = "F8_E4M3"
	I64    DType = "I64"
	I32    DType = "I32"
	I16    DType = "I16"
	I8     DType = "I8"
	U64    DType = "U64"
	U32    DType = "U32"
	U16    DType = "U16"
	U8     DType = "U8"
	Bool   DType = "BOOL"
)

var dtypeSizes = map[DType]int{
	F64: 8, F32: 4, F16: 2, BF16: 2, F8E5M2: 1, F8E4M3: 1,
	I64: 8, I32: 4, I16: 2, I8: 1,
	U64: 8, U32: 4, U16: 2, U8: 1,
	Bool: 1,
}

// Size returns the size of one element in bytes, or 0 for an unknown dtype.
func (d DType) Size() int { return dtypeSizes[d] }

// Valid reports whether d is a dtype this package understands.
func (d DType) Valid() bool { return d.Size() > 0 }

// IsFloat reports whether d is a floating-point dtype.
func (d DType) IsFloat() bool {
	switch d {
	case F64, F32, F16, BF16, F8E5M2, F8E4M3:
		return true
	}
	return false
}

// IsInt reports whether d is an integer (or boolean) dtype.
func (d DType) IsInt() bool { return d.Valid() && !d.IsFloat() }

// Float16ToFloat32 converts an IEEE 754 binary16 value, given by its bits,
// to float32. The conversion is exact: every half-precision value, including
// subnormals, infinities, NaNs (with their payload) and -0, is representable
// in float32.
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch exp {
	case 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal: mant × 2^-24. Normalise so the leading 1 moves to the
		// implicit bit position.
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		mant &= 0x3ff
		return math.Float32frombits(sign | e<<23 | mant<<13)
	case 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	default:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	}
}

// BFloat16ToFloat32 converts a bfloat16 value, given by its bits, to float32.
// The conversion is exact.
func BFloat16ToFloat32(b uint16) float32 {
	return math.Float32frombits(uint32(b) << 16)
}

// f8e5m2ToFloat32 converts an OCP FP8 E5M2 value: it is the upper byte of a
// binary16 value.
func f8e5m2ToFloat32(b byte) float32 {
	return Float16ToFloat32(uint16(b) << 8)
}

// f8e4m3ToFloat32 converts an OCP FP8 E4M3 ("fn") value: bias 7, no
// infinities, S.1111.111 is NaN.
func f8e4m3ToFloat32(b byte) float32 {
	sign := float32(1)
	if b&0x80 != 0 {
		sign = -1
	}
	exp := int(b>>3) & 0xf
	mant := int(b) & 0x7
	switch {
	case exp == 0xf && mant == 0x7:
		return float32(math.NaN())
	case exp == 0:
		return sign * float32(math.Ldexp(float64(mant), -9))
	default:
		return sign * float32(math.Ldexp(float64(8+mant), exp-10))
	}
}

// toFloat32 decodes little-endian data of dtype d into dst.
func toFloat32(d DType, data []byte, dst []float32) error {
	le := binary.LittleEndian
	switch d {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(le.Uint32(data[4*i:]))
		}
	case F16:
		for i := range dst {
			dst[i] = Float16ToFloat32(le.Uint16(data[2*i:]))
		}
	case BF16:
		for i := range dst {
			dst[i] = BFloat16ToFloat32(le.Uint16(data[2*i:]))
		}
	case F64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(le.Uint64(data[8*i:])))
		}
	case F8E5M2:
		for i := range dst {
			dst[i] = f8e5m2ToFloat32(data[i])
		}
	case F8E4M3:
		for i := range dst {
			dst[i] = f8e4m3ToFloat32(data[i])
		}
	default:
		return fmt.Errorf("cannot convert %s to float32", d)
	}
	return nil
}

// toInt64 decodes little-endian integer data of dtype d into dst.
func toInt64(d DType, data []byte, dst []int64) error {
	le := binary.LittleEndian
	switch d {
	case I64:
		for i := range dst {
			dst[i] = int64(le.Uint64(data[8*i:]))
		}
	case I32:
		for i := range dst {
			dst[i] = int64(int32(le.Uint32(data[4*i:])))
		}
	case I16:
		for i := range dst {
			dst[i] = int64(int16(le.Uint16(data[2*i:])))
		}
	case I8:
		for i := range dst {
			dst[i] = int64(int8(data[i]))
		}
	case U64:
		for i := range dst {
			v := le.Uint64(data[8*i:])
			if v > math.MaxInt64 {
				return fmt.Errorf("U64 element %d (%d) overflows int64", i, v)
			}
			dst[i] = int64(v)
		}
	case U32:
		for i := range dst {
			dst[i] = int64(le.Uint32(data[4*i:]))
		}
	case U16:
		for i := range dst {
			dst[i] = int64(le.Uint16(data[2*i:]))
		}
	case U8:
		for i := range dst {
			dst[i] = int64(data[i])
		}
	case Bool:
		for i := range dst {
			if data[i] != 0 {
				dst[i] = 1
			} else {
				dst[i] = 0
			}
		}
	default:
		return fmt.Errorf("cannot convert %s to int64", d)
	}
	return nil
}
