package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/sie-project/sie"
	"github.com/sie-project/sie/internal/golden"
)

// encodeCLI runs `sie encode` on texts and returns the decoded lines.
func encodeCLI(t *testing.T, texts []string, args ...string) []map[string]json.RawMessage {
	t.Helper()
	var in bytes.Buffer
	for _, s := range texts {
		b, _ := json.Marshal(s)
		in.Write(b)
		in.WriteByte('\n')
	}
	var out bytes.Buffer
	if err := run(context.Background(), append([]string{"encode"}, args...), &in, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(texts) {
		t.Fatalf("%d output lines, want %d", len(lines), len(texts))
	}
	var objs []map[string]json.RawMessage
	for i, line := range lines {
		var o map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &o); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		objs = append(objs, o)
	}
	return objs
}

func TestEncodeCommand(t *testing.T) {
	t.Setenv("SIE_CACHE", t.TempDir())
	ctx := context.Background()
	eng, err := sie.Open(sie.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	texts := []string{"Paris is the capital of France.", "", "hello, world!"}

	t.Run("sparse", func(t *testing.T) {
		dir := golden.Dir("splade")
		lines := encodeCLI(t, texts, "--model", dir, "--outputs", "sparse", "--batch", "2")
		want, err := eng.Encode(ctx, dir, texts, sie.EncodeOptions{Outputs: sie.Sparse})
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range lines {
			var sv sie.SparseVector
			if err := json.Unmarshal(l["sparse"], &sv); err != nil || len(l) != 1 {
				t.Fatalf("line %d: %v (fields %v)", i, err, l)
			}
			// The CLI batches differently; values agree to float32 rounding.
			if fmt.Sprint(sv.Indices) != fmt.Sprint(want[i].Sparse.Indices) || golden.MaxAbsDiff(sv.Values, want[i].Sparse.Values) > 1e-5 {
				t.Fatalf("line %d: %v, want %v", i, sv, *want[i].Sparse)
			}
		}
	})
	t.Run("multivector", func(t *testing.T) {
		dir := golden.Dir("colbert")
		lines := encodeCLI(t, texts, "--model", dir, "--outputs", "multivector", "--query")
		want, err := eng.Encode(ctx, dir, texts, sie.EncodeOptions{Outputs: sie.Multivector, IsQuery: true})
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range lines {
			var mv [][]float32
			if err := json.Unmarshal(l["multivector"], &mv); err != nil {
				t.Fatal(err)
			}
			if len(mv) != 32 || len(mv) != len(want[i].Multivector) {
				t.Fatalf("line %d: %d vectors", i, len(mv))
			}
			for k := range mv {
				if d := golden.MaxAbsDiff(mv[k], want[i].Multivector[k]); d > 1e-6 {
					t.Fatalf("line %d vector %d differs by %.3g", i, k, d)
				}
			}
		}
	})
	t.Run("binary dense with dims", func(t *testing.T) {
		dir := golden.Dir("bert-mean")
		lines := encodeCLI(t, texts, "--model", dir, "--dtype", "binary", "--dims", "12")
		want, err := eng.Encode(ctx, dir, texts, sie.EncodeOptions{DType: sie.Binary, Dims: 12})
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range lines {
			var bits []int
			var dims int
			var dt string
			_ = json.Unmarshal(l["dense"], &bits)
			_ = json.Unmarshal(l["dims"], &dims)
			_ = json.Unmarshal(l["dtype"], &dt)
			q := want[i].Quantized
			if dt != "binary" || dims != 12 || len(bits) != 2 || bits[0] != int(q.Data[0]) || bits[1] != int(q.Data[1]) {
				t.Fatalf("line %d: %s", i, fmt.Sprint(l))
			}
		}
	})
	t.Run("int8 dense", func(t *testing.T) {
		dir := golden.Dir("bert-mean")
		lines := encodeCLI(t, texts[:1], "--model", dir, "--dtype", "int8")
		var codes []int8
		if err := json.Unmarshal(lines[0]["dense"], &codes); err != nil || len(codes) != 32 {
			t.Fatalf("int8 line: %v, %s", err, lines[0]["dense"])
		}
		var scale float32
		if err := json.Unmarshal(lines[0]["scale"], &scale); err != nil || scale <= 0 {
			t.Fatalf("int8 line without its scale: %v, %s", err, lines[0]["scale"])
		}
		// The codes times the scale give back the float vector.
		full := encodeCLI(t, texts[:1], "--model", dir)
		var want []float32
		if err := json.Unmarshal(full[0]["dense"], &want); err != nil {
			t.Fatal(err)
		}
		for i, c := range codes {
			if d := float32(c)*scale - want[i]; d > scale || d < -scale {
				t.Fatalf("dimension %d: %d × %g is far from %g", i, c, scale, want[i])
			}
		}
	})
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"--model", golden.Dir("bert-mean"), "--outputs", "dense,colour"}, "unknown output"},
		{[]string{"--model", golden.Dir("bert-mean"), "--dtype", "int4"}, "unknown dtype"},
		{[]string{"--model", golden.Dir("bert-mean"), "--dims", "64"}, "above the model's dimension"},
		{[]string{"--model", golden.Dir("bert-mean"), "--outputs", "sparse"}, "cannot give sparse"},
		{[]string{"--outputs", "dense"}, "--model is required"},
	} {
		err := run(ctx, append([]string{"encode"}, tc.args...), strings.NewReader(`"x"`+"\n"), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%v: got %v, want an error saying %q", tc.args, err, tc.says)
		}
	}
}
