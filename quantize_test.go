package sie

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

// negZero is −0 as a float32.
var negZero = float32(math.Copysign(0, -1))

// TestQuantizeInt8 against vectors worked out by hand:
// round(x / max|x| × 127), half to even.
func TestQuantizeInt8(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    []float32
		want  []int8
		scale float32
	}{
		// 0.5·127 = 63.5 → 64 (tie to even), 0.25·127 = 31.75 → 32, 0.1·127 = 12.7 → 13.
		{"mixed", []float32{0.5, -1, 0.25, negZero, 0.1}, []int8{64, -127, 32, 0, 13}, 1.0 / 127},
		// −1.5 / 3 · 127 = −63.5 → −64 (tie to even).
		{"negative tie", []float32{3, -1.5, 0}, []int8{127, -64, 0}, 3.0 / 127},
		{"constant", []float32{0.2, 0.2, 0.2}, []int8{127, 127, 127}, 0.2 / 127},
		{"negative constant", []float32{-2, -2}, []int8{-127, -127}, 2.0 / 127},
		{"zero vector", []float32{0, negZero, 0}, []int8{0, 0, 0}, 0},
	} {
		q := quantize(tc.in, Int8)
		got := q.Int8s()
		if q.DType != Int8 || q.Dims != len(tc.in) || !equal(got, tc.want) || !near(q.Scale, tc.scale, 1e-9) {
			t.Errorf("%s: got %v scale %v dims %d, want %v scale %v", tc.name, got, q.Scale, q.Dims, tc.want, tc.scale)
		}
		back := q.Float32()
		for i := range back {
			if !near(back[i], tc.in[i], float64(q.Scale)/2+1e-7) {
				t.Errorf("%s: dequantized %v, want %v within half a step", tc.name, back, tc.in)
				break
			}
		}
	}
}

// TestQuantizeUint8: round((x − min) / (max − min) × 255), half to even; a
// constant vector maps to 128.
func TestQuantizeUint8(t *testing.T) {
	for _, tc := range []struct {
		name       string
		in         []float32
		want       []byte
		scale, min float32
	}{
		// (x+1)/2·255: 0, 127.5 → 128 (tie to even), 255, 191.25 → 191.
		{"mixed", []float32{-1, 0, 1, 0.5}, []byte{0, 128, 255, 191}, 2.0 / 255, -1},
		{"negative zero", []float32{negZero, 0, 1}, []byte{0, 0, 255}, 1.0 / 255, 0},
		{"constant", []float32{0.3, 0.3, 0.3}, []byte{128, 128, 128}, 0, 0.3},
		{"constant zero", []float32{negZero, 0}, []byte{128, 128}, 0, 0},
	} {
		q := quantize(tc.in, Uint8)
		if !bytes.Equal(q.Data, tc.want) || !near(q.Scale, tc.scale, 1e-9) || q.Min != tc.min {
			t.Errorf("%s: got %v scale %v min %v, want %v scale %v min %v", tc.name, q.Data, q.Scale, q.Min, tc.want, tc.scale, tc.min)
		}
		back := q.Float32()
		for i := range back {
			if !near(back[i], tc.in[i], float64(q.Scale)/2+1e-7) {
				t.Errorf("%s: dequantized %v, want %v", tc.name, back, tc.in)
				break
			}
		}
	}
}

// TestPackBits matches numpy.packbits(x > 0) (bitorder "big"): dimension i
// is bit 7 − i%8 of byte i/8, the last byte padded with zeros.
func TestPackBits(t *testing.T) {
	nan := float32(math.NaN())
	for _, tc := range []struct {
		in   []float32
		want []byte
	}{
		// 1 0 1 0 0 1 1 0 | 1 → 0b10100110 = 0xA6, 0b10000000 = 0x80 (−0 is not > 0).
		{[]float32{1, -1, 0.5, 0, negZero, 2, 3, -4, 5}, []byte{0xA6, 0x80}},
		{[]float32{1, 1, 1, 1, 1, 1, 1, 1}, []byte{0xFF}},
		{[]float32{nan, float32(math.Inf(1)), float32(math.Inf(-1)), 1e-30}, []byte{0x50}},
		{[]float32{}, []byte{}},
	} {
		q := quantize(tc.in, Binary)
		if !bytes.Equal(q.Data, tc.want) || q.Dims != len(tc.in) {
			t.Errorf("packbits(%v) = %x (dims %d), want %x (dims %d)", tc.in, q.Data, q.Dims, tc.want, len(tc.in))
		}
		back := q.Float32()
		for i, v := range tc.in {
			if (v > 0) != (back[i] == 1) {
				t.Errorf("unpacked %v from %v", back, tc.in)
				break
			}
		}
	}
}

// TestFloat16 against IEEE 754 binary16 bit patterns worked out by hand
// (round to nearest even, like numpy's astype(float16)).
func TestFloat16(t *testing.T) {
	for _, tc := range []struct {
		in   float32
		bits uint16
	}{
		{1, 0x3C00},
		{-2, 0xC000},
		{0.1, 0x2E66},     // mantissa 0x4CCCCD: 0x266, rest 0xCCD < half
		{1.0 / 3, 0x3555}, // mantissa 0x2AAAAB: 0x155, rest 0xAAB < half
		{65504, 0x7BFF},   // largest finite half
		{65520, 0x7C00},   // halfway to 65536, odd mantissa rounds up: +Inf
		{0, 0x0000},
		{negZero, 0x8000},                     // the sign of zero is kept
		{float32(math.Ldexp(1, -24)), 0x0001}, // smallest subnormal
		{float32(math.Ldexp(1, -25)), 0x0000}, // halfway to it: ties to even 0
		{float32(math.Ldexp(3, -26)), 0x0001}, // 0.75 of it: rounds up
		{float32(math.Ldexp(1, -14)), 0x0400}, // smallest normal
		{float32(math.Inf(-1)), 0xFC00},
	} {
		if got := f32ToF16(tc.in); got != tc.bits {
			t.Errorf("f32ToF16(%g) = %#04x, want %#04x", tc.in, got, tc.bits)
		}
		q := quantize([]float32{tc.in}, Float16)
		if q.Data[0] != byte(tc.bits) || q.Data[1] != byte(tc.bits>>8) {
			t.Errorf("float16 bytes of %g: %x, want little-endian %#04x", tc.in, q.Data, tc.bits)
		}
		back := q.Float32()[0]
		if tc.bits&0x7fff < 0x7c00 && math.Abs(float64(back-tc.in)) > math.Abs(float64(tc.in))/1024+math.Ldexp(1, -25) {
			t.Errorf("float16 round trip of %g gave %g", tc.in, back)
		}
		if tc.in == 0 && math.Signbit(float64(back)) != math.Signbit(float64(tc.in)) {
			t.Errorf("float16 round trip lost the sign of %g", tc.in)
		}
	}
	if v := f16ToF32(0x7E00); !math.IsNaN(float64(v)) {
		t.Errorf("NaN came back as %v", v)
	}
}

func TestParseDTypeAndOutputs(t *testing.T) {
	for s, want := range map[string]DType{"": Float32, "float32": Float32, "FLOAT16": Float16, "int8": Int8, "uint8": Uint8, "binary": Binary} {
		if got, err := ParseDType(s); err != nil || got != want {
			t.Errorf("ParseDType(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	if _, err := ParseDType("int4"); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("ParseDType(int4): %v, want ErrInvalidInput", err)
	}
	if got, err := ParseOutputs("dense, sparse|multivector"); err != nil || got != Dense|Sparse|Multivector {
		t.Errorf("ParseOutputs = %v, %v", got, err)
	}
	if _, err := ParseOutputs("dense,colour"); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("ParseOutputs(colour): %v, want ErrInvalidInput", err)
	}
	if s := (Dense | Multivector).String(); s != "dense|multivector" {
		t.Errorf("String = %q", s)
	}
	if s := DType(9).String(); s != "DType(9)" {
		t.Errorf("String = %q", s)
	}
}

func TestMaxSimAndSparseDot(t *testing.T) {
	q := [][]float32{{1, 0}, {0, 1}, {-1, 0}}
	d := [][]float32{{0.5, 0.5}, {-0.2, 0.9}}
	// max(0.5, −0.2) + max(0.5, 0.9) + max(−0.5, 0.2) = 0.5 + 0.9 + 0.2
	if got := MaxSim(q, d); !near(got, 1.6, 1e-6) {
		t.Errorf("MaxSim = %v, want 1.6", got)
	}
	// A query vector whose best match is negative contributes that negative value.
	if got := MaxSim([][]float32{{-1, 0}}, [][]float32{{0.5, 0.5}}); !near(got, -0.5, 1e-6) {
		t.Errorf("MaxSim = %v, want -0.5", got)
	}
	if got := MaxSim(q, nil); got != 0 {
		t.Errorf("MaxSim with no document vectors = %v", got)
	}
	a := SparseVector{Indices: []int32{1, 5, 9}, Values: []float32{0.5, 2, 1}}
	b := SparseVector{Indices: []int32{5, 7, 9, 12}, Values: []float32{3, 4, 0.25, 1}}
	if got := a.Dot(b); !near(got, 6.25, 1e-6) {
		t.Errorf("Dot = %v, want 6.25", got)
	}
	v := sparseFromMap(map[int32]float32{9: 1, 2: 0.5, 4: 0, 3: -1})
	if !equal(v.Indices, []int32{2, 9}) || !equal(v.Values, []float32{0.5, 1}) {
		t.Errorf("sparseFromMap = %+v", v)
	}
}

func TestTruncateDims(t *testing.T) {
	v := []float32{0.6, 0.8, 0, 0}
	if got := truncateDims(v, 0, true); !equal(got, v) {
		t.Errorf("dims 0: %v", got)
	}
	if got := truncateDims([]float32{3, 4, 12}, 2, true); !near(got[0], 0.6, 1e-7) || !near(got[1], 0.8, 1e-7) || len(got) != 2 {
		t.Errorf("renormalised: %v", got)
	}
	if got := truncateDims([]float32{3, 4, 12}, 2, false); !equal(got, []float32{3, 4}) {
		t.Errorf("not normalised: %v", got)
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func near(a, b float32, tol float64) bool { return math.Abs(float64(a)-float64(b)) <= tol }
