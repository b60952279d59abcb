package pytorch

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMaliciousPickles feeds checkpoints that would run code (or call a
// constructor) under Python's pickle, one per opcode path, through Load from
// a file, and checks each is refused with an error naming what it tried.
func TestMaliciousPickles(t *testing.T) {
	// dict wraps a value under key "x" in a protocol-2 state dict.
	dict := func(body func(p *pk)) []byte {
		var p pk
		p.op(0x80, 2, '}', '(')
		p.str("x")
		body(&p)
		p.op('u', '.')
		return p.Bytes()
	}
	cases := []struct {
		name string
		pkl  []byte
		says string
	}{
		{"GLOBAL builtins.eval + REDUCE", dict(func(p *pk) {
			p.global("builtins", "eval").str("__import__('os').system('id')").op(0x85, 'R')
		}), "GLOBAL names builtins.eval, which is not on the allowlist"},
		{"GLOBAL posix.system + REDUCE", dict(func(p *pk) {
			p.global("posix", "system").str("id").op(0x85, 'R')
		}), "GLOBAL names posix.system"},
		{"STACK_GLOBAL subprocess.Popen", dict(func(p *pk) {
			p.str("subprocess").str("Popen").op(0x93)
			p.op('(', ']').str("id").op('a', 't', 'R')
		}), "STACK_GLOBAL names subprocess.Popen"},
		{"STACK_GLOBAL builtins.getattr (attribute walk)", dict(func(p *pk) {
			p.str("builtins").str("getattr").op(0x93)
		}), "STACK_GLOBAL names builtins.getattr"},
		{"GLOBAL torch module class", dict(func(p *pk) {
			p.global("torch.nn.modules.linear", "Linear").op(')', 'R')
		}), "GLOBAL names torch.nn.modules.linear.Linear"},
		{"GLOBAL torch.load itself", dict(func(p *pk) {
			p.global("torch", "load").str("other.pt").op(0x85, 'R')
		}), "GLOBAL names torch.load"},
		{"INST os.system", dict(func(p *pk) {
			p.op('(').str("id")
			p.WriteString("ios\nsystem\n")
		}), "INST names os.system"},
		{"INST of an allowlisted class", dict(func(p *pk) {
			p.op('(')
			p.WriteString("icollections\nOrderedDict\n")
		}), "INST collections.OrderedDict"},
		{"OBJ", dict(func(p *pk) {
			p.op('(').global("collections", "OrderedDict").op('o')
		}), "OBJ on collections.OrderedDict"},
		{"NEWOBJ", dict(func(p *pk) {
			p.global("collections", "OrderedDict").op(')', 0x81)
		}), "NEWOBJ on collections.OrderedDict"},
		{"NEWOBJ_EX", dict(func(p *pk) {
			p.global("torch._utils", "_rebuild_tensor_v2").op(')', '}', 0x92)
		}), "NEWOBJ_EX on torch._utils._rebuild_tensor_v2"},
		{"BUILD on a class", dict(func(p *pk) {
			p.global("collections", "OrderedDict").op('}', 'b')
		}), "BUILD on collections.OrderedDict"},
		{"BUILD on a string", dict(func(p *pk) {
			p.str("s").op('}', 'b')
		}), "BUILD on a str"},
		{"BUILD state naming builtins.exec", dict(func(p *pk) {
			p.global("collections", "OrderedDict").op(')', 'R')
			p.op('}').str("__setstate__").global("builtins", "exec").op('s', 'b')
		}), "GLOBAL names builtins.exec"},
		{"REDUCE on a storage type", dict(func(p *pk) {
			p.global("torch", "FloatStorage").op(')', 'R')
		}), "REDUCE on torch.FloatStorage, which is not callable here"},
		{"REDUCE on a non-global", dict(func(p *pk) {
			p.str("os.system").op(')', 'R')
		}), "REDUCE on a str"},
		{"EXT1", dict(func(p *pk) { p.op(0x82, 1) }), "EXT1"},
		{"EXT2", dict(func(p *pk) { p.op(0x83, 1, 0) }), "EXT2"},
		{"EXT4", dict(func(p *pk) { p.op(0x84, 1, 0, 0, 0) }), "EXT4"},
		{"PERSID text id", dict(func(p *pk) { p.WriteString("P/etc/passwd\n") }), `text persistent id "/etc/passwd"`},
		{"BINPERSID other than a storage", dict(func(p *pk) {
			p.op('(').str("module").global("torch", "FloatStorage").str("0").str("cpu").int(1).op('t', 'Q')
		}), "persistent id of kind module"},
		{"BINPERSID storage key escaping the archive", dict(func(p *pk) {
			p.op('(').str("storage").global("torch", "FloatStorage").str("../../etc/passwd").str("cpu").int(1).op('t', 'Q')
		}), `bad storage key ../../etc/passwd`},
		{"BINPERSID storage type not allowlisted", dict(func(p *pk) {
			p.op('(').str("storage").global("os", "system").str("0").str("cpu").int(1).op('t', 'Q')
		}), "GLOBAL names os.system"},
		{"rebuild over a class instead of a storage", dict(func(p *pk) {
			p.global("torch._utils", "_rebuild_tensor_v2")
			p.op('(').global("collections", "OrderedDict").int(0).ints([]int{1}).ints([]int{1}).op('t', 'R')
		}), "tensor storage is a global"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "evil.pt")
			if err := os.WriteFile(path, makeZip(t, map[string][]byte{
				"archive/data.pkl": tc.pkl,
				"archive/data/0":   f32s(1),
			}), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := Load(path)
			if err == nil {
				t.Fatalf("loaded %d tensors; want an error mentioning %q", len(got), tc.says)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("error %q does not mention %q", err, tc.says)
			}
		})
	}
}

// TestAllowlist pins the allowlist: adding a global is a decision to make
// here, with a reason, not a side effect.
func TestAllowlist(t *testing.T) {
	want := map[global]bool{
		{"collections", "OrderedDict"}:                    true,
		{"torch._utils", "_rebuild_tensor_v2"}:            true,
		{"torch._utils", "_rebuild_tensor"}:               true,
		{"torch._utils", "_rebuild_parameter"}:            true,
		{"torch._utils", "_rebuild_parameter_with_state"}: true,
	}
	for _, s := range []string{"Float", "Half", "BFloat16", "Double", "Long", "Int", "Short", "Char", "Byte", "Bool"} {
		want[global{"torch", s + "Storage"}] = true
	}
	for g := range allowedGlobals {
		if !want[g] {
			t.Errorf("%s.%s is allowlisted", g.module, g.name)
		}
	}
	for g := range want {
		if !allowedGlobals[g] {
			t.Errorf("%s.%s is missing from the allowlist", g.module, g.name)
		}
	}
}

// TestZipBomb: a storage entry that decompresses to far more than the
// archive's size is refused from its declared size, before it is read; one
// that lies about its size is cut at the limit.
func TestZipBomb(t *testing.T) {
	const numel = 16 << 20 // 64 MiB of float32 zeros, about 64 KiB deflated
	var p pk
	p.op(0x80, 2, '}', '(').str("x").tensor("FloatStorage", "0", numel, 0, []int{numel}, []int{1}).op('u', '.')

	var zeros bytes.Buffer
	fw, _ := flate.NewWriter(&zeros, flate.BestCompression)
	chunk := make([]byte, 1<<20)
	for range numel * 4 / len(chunk) {
		fw.Write(chunk)
	}
	fw.Close()
	crc := crc32.NewIEEE()
	for range numel * 4 / len(chunk) {
		crc.Write(chunk)
	}

	for _, tc := range []struct {
		name     string
		declared uint64
		says     string
	}{
		{"honest header", numel * 4, "more than an archive of this size may hold"},
		{"lying header", 16, "storage 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			zw := zip.NewWriter(&buf)
			w, _ := zw.Create("archive/data.pkl")
			w.Write(p.Bytes())
			w, err := zw.CreateRaw(&zip.FileHeader{Name: "archive/data/0", Method: zip.Deflate,
				CRC32: crc.Sum32(), CompressedSize64: uint64(zeros.Len()), UncompressedSize64: tc.declared})
			if err != nil {
				t.Fatal(err)
			}
			w.Write(zeros.Bytes())
			zw.Close()
			b := buf.Bytes()
			if len(b) > 1<<20 {
				t.Fatalf("bomb is %d bytes", len(b))
			}
			_, err = loadBytes(t, b)
			t.Log(err)
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("err = %v; want one mentioning %q", err, tc.says)
			}
		})
	}
}

// TestViewAmplification: many strided views of one storage would each copy
// it; their copies together may not exceed the storages' bytes (plus a small
// allowance), so a tiny archive cannot ask for gigabytes.
func TestViewAmplification(t *testing.T) {
	const n = 1 << 14 // 64 KiB storage
	var p pk
	p.op(0x80, 2, '}', '(')
	for i := range 64 {
		p.str(string(rune('A'+i%26)) + strings.Repeat("x", i/26))
		p.tensor("FloatStorage", "0", n, 0, []int{n / 128, 128}, []int{1, n / 128}) // a transpose: copied
	}
	p.op('u', '.')
	_, err := loadBytes(t, makeZip(t, map[string][]byte{
		"archive/data.pkl": p.Bytes(),
		"archive/data/0":   make([]byte, 4*n),
	}))
	if err == nil || !strings.Contains(err.Error(), "copy more bytes than the checkpoint's storages hold") {
		t.Fatalf("err = %v", err)
	}
}

// FuzzLoadArchive fuzzes whole .pt files (zip directory, entry headers,
// compression, pickle and storages together), where FuzzLoad fuzzes the
// pickle inside a well-formed archive. Beyond not panicking: every tensor
// returned has exactly the bytes its dtype and shape call for, and they all
// add up to no more than the archive's size allows.
func FuzzLoadArchive(f *testing.F) {
	for _, name := range []string{"colbert_linear", "sparse_linear"} {
		if b, err := os.ReadFile(filepath.Join("../../testdata/fixtures/xlmr", name+".pt")); err == nil {
			f.Add(b)
		}
	}
	var p pk
	p.op(0x80, 2, '}', '(').str("x").tensor("FloatStorage", "0", 4, 1, []int{2}, []int{2})
	p.str("y").tensor("HalfStorage", "1", 2, 0, []int{2, 1}, []int{1, 1}).op('u', '.')
	f.Add(makeZip(f, map[string][]byte{
		"archive/data.pkl":  p.Bytes(),
		"archive/data/0":    f32s(1, 2, 3, 4),
		"archive/data/1":    {0, 0x3c, 0, 0x40},
		"archive/byteorder": []byte("little"),
	}))
	var deflated bytes.Buffer
	zw := zip.NewWriter(&deflated)
	w, _ := zw.Create("archive/data.pkl") // Create deflates
	w.Write(p.Bytes())
	w, _ = zw.Create("archive/data/0")
	w.Write(f32s(1, 2, 3, 4))
	w, _ = zw.Create("archive/data/1")
	w.Write([]byte{0, 0x3c, 0, 0x40})
	zw.Close()
	f.Add(deflated.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		got, err := load(zr, int64(len(b)))
		if err != nil {
			return
		}
		total := 0
		seen := map[*byte]bool{} // one tensor may be stored under several names
		for name, tn := range got {
			n := tn.DType.Size()
			for _, d := range tn.Shape {
				n *= d
			}
			if len(tn.Bytes()) != n {
				t.Fatalf("%s: %d bytes for %s %v", name, len(tn.Bytes()), tn.DType, tn.Shape)
			}
			if n > 0 && !seen[&tn.Bytes()[0]] {
				seen[&tn.Bytes()[0]] = true
				total += n
			}
		}
		if total > 2*(maxExpansion*len(b)+1<<16) {
			t.Fatalf("%d bytes of tensors from a %d-byte archive", total, len(b))
		}
	})
}
