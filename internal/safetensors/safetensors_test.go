package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func encode(t testing.TB, tensors []WriteTensor, md map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, tensors, md); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes()
}

// rawFile builds a file from a literal header, bypassing Write's checks.
func rawFile(header string, data []byte) []byte {
	out := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(out, uint64(len(header)))
	out = append(out, header...)
	return append(out, data...)
}

func le16(vs ...uint16) []byte {
	out := make([]byte, 2*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint16(out[2*i:], v)
	}
	return out
}

func TestRoundTripAllDTypes(t *testing.T) {
	f64 := make([]byte, 16)
	binary.LittleEndian.PutUint64(f64, math.Float64bits(1.5))
	binary.LittleEndian.PutUint64(f64[8:], math.Float64bits(-1e300))
	i64 := make([]byte, 16)
	binary.LittleEndian.PutUint64(i64, uint64(1<<40))
	neg := int64(-7)
	binary.LittleEndian.PutUint64(i64[8:], uint64(neg))
	i32 := make([]byte, 8)
	binary.LittleEndian.PutUint32(i32, uint32(123456))
	negi32 := int32(-2)
	binary.LittleEndian.PutUint32(i32[4:], uint32(negi32))
	u32 := make([]byte, 4)
	binary.LittleEndian.PutUint32(u32, 0xFFFFFFFF)
	u64 := make([]byte, 8)
	binary.LittleEndian.PutUint64(u64, 42)

	tests := []struct {
		w      WriteTensor
		floats []float32
		ints   []int64
	}{
		{WriteTensor{"f32", F32, []int{2, 2}, Float32Bytes([]float32{1, -2, 3.25, 0})}, []float32{1, -2, 3.25, 0}, nil},
		{WriteTensor{"f16", F16, []int{2}, le16(0x3C00, 0xC100)}, []float32{1, -2.5}, nil},
		{WriteTensor{"bf16", BF16, []int{2}, le16(0x3F80, 0xC020)}, []float32{1, -2.5}, nil},
		{WriteTensor{"f64", F64, []int{2}, f64}, []float32{1.5, float32(math.Inf(-1))}, nil},
		{WriteTensor{"f8e4m3", F8E4M3, []int{3}, []byte{0x38, 0x7E, 0x01}}, []float32{1, 448, 1.0 / 512}, nil},
		{WriteTensor{"f8e5m2", F8E5M2, []int{2}, []byte{0x3C, 0xC1}}, []float32{1, -2.5}, nil},
		{WriteTensor{"i64", I64, []int{1, 2}, i64}, nil, []int64{1 << 40, -7}},
		{WriteTensor{"i32", I32, []int{2}, i32}, nil, []int64{123456, -2}},
		{WriteTensor{"i16", I16, []int{2}, le16(0x7FFF, 0x8000)}, nil, []int64{32767, -32768}},
		{WriteTensor{"i8", I8, []int{2}, []byte{0x7F, 0xFF}}, nil, []int64{127, -1}},
		{WriteTensor{"u8", U8, []int{2}, []byte{0xFF, 3}}, nil, []int64{255, 3}},
		{WriteTensor{"u16", U16, []int{1}, le16(0xFFFF)}, nil, []int64{65535}},
		{WriteTensor{"u32", U32, []int{1}, u32}, nil, []int64{0xFFFFFFFF}},
		{WriteTensor{"u64", U64, []int{}, u64}, nil, []int64{42}},
		{WriteTensor{"bool", Bool, []int{3}, []byte{0, 1, 2}}, nil, []int64{0, 1, 1}},
		{WriteTensor{"empty", F32, []int{0, 4}, nil}, []float32{}, nil},
	}
	var ws []WriteTensor
	for _, tc := range tests {
		ws = append(ws, tc.w)
	}
	md := map[string]string{"format": "pt", "note": "hello"}
	f, err := Parse(encode(t, ws, md))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := f.Metadata(); got["format"] != "pt" || got["note"] != "hello" || len(got) != 2 {
		t.Errorf("Metadata = %v", got)
	}
	names := f.Names()
	if !slices.IsSorted(names) || len(names) != len(tests) || f.Len() != len(tests) {
		t.Errorf("Names = %v", names)
	}
	for _, tc := range tests {
		tn, ok := f.Tensor(tc.w.Name)
		if !ok {
			t.Fatalf("tensor %q missing", tc.w.Name)
		}
		if tn.DType != tc.w.DType || !slices.Equal(tn.Shape, tc.w.Shape) || !bytes.Equal(tn.Bytes(), tc.w.Data) {
			t.Errorf("%s: got %s %v %x", tc.w.Name, tn.DType, tn.Shape, tn.Bytes())
		}
		if tc.floats != nil {
			got, err := tn.Float32()
			if err != nil {
				t.Errorf("%s: Float32: %v", tc.w.Name, err)
			} else if !slices.Equal(got, tc.floats) {
				t.Errorf("%s: Float32 = %v, want %v", tc.w.Name, got, tc.floats)
			}
			if _, err := tn.Int64(); err == nil {
				t.Errorf("%s: Int64 on a float tensor succeeded", tc.w.Name)
			}
		}
		if tc.ints != nil {
			got, err := tn.Int64()
			if err != nil {
				t.Errorf("%s: Int64: %v", tc.w.Name, err)
			} else if !slices.Equal(got, tc.ints) {
				t.Errorf("%s: Int64 = %v, want %v", tc.w.Name, got, tc.ints)
			}
			if _, err := tn.Float32(); err == nil {
				t.Errorf("%s: Float32 on an int tensor succeeded", tc.w.Name)
			}
		}
		if n := tn.NumElements(); n*tn.DType.Size() != len(tc.w.Data) {
			t.Errorf("%s: NumElements = %d", tc.w.Name, n)
		}
	}
	if _, ok := f.Tensor("nope"); ok {
		t.Error("Tensor(nope) found")
	}
}

func TestU64Overflow(t *testing.T) {
	data := make([]byte, 8)
	binary.LittleEndian.PutUint64(data, math.MaxUint64)
	tn, err := NewTensor("u", U64, []int{1}, data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tn.Int64(); err == nil {
		t.Error("U64 overflow not reported")
	}
}

func TestFloat16Values(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	tests := []struct {
		bits uint16
		want float32
	}{
		{0x3C00, 1.0},
		{0xC100, -2.5},
		{0x7BFF, 65504},
		{0x0001, float32(math.Ldexp(1, -24))},           // smallest subnormal
		{0x03FF, float32(math.Ldexp(1023, -24))},        // largest subnormal
		{0x0400, float32(math.Ldexp(1, -14))},           // smallest normal
		{0x8001, -float32(math.Ldexp(1, -24))},          // negative subnormal
		{0x3555, float32(math.Ldexp(1+341.0/1024, -2))}, // ≈ 1/3
		{0x7C00, float32(math.Inf(1))},
		{0xFC00, float32(math.Inf(-1))},
		{0x0000, 0},
		{0x8000, negZero},
	}
	for _, tc := range tests {
		got := Float16ToFloat32(tc.bits)
		if math.Float32bits(got) != math.Float32bits(tc.want) {
			t.Errorf("Float16ToFloat32(%#04x) = %v (%#08x), want %v", tc.bits, got, math.Float32bits(got), tc.want)
		}
	}
	for _, nan := range []uint16{0x7E00, 0x7C01, 0xFE00, 0x7FFF} {
		if got := Float16ToFloat32(nan); !math.IsNaN(float64(got)) {
			t.Errorf("Float16ToFloat32(%#04x) = %v, want NaN", nan, got)
		}
	}
	// Payload and sign of a NaN survive.
	if got := math.Float32bits(Float16ToFloat32(0xFE01)); got != 0xFFC02000 {
		t.Errorf("NaN bits = %#08x", got)
	}
}

// TestFloat16Exhaustive checks every half-precision value against a
// reference computed from the definition of binary16.
func TestFloat16Exhaustive(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		sign := 1.0
		if h&0x8000 != 0 {
			sign = -1
		}
		exp := int(h>>10) & 0x1f
		mant := float64(h & 0x3ff)
		var want float64
		switch exp {
		case 0:
			want = sign * math.Ldexp(mant, -24)
		case 0x1f:
			if mant == 0 {
				want = math.Inf(int(sign))
			} else {
				want = math.NaN()
			}
		default:
			want = sign * math.Ldexp(1+mant/1024, exp-15)
		}
		got := float64(Float16ToFloat32(h))
		if math.IsNaN(want) {
			if !math.IsNaN(got) {
				t.Fatalf("%#04x: got %v, want NaN", h, got)
			}
			continue
		}
		if got != want || math.Signbit(got) != math.Signbit(want) {
			t.Fatalf("%#04x: got %v, want %v", h, got, want)
		}
	}
}

func TestBFloat16Values(t *testing.T) {
	tests := []struct {
		bits uint16
		want float32
	}{
		{0x3F80, 1.0},
		{0xC020, -2.5},
		{0x0001, float32(math.Ldexp(1, -133))},
		{0x7F80, float32(math.Inf(1))},
		{0xFF80, float32(math.Inf(-1))},
		{0x8000, float32(math.Copysign(0, -1))},
		{0x477F, 65280},
	}
	for _, tc := range tests {
		got := BFloat16ToFloat32(tc.bits)
		if math.Float32bits(got) != math.Float32bits(tc.want) {
			t.Errorf("BFloat16ToFloat32(%#04x) = %v, want %v", tc.bits, got, tc.want)
		}
	}
	if got := BFloat16ToFloat32(0x7FC0); !math.IsNaN(float64(got)) {
		t.Errorf("BFloat16ToFloat32(0x7FC0) = %v, want NaN", got)
	}
}

func TestF16TensorSpecials(t *testing.T) {
	data := le16(0x3C00, 0xC100, 0x7BFF, 0x0001, 0x7C00, 0x7E00, 0x8000)
	f, err := Parse(encode(t, []WriteTensor{{"h", F16, []int{7}, data}}, nil))
	if err != nil {
		t.Fatal(err)
	}
	tn, _ := f.Tensor("h")
	got, err := tn.Float32()
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{1, -2.5, 65504, float32(math.Ldexp(1, -24)), float32(math.Inf(1))}
	if !slices.Equal(got[:5], want) {
		t.Errorf("got %v, want %v", got[:5], want)
	}
	if !math.IsNaN(float64(got[5])) {
		t.Errorf("got %v, want NaN", got[5])
	}
	if got[6] != 0 || !math.Signbit(float64(got[6])) {
		t.Errorf("got %v, want -0", got[6])
	}
}

func TestF8E4M3NaN(t *testing.T) {
	if got := f8e4m3ToFloat32(0x7F); !math.IsNaN(float64(got)) {
		t.Errorf("0x7F = %v, want NaN", got)
	}
	if got := f8e4m3ToFloat32(0xC0); got != -2 {
		t.Errorf("0xC0 = %v, want -2", got)
	}
	if got := f8e5m2ToFloat32(0x7C); !math.IsInf(float64(got), 1) {
		t.Errorf("e5m2 0x7C = %v, want +Inf", got)
	}
}

func TestNewTensor(t *testing.T) {
	if _, err := NewTensor("x", F32, []int{2}, make([]byte, 8)); err != nil {
		t.Errorf("valid tensor: %v", err)
	}
	bad := []struct {
		name  string
		dtype DType
		shape []int
		n     int
	}{
		{"short", F32, []int{2}, 7},
		{"dtype", "F7", []int{1}, 1},
		{"negative", F32, []int{-1}, 0},
		{"overflow", F64, []int{math.MaxInt / 2, 4}, 0},
	}
	for _, tc := range bad {
		if _, err := NewTensor(tc.name, tc.dtype, tc.shape, make([]byte, tc.n)); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	// A hand-built inconsistent Tensor must not panic.
	tn := &Tensor{Name: "x", DType: F32, Shape: []int{4}, data: make([]byte, 3)}
	if _, err := tn.Float32(); err == nil {
		t.Error("inconsistent tensor: no error")
	}
}

func TestWriteErrors(t *testing.T) {
	var buf bytes.Buffer
	cases := map[string][]WriteTensor{
		"dup":      {{"a", F32, []int{1}, make([]byte, 4)}, {"a", F32, []int{1}, make([]byte, 4)}},
		"reserved": {{metadataKey, F32, []int{1}, make([]byte, 4)}},
		"length":   {{"a", F32, []int{2}, make([]byte, 4)}},
	}
	for name, ws := range cases {
		if err := Write(&buf, ws, nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestWriteAligned(t *testing.T) {
	data := encode(t, []WriteTensor{{"abc", F32, []int{1}, make([]byte, 4)}}, nil)
	if n := binary.LittleEndian.Uint64(data); n%8 != 0 {
		t.Errorf("header length %d not a multiple of 8", n)
	}
}

func TestCorrupt(t *testing.T) {
	good := encode(t, []WriteTensor{
		{"a", F32, []int{2}, Float32Bytes([]float32{1, 2})},
		{"b", F32, []int{1}, Float32Bytes([]float32{3})},
	}, nil)
	hugeHeader := make([]byte, 16)
	binary.LittleEndian.PutUint64(hugeHeader, math.MaxUint64)
	beyond := make([]byte, 16)
	binary.LittleEndian.PutUint64(beyond, 9)
	e8 := make([]byte, 8)

	tests := []struct {
		name string
		data []byte
		msg  string
	}{
		{"empty", nil, "empty"},
		{"short", []byte{1, 2, 3}, "too short"},
		{"absurd header length", hugeHeader, "limit"},
		{"header beyond file", beyond, "exceeds"},
		{"zero header", e8, "not JSON"},
		{"not json", rawFile("hello!!!", nil), "not JSON"},
		{"json array", rawFile("[1,2,3]", nil), "not a JSON object"},
		{"trailing", rawFile(`{} {}`, nil), "trailing"},
		{"truncated header", rawFile(`{"a":{"dtype":"F32"`, nil), "not JSON"},
		{"duplicate", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), "twice"},
		{"entry not object", rawFile(`{"a":5}`, nil), "bad header entry"},
		{"missing field", rawFile(`{"a":{"dtype":"F32","shape":[1]}}`, make([]byte, 4)), "needs"},
		{"unknown dtype", rawFile(`{"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), "unknown dtype"},
		{"begin > end", rawFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}`, make([]byte, 4)), "bad data_offsets"},
		{"negative offset", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, make([]byte, 4)), "bad data_offsets"},
		{"three offsets", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, make([]byte, 8)), "want 2"},
		{"outside data", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 4)), "exceed"},
		{"wrong length", rawFile(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8)), "want 3 elements"},
		{"negative dim", rawFile(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}`, nil), "negative"},
		{"fractional dim", rawFile(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,6]}}`, make([]byte, 6)), "bad header entry"},
		{"overflow shape", rawFile(`{"a":{"dtype":"F32","shape":[4611686018427387904,4611686018427387904],"data_offsets":[0,0]}}`, nil), "too many"},
		{"overlap", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), "overlap"},
		{"metadata not strings", rawFile(`{"__metadata__":{"a":1}}`, nil), "__metadata__"},
		{"truncated data", good[:len(good)-2], "truncated"},
		{"truncated in header", good[:12], "exceeds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.data)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not mention %q", err, tc.msg)
			}
		})
	}
	if _, err := Parse(good); err != nil {
		t.Fatalf("good file: %v", err)
	}
}

func TestOpenErrorNamesPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.safetensors")
	if err := os.WriteFile(path, []byte("garbage!garbage!"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v does not name %s", err, path)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing file: no error")
	}
}

func writeFile(t *testing.T, path string, tensors []WriteTensor) {
	t.Helper()
	if err := os.WriteFile(path, encode(t, tensors, nil), 0o644); err != nil {
		t.Fatal(err)
	}
}

func f32(name string, vs ...float32) WriteTensor {
	return WriteTensor{name, F32, []int{len(vs)}, Float32Bytes(vs)}
}

func TestOpenDirSingle(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, SingleFileName), []WriteTensor{f32("b", 2), f32("a", 1)})
	s, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 2 || !slices.Equal(s.Names(), []string{"a", "b"}) {
		t.Errorf("Names = %v", s.Names())
	}
	tn, ok := s.Tensor("b")
	if !ok {
		t.Fatal("b missing")
	}
	if v, _ := tn.Float32(); !slices.Equal(v, []float32{2}) {
		t.Errorf("b = %v", v)
	}
}

func TestOpenDirMissing(t *testing.T) {
	if _, err := OpenDir(t.TempDir()); err == nil {
		t.Error("empty dir: no error")
	}
}

func writeIndex(t *testing.T, dir, weightMap string) {
	t.Helper()
	idx := `{"metadata":{"total_size":12},"weight_map":` + weightMap + `}`
	if err := os.WriteFile(filepath.Join(dir, IndexFileName), []byte(idx), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOpenDirSharded(t *testing.T) {
	const s1, s2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
	setup := func(t *testing.T, weightMap string) string {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, s1), []WriteTensor{f32("a", 1), f32("b", 2)})
		writeFile(t, filepath.Join(dir, s2), []WriteTensor{f32("c", 3)})
		writeIndex(t, dir, weightMap)
		return dir
	}

	t.Run("ok", func(t *testing.T) {
		dir := setup(t, `{"a":"`+s1+`","b":"`+s1+`","c":"`+s2+`"}`)
		s, err := OpenDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(s.Names(), []string{"a", "b", "c"}) {
			t.Errorf("Names = %v", s.Names())
		}
		tn, _ := s.Tensor("c")
		if v, _ := tn.Float32(); !slices.Equal(v, []float32{3}) {
			t.Errorf("c = %v", v)
		}
	})

	bad := []struct {
		name, weightMap, msg string
		extra                func(t *testing.T, dir string)
	}{
		{name: "missing shard", weightMap: `{"a":"` + s1 + `","c":"model-00003.safetensors"}`, msg: "model-00003"},
		{name: "tensor not in shard", weightMap: `{"a":"` + s1 + `","z":"` + s2 + `"}`, msg: `"z"`},
		{name: "tensor in wrong shard", weightMap: `{"a":"` + s2 + `","c":"` + s2 + `","b":"` + s1 + `"}`, msg: `"a"`},
		{name: "traversal", weightMap: `{"a":"../x.safetensors"}`, msg: "not a local path"},
		{name: "empty map", weightMap: `{}`, msg: "weight_map"},
		{name: "in two shards", weightMap: `{"a":"` + s1 + `","c":"` + s2 + `"}`, msg: "both",
			extra: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, s2), []WriteTensor{f32("c", 3), f32("a", 9)})
			}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			dir := setup(t, tc.weightMap)
			if tc.extra != nil {
				tc.extra(t, dir)
			}
			_, err := OpenDir(dir)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not mention %q", err, tc.msg)
			}
		})
	}

	t.Run("bad index json", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, IndexFileName), []byte("{"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenDir(dir); err == nil || !errors.Is(err, ErrInvalid) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestOpenFilesDuplicate(t *testing.T) {
	dir := t.TempDir()
	p1, p2 := filepath.Join(dir, "a.safetensors"), filepath.Join(dir, "b.safetensors")
	writeFile(t, p1, []WriteTensor{f32("x", 1)})
	writeFile(t, p2, []WriteTensor{f32("x", 2)})
	if _, err := OpenFiles(p1, p2); err == nil {
		t.Error("duplicate tensor across files: no error")
	}
}

func TestRealFixture(t *testing.T) {
	const path = "../../testdata/fixtures/bert-mean/model.safetensors"
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("fixture missing: %v", err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Len() == 0 {
		t.Fatal("no tensors")
	}
	for _, name := range f.Names() {
		tn, _ := f.Tensor(name)
		if tn.DType != F32 {
			continue
		}
		v, err := tn.Float32()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(v) != tn.NumElements() {
			t.Fatalf("%s: %d values for shape %v", name, len(v), tn.Shape)
		}
		for _, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				t.Fatalf("%s: non-finite value %v", name, x)
			}
		}
	}
	s, err := OpenDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != f.Len() {
		t.Errorf("OpenDir has %d tensors, Open %d", s.Len(), f.Len())
	}
}

func FuzzParse(f *testing.F) {
	f.Add(encode(f, []WriteTensor{f32("a", 1, 2), {"h", F16, []int{1}, le16(0x3C00)}}, map[string]string{"k": "v"}))
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)))
	f.Add(rawFile(`{"a":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add([]byte{})
	f.Add(make([]byte, 8))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			return
		}
		for _, name := range file.Names() {
			tn, _ := file.Tensor(name)
			if tn.DType.IsFloat() {
				if _, err := tn.Float32(); err != nil {
					t.Errorf("%s: Float32 on a parsed tensor: %v", name, err)
				}
			} else if _, err := tn.Int64(); err != nil && tn.DType != U64 {
				t.Errorf("%s: Int64 on a parsed tensor: %v", name, err)
			}
		}
	})
}
