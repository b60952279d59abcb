package sie

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

// DType is the element type of dense and multivector outputs. Sparse
// outputs are always float32.
type DType uint8

const (
	// Float32 is the default: vectors as computed, in Encoding.Dense and
	// Encoding.Multivector.
	Float32 DType = iota
	// Float16 is IEEE 754 half precision, rounded to nearest even (numpy's
	// astype(float16)); overflow gives ±Inf, −0 stays −0.
	Float16
	// Int8 is per-vector symmetric quantization: q = round(x / max|x| × 127),
	// rounding half to even; a zero vector gives zeros.
	Int8
	// Uint8 is per-vector min–max quantization to 0..255:
	// q = round((x − min) / (max − min) × 255), rounding half to even; a
	// constant vector gives 128 everywhere.
	Uint8
	// Binary keeps one bit per dimension, 1 where x > 0 (so −0, 0 and NaN
	// give 0), packed 8 to a byte most significant bit first, like numpy's
	// packbits; the last byte is padded with zero bits.
	Binary
)

var dtypeNames = [...]string{Float32: "float32", Float16: "float16", Int8: "int8", Uint8: "uint8", Binary: "binary"}

// String returns the dtype's name: "float32", "float16", "int8", "uint8"
// or "binary".
func (d DType) String() string {
	if int(d) < len(dtypeNames) {
		return dtypeNames[d]
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

func (d DType) valid() bool { return int(d) < len(dtypeNames) }

// ParseDType maps a name as String returns it ("" means float32) to a DType;
// an unknown name is an ErrInvalidInput.
func ParseDType(s string) (DType, error) {
	if s == "" {
		return Float32, nil
	}
	for d, name := range dtypeNames {
		if strings.EqualFold(s, name) {
			return DType(d), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown dtype %q (want %s)", ErrInvalidInput, s, strings.Join(dtypeNames[:], ", "))
}

// Quantized is one vector in a compact DType.
//
// Data holds Dims values in DType's layout:
//   - Float16: 2 bytes per value, little-endian IEEE 754 binary16 bits;
//   - Int8: one two's-complement byte per value; x ≈ int8(Data[i]) × Scale;
//   - Uint8: one byte per value; x ≈ Min + Data[i] × Scale;
//   - Binary: ⌈Dims/8⌉ bytes, dimension i in bit 7 − i%8 of byte i/8.
//
// Float32 dequantizes any of them.
type Quantized struct {
	DType DType
	// Dims is the vector's dimension (for Binary the number of bits, not
	// bytes).
	Dims int
	Data []byte
	// Scale is the size of one quantization step: max|x| / 127 for Int8,
	// (max − min) / 255 for Uint8 (0 for a constant vector); 0 otherwise.
	Scale float32
	// Min is the smallest value of the vector for Uint8; 0 otherwise.
	Min float32
}

// Float32 returns the vector the quantized data stands for: the float16
// values, q × Scale for Int8, Min + q × Scale for Uint8 (Min for a constant
// vector), and 1 or 0 per bit for Binary.
func (q Quantized) Float32() []float32 {
	out := make([]float32, q.Dims)
	for i := range out {
		switch q.DType {
		case Float16:
			out[i] = f16ToF32(binary.LittleEndian.Uint16(q.Data[2*i:]))
		case Int8:
			out[i] = float32(int8(q.Data[i])) * q.Scale
		case Uint8:
			out[i] = q.Min + float32(q.Data[i])*q.Scale
		case Binary:
			out[i] = float32(q.Data[i/8] >> (7 - i%8) & 1)
		}
	}
	return out
}

// Int8s returns Data as signed values (Int8 only; nil otherwise).
func (q Quantized) Int8s() []int8 {
	if q.DType != Int8 {
		return nil
	}
	out := make([]int8, len(q.Data))
	for i, b := range q.Data {
		out[i] = int8(b)
	}
	return out
}

// quantize converts one float32 vector; d must not be Float32.
func quantize(x []float32, d DType) Quantized {
	q := Quantized{DType: d, Dims: len(x)}
	switch d {
	case Float16:
		q.Data = make([]byte, 2*len(x))
		for i, v := range x {
			binary.LittleEndian.PutUint16(q.Data[2*i:], f32ToF16(v))
		}
	case Int8:
		q.Data = make([]byte, len(x))
		var top float64
		for _, v := range x {
			top = max(top, math.Abs(float64(v)))
		}
		if top == 0 {
			break
		}
		q.Scale = float32(top / 127)
		for i, v := range x {
			q.Data[i] = byte(int8(math.RoundToEven(float64(v) / top * 127)))
		}
	case Uint8:
		q.Data = make([]byte, len(x))
		if len(x) == 0 {
			break
		}
		lo, hi := float64(x[0]), float64(x[0])
		for _, v := range x {
			lo, hi = min(lo, float64(v)), max(hi, float64(v))
		}
		q.Min = float32(lo)
		if hi == lo {
			for i := range q.Data {
				q.Data[i] = 128
			}
			break
		}
		q.Scale = float32((hi - lo) / 255)
		for i, v := range x {
			q.Data[i] = byte(math.RoundToEven((float64(v) - lo) / (hi - lo) * 255))
		}
	case Binary:
		q.Data = packBits(x)
	}
	return q
}

// packBits packs x > 0 most significant bit first, as numpy.packbits does
// with its default bitorder "big".
func packBits(x []float32) []byte {
	out := make([]byte, (len(x)+7)/8)
	for i, v := range x {
		if v > 0 {
			out[i/8] |= 0x80 >> (i % 8)
		}
	}
	return out
}

// f32ToF16 converts to IEEE 754 binary16, rounding to nearest even.
func f32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	man := b & 0x7fffff
	if exp == 0xff { // Inf or NaN (kept quiet)
		if man == 0 {
			return sign | 0x7c00
		}
		return sign | 0x7e00 | uint16(man>>13)
	}
	e := exp - 127 + 15 // biased half exponent
	if e >= 0x1f {
		return sign | 0x7c00
	}
	var q, rest, half uint32
	if e <= 0 { // half subnormal (or zero): value = q × 2^−24
		if e < -10 {
			return sign
		}
		m := man | 0x800000
		shift := uint(14 - e)
		q, rest, half = m>>shift, m&(1<<shift-1), 1<<(shift-1)
	} else {
		q, rest, half = uint32(e)<<10|man>>13, man&0x1fff, 0x1000
	}
	if rest > half || rest == half && q&1 == 1 {
		q++ // may carry into the exponent, up to Inf: still correct
	}
	return sign | uint16(q)
}

// f16ToF32 converts IEEE 754 binary16 bits to float32 (exactly).
func f16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	man := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp == 0 && man == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: man × 2^−24
		v := float32(man) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
}
