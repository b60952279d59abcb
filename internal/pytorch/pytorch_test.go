package pytorch

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sie-project/sie/internal/safetensors"
)

// pk assembles pickle programs the way torch.save (protocol 2) writes them.
type pk struct{ bytes.Buffer }

func (p *pk) op(b ...byte) *pk { p.Write(b); return p }

func (p *pk) str(s string) *pk {
	p.WriteByte('X')
	binary.Write(&p.Buffer, binary.LittleEndian, uint32(len(s)))
	p.WriteString(s)
	return p
}

func (p *pk) int(n int) *pk {
	switch {
	case n >= 0 && n < 256:
		p.op('K', byte(n))
	case n >= 0 && n < 65536:
		p.op('M', byte(n), byte(n>>8))
	default:
		p.WriteByte('J')
		binary.Write(&p.Buffer, binary.LittleEndian, int32(n))
	}
	return p
}

func (p *pk) global(module, name string) *pk {
	p.WriteString("c" + module + "\n" + name + "\n")
	return p
}

func (p *pk) ints(ns []int) *pk {
	p.op('(')
	for _, n := range ns {
		p.int(n)
	}
	return p.op('t')
}

// tensor pushes _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()).
func (p *pk) tensor(storageType, key string, numel, offset int, size, stride []int) *pk {
	p.global("torch._utils", "_rebuild_tensor_v2")
	p.op('(')
	p.op('(').str("storage").global("torch", storageType).str(key).str("cpu").int(numel).op('t')
	p.op('Q')
	p.int(offset).ints(size).ints(stride)
	p.op(0x89)
	p.global("collections", "OrderedDict").op(')', 'R')
	return p.op('t', 'R')
}

func makeZip(t testing.TB, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(files[n])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func loadBytes(t testing.TB, b []byte) (map[string]*safetensors.Tensor, error) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return load(zr, int64(len(b)))
}

func f32s(vs ...float32) []byte { return safetensors.Float32Bytes(vs) }

func floats(t *testing.T, tn *safetensors.Tensor) []float32 {
	t.Helper()
	v, err := tn.Float32()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestFixtures(t *testing.T) {
	for _, name := range []string{"colbert_linear", "sparse_linear"} {
		t.Run(name, func(t *testing.T) {
			dir := "../../testdata/fixtures/xlmr"
			pt := filepath.Join(dir, name+".pt")
			if _, err := os.Stat(pt); err != nil {
				t.Fatalf("fixture missing: %v", err)
			}
			got, err := Load(pt)
			if err != nil {
				t.Fatal(err)
			}
			want, err := safetensors.Open(filepath.Join(dir, name+".safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != want.Len() {
				t.Fatalf("%d tensors, want %d", len(got), want.Len())
			}
			for _, n := range want.Names() {
				w, _ := want.Tensor(n)
				g, ok := got[n]
				if !ok {
					t.Fatalf("tensor %q missing", n)
				}
				if g.Name != n || g.DType != w.DType || !slices.Equal(g.Shape, w.Shape) || !bytes.Equal(g.Bytes(), w.Bytes()) {
					t.Errorf("%s: got %s %v, want %s %v (or data differs)", n, g.DType, g.Shape, w.DType, w.Shape)
				}
			}
		})
	}
}

func TestStridesOffsetsAndSharing(t *testing.T) {
	// Storage 0: 2×3 matrix [[0 1 2] [3 4 5]] followed by a padding element.
	// Storage 1: float16 values.
	var p pk
	p.op(0x80, 2, '}', '(')
	p.str("plain").tensor("FloatStorage", "0", 7, 0, []int{2, 3}, []int{3, 1})
	p.str("transposed").tensor("FloatStorage", "0", 7, 0, []int{3, 2}, []int{1, 3})
	p.str("row1").tensor("FloatStorage", "0", 7, 3, []int{3}, []int{1})
	p.str("col2").tensor("FloatStorage", "0", 7, 2, []int{2}, []int{3})
	p.str("scalar").tensor("FloatStorage", "0", 7, 6, []int{}, []int{})
	p.str("empty").tensor("FloatStorage", "0", 7, 0, []int{0, 5}, []int{5, 1})
	p.str("half").tensor("HalfStorage", "1", 2, 0, []int{2}, []int{1})
	p.str("long").tensor("LongStorage", "2", 1, 0, []int{1, 1}, []int{1, 1})
	p.op('u', '.')
	long := make([]byte, 8)
	binary.LittleEndian.PutUint64(long, 511)
	b := makeZip(t, map[string][]byte{
		"archive/data.pkl":  p.Bytes(),
		"archive/data/0":    f32s(0, 1, 2, 3, 4, 5, 99),
		"archive/data/1":    {0x00, 0x3C, 0x00, 0xC1}, // 1.0, -2.5
		"archive/data/2":    long,
		"archive/version":   []byte("3\n"),
		"archive/byteorder": []byte("little"),
	})
	got, err := loadBytes(t, b)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, shape []int, want []float32) {
		t.Helper()
		tn, ok := got[name]
		if !ok {
			t.Fatalf("%s missing", name)
		}
		if !slices.Equal(tn.Shape, shape) {
			t.Errorf("%s: shape %v, want %v", name, tn.Shape, shape)
		}
		if v := floats(t, tn); !slices.Equal(v, want) {
			t.Errorf("%s = %v, want %v", name, v, want)
		}
	}
	check("plain", []int{2, 3}, []float32{0, 1, 2, 3, 4, 5})
	check("transposed", []int{3, 2}, []float32{0, 3, 1, 4, 2, 5})
	check("row1", []int{3}, []float32{3, 4, 5})
	check("col2", []int{2}, []float32{2, 5})
	check("scalar", []int{}, []float32{99})
	check("empty", []int{0, 5}, []float32{})
	check("half", []int{2}, []float32{1, -2.5})
	if got["half"].DType != safetensors.F16 {
		t.Errorf("half dtype = %s", got["half"].DType)
	}
	if v, err := got["long"].Int64(); err != nil || !slices.Equal(v, []int64{511}) {
		t.Errorf("long = %v, %v", v, err)
	}
}

// TestOrderedDictProtocol4 covers a real state_dict() pickle shape: an
// OrderedDict with a _metadata attribute (BUILD), parameters, memo reuse and
// protocol-4 opcodes.
func TestOrderedDictProtocol4(t *testing.T) {
	var p pk
	p.op(0x80, 4)
	p.op(0x95, 0, 0, 0, 0, 0, 0, 0, 0) // FRAME
	p.op(0x8c, 11).WriteString("collections")
	p.op(0x94)
	p.op(0x8c, 11).WriteString("OrderedDict")
	p.op(0x94, 0x93, 0x94) // STACK_GLOBAL
	p.op(')', 'R', 0x94)
	p.op('(')
	p.str("w")
	p.global("torch._utils", "_rebuild_parameter")
	p.op('(')
	p.tensor("FloatStorage", "0", 2, 0, []int{2}, []int{1})
	p.op(0x88) // requires_grad
	p.global("collections", "OrderedDict").op(')', 'R')
	p.op('t', 'R', 'q', 7)
	p.str("tied").op('h', 7) // the same tensor under a second name
	p.op('u')
	// state = {'_metadata': OrderedDict({'': {'version': 1}})}
	p.op('}', '(').str("_metadata")
	p.global("collections", "OrderedDict").op(')', 'R')
	p.str("").op('}').str("version").int(1).op('s', 's')
	p.op('u', 'b', '.')
	b := makeZip(t, map[string][]byte{
		"model/data.pkl": p.Bytes(),
		"model/data/0":   f32s(1.5, -3),
	})
	got, err := loadBytes(t, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d tensors", len(got))
	}
	for _, name := range []string{"w", "tied"} {
		tn := got[name]
		if tn == nil || tn.Name != name {
			t.Fatalf("%s: %+v", name, tn)
		}
		if v := floats(t, tn); !slices.Equal(v, []float32{1.5, -3}) {
			t.Errorf("%s = %v", name, v)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	okTensor := func(p *pk) { p.tensor("FloatStorage", "0", 2, 0, []int{2}, []int{1}) }
	prog := func(body func(p *pk)) []byte {
		var p pk
		p.op(0x80, 2, '}', '(')
		p.str("x")
		body(&p)
		p.op('u', '.')
		return p.Bytes()
	}
	storage := f32s(1, 2)
	cases := []struct {
		name  string
		files map[string][]byte
		msg   string
	}{
		{"no pickle", map[string][]byte{"archive/data/0": storage}, "data.pkl"},
		{"missing storage", map[string][]byte{"archive/data.pkl": prog(okTensor)}, "missing"},
		{"short storage", map[string][]byte{"archive/data.pkl": prog(okTensor), "archive/data/0": storage[:4]}, "storage 0"},
		{"view beyond storage", map[string][]byte{
			"archive/data.pkl": prog(func(p *pk) { p.tensor("FloatStorage", "0", 2, 1, []int{2}, []int{1}) }),
			"archive/data/0":   storage}, "exceeds"},
		{"huge stride", map[string][]byte{
			"archive/data.pkl": prog(func(p *pk) { p.tensor("FloatStorage", "0", 2, 0, []int{2, 2}, []int{1 << 30, 1 << 30}) }),
			"archive/data/0":   storage}, "exceeds"},
		{"size stride mismatch", map[string][]byte{
			"archive/data.pkl": prog(func(p *pk) { p.tensor("FloatStorage", "0", 2, 0, []int{2}, []int{1, 1}) }),
			"archive/data/0":   storage}, "differ"},
		{"unknown storage", map[string][]byte{
			"archive/data.pkl": prog(func(p *pk) { p.tensor("ComplexStorage", "0", 2, 0, []int{2}, []int{1}) }),
			"archive/data/0":   storage}, "torch.ComplexStorage"},
		{"unknown global", map[string][]byte{
			"archive/data.pkl": prog(func(p *pk) { p.global("os", "system").str("echo").op(0x85, 'R') })}, "os.system"},
		{"not a tensor", map[string][]byte{"archive/data.pkl": prog(func(p *pk) { p.int(3) })}, "not a tensor"},
		{"truncated pickle", map[string][]byte{"archive/data.pkl": prog(okTensor)[:40], "archive/data/0": storage}, "truncated"},
		{"unknown opcode", map[string][]byte{"archive/data.pkl": {0x80, 2, 0xff}}, "unsupported"},
		{"underflow", map[string][]byte{"archive/data.pkl": {0x80, 2, 'R', '.'}}, "underflow"},
		{"bad memo", map[string][]byte{"archive/data.pkl": {0x80, 2, 'h', 9, '.'}}, "memo"},
		{"not a dict", map[string][]byte{"archive/data.pkl": {0x80, 2, 'K', 1, '.'}}, "want a dict"},
		{"unbalanced", map[string][]byte{"archive/data.pkl": {0x80, 2, 'K', 1, 'K', 1, '.'}}, "unbalanced"},
		{"big endian", map[string][]byte{"archive/data.pkl": prog(okTensor), "archive/data/0": storage, "archive/byteorder": []byte("big")}, "byte order"},
		{"unhashable key", map[string][]byte{"archive/data.pkl": {0x80, 2, '}', ')', 'K', 1, 's', '.'}}, "key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadBytes(t, makeZip(t, tc.files))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not mention %q", err, tc.msg)
			}
		})
	}
}

func TestLoadNotZip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "legacy.pt")
	if err := os.WriteFile(path, []byte{0x80, 2, 0x8a, 0x0a, 'l', 0xfc}, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), "legacy") || !strings.Contains(err.Error(), path) {
		t.Errorf("err = %v", err)
	}
}

func TestDecodeLong(t *testing.T) {
	tests := []struct {
		in   []byte
		want int64
	}{
		{nil, 0},
		{[]byte{0xff}, -1},
		{[]byte{0x7f}, 127},
		{[]byte{0x00, 0x80}, -32768},
		{[]byte{0x00, 0x01}, 256},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, 1<<63 - 1},
	}
	for _, tc := range tests {
		if got, err := decodeLong(tc.in); err != nil || got != tc.want {
			t.Errorf("decodeLong(%x) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	if _, err := decodeLong(make([]byte, 9)); err == nil {
		t.Error("9-byte long accepted")
	}
}

func FuzzLoad(f *testing.F) {
	for _, name := range []string{"colbert_linear", "sparse_linear"} {
		pt := filepath.Join("../../testdata/fixtures/xlmr", name+".pt")
		zr, err := zip.OpenReader(pt)
		if err != nil {
			continue
		}
		for _, zf := range zr.File {
			if strings.HasSuffix(zf.Name, "/data.pkl") {
				if b, err := readZipFile(zf, 1<<20); err == nil {
					f.Add(b)
				}
			}
		}
		zr.Close()
	}
	var p pk
	p.op(0x80, 2, '}', '(').str("x").tensor("FloatStorage", "0", 4, 1, []int{2}, []int{2}).op('u', '.')
	f.Add(p.Bytes())
	f.Fuzz(func(t *testing.T, pickle []byte) {
		// Storage sizes that fit colbert_linear.pt's pickle.
		b := makeZip(t, map[string][]byte{
			"archive/data.pkl": pickle,
			"archive/data/0":   make([]byte, 128),
			"archive/data/1":   make([]byte, 4096),
		})
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		load(zr, int64(len(b))) // must not panic
	})
}
