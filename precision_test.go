package sie

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/sie-project/sie/backends"
	"github.com/sie-project/sie/internal/golden"
)

// TestPrecisionFixtures: with weights kept in bfloat16 or float16, every
// fixture's outputs stay within a cosine of 0.999 of float32 (dense and
// multivector vectors, sparse vectors as dense maps) and rerank scores
// within 0.01, and the model counts fewer bytes.
func TestPrecisionFixtures(t *testing.T) {
	ctx := context.Background()
	f32 := openEngine(t, Options{})
	for _, p := range precisionsFor(t, f32) {
		e := openEngine(t, Options{Precision: p})
		check := func(name, what string, got, want []float32) {
			t.Helper()
			if c := golden.Cosine(got, want); c < 0.999 || math.IsNaN(c) {
				t.Errorf("%s %s %s: cosine %.6f < 0.999 against float32 (first values %s vs %s)",
					p, name, what, c, golden.Head(got, 4), golden.Head(want, 4))
			}
		}
		worst := map[string]float64{}
		dense := append(slices.Clone(wordPieceFixtures), "xlmr", "modernbert", "qwen2", "qwen3")
		for _, name := range dense {
			dir, texts := precisionTexts(t, name)
			want, err := f32.Embed(ctx, dir, texts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.Embed(ctx, dir, texts)
			if err != nil {
				t.Fatalf("%s %s: %v", p, name, err)
			}
			for i := range texts {
				check(name, fmt.Sprintf("text %d", i), got[i], want[i])
				worst[name] = max(worst[name], 1-golden.Cosine(got[i], want[i]))
			}
			if gb, wb := e.Stats().Models[dir].Bytes, f32.Stats().Models[dir].Bytes; gb >= wb {
				t.Errorf("%s %s: %d bytes, float32 %d: want fewer", p, name, gb, wb)
			}
		}
		{
			dir, texts := precisionTexts(t, "splade")
			want, err := f32.Encode(ctx, dir, texts, EncodeOptions{Outputs: Sparse})
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.Encode(ctx, dir, texts, EncodeOptions{Outputs: Sparse})
			if err != nil {
				t.Fatal(err)
			}
			for i := range texts {
				g, w := sparseDense(got[i].Sparse, want[i].Sparse)
				check("splade", fmt.Sprintf("text %d", i), g, w)
				worst["splade"] = max(worst["splade"], 1-golden.Cosine(g, w))
			}
		}
		{
			dir, texts := golden.Dir("colbert"), mixedTexts(12, 5) // its golden.json has its own schema
			want, err := f32.Encode(ctx, dir, texts, EncodeOptions{Outputs: Multivector})
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.Encode(ctx, dir, texts, EncodeOptions{Outputs: Multivector})
			if err != nil {
				t.Fatal(err)
			}
			for i := range texts {
				if len(got[i].Multivector) != len(want[i].Multivector) {
					t.Fatalf("%s colbert text %d: %d vectors, float32 %d", p, i, len(got[i].Multivector), len(want[i].Multivector))
				}
				for k := range got[i].Multivector {
					check("colbert", fmt.Sprintf("text %d token %d", i, k), got[i].Multivector[k], want[i].Multivector[k])
					worst["colbert"] = max(worst["colbert"], 1-golden.Cosine(got[i].Multivector[k], want[i].Multivector[k]))
				}
			}
		}
		for _, name := range []string{"bert-rerank", "xlmr-rerank"} {
			dir, texts := precisionTexts(t, name)
			want, err := f32.Rerank(ctx, dir, texts[0], texts[1:])
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.Rerank(ctx, dir, texts[0], texts[1:])
			if err != nil {
				t.Fatal(err)
			}
			score := map[int]float32{}
			for _, r := range want {
				score[r.Index] = r.Score
			}
			for _, r := range got {
				d := math.Abs(float64(r.Score - score[r.Index]))
				worst[name] = max(worst[name], d)
				if d > 0.01 {
					t.Errorf("%s %s doc %d: score %g, float32 %g", p, name, r.Index, r.Score, score[r.Index])
				}
			}
		}
		t.Logf("%s: worst 1-cosine (|Δscore| for rerank) against float32: %v", p, worst)
	}
}

// TestPrecisionRealMiniLM: the real all-MiniLM-L6-v2 in bfloat16 and float16.
func TestPrecisionRealMiniLM(t *testing.T) {
	dir := minilmDir(t)
	texts := mixedTexts(24, 11)
	ctx := context.Background()
	f32 := openEngine(t, Options{})
	want, err := f32.Embed(ctx, dir, texts)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range precisionsFor(t, f32) {
		got, err := openEngine(t, Options{Precision: p}).Embed(ctx, dir, texts)
		if err != nil {
			t.Fatal(err)
		}
		worst := 1.0
		for i := range texts {
			c := golden.Cosine(got[i], want[i])
			worst = min(worst, c)
			if c < 0.999 {
				t.Errorf("%s text %d: cosine %.6f < 0.999", p, i, c)
			}
		}
		t.Logf("%s: lowest cosine against float32 %.6f", p, worst)
	}
}

func TestPrecisionOption(t *testing.T) {
	for s, want := range map[string]Precision{"": Float32Weights, "float32": Float32Weights, "bf16": BFloat16Weights,
		"bfloat16": BFloat16Weights, "float16": Float16Weights, "fp16": Float16Weights} {
		if got, err := ParsePrecision(s); err != nil || got != want {
			t.Errorf("ParsePrecision(%q) = %v, %v; want %v", s, got, err, want)
		}
		if back, err := ParsePrecision(want.String()); err != nil || back != want {
			t.Errorf("ParsePrecision(%v.String()) = %v, %v", want, back, err)
		}
	}
	if _, err := ParsePrecision("int4"); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("ParsePrecision(int4): %v, want ErrInvalidInput", err)
	}
	if _, err := Open(Options{Precision: 7}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("Open with precision 7: %v, want ErrInvalidInput", err)
	}
}

// precisionsFor lists the reduced precisions the engine's backend offers
// (the ONNX backend has no half-precision buffers: Open says so).
func precisionsFor(t *testing.T, e *Engine) []Precision {
	if e.Backend() == backends.ONNX {
		for _, p := range []Precision{BFloat16Weights, Float16Weights} {
			if _, err := Open(Options{Backend: backends.Config{Kind: backends.ONNX}, Precision: p}); !errors.Is(err, ErrInvalidInput) {
				t.Errorf("Open(onnx, %s): %v, want ErrInvalidInput", p, err)
			}
		}
		return nil
	}
	return []Precision{BFloat16Weights, Float16Weights}
}

// precisionTexts returns a fixture's folder and its upstream input texts.
func precisionTexts(t *testing.T, name string) (string, []string) {
	t.Helper()
	c, err := golden.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, in := range c.Inputs {
		if in.Text != "" {
			texts = append(texts, in.Text)
		}
	}
	if len(texts) < 2 {
		texts = append(texts, mixedTexts(8, 3)...)
	}
	return c.Dir, texts
}

// sparseDense puts two sparse vectors on their common index set.
func sparseDense(a, b *SparseVector) ([]float32, []float32) {
	idx := map[int32]int{}
	for _, v := range []*SparseVector{a, b} {
		for _, i := range v.Indices {
			if _, ok := idx[i]; !ok {
				idx[i] = len(idx)
			}
		}
	}
	da, db := make([]float32, len(idx)), make([]float32, len(idx))
	for k, i := range a.Indices {
		da[idx[i]] = a.Values[k]
	}
	for k, i := range b.Indices {
		db[idx[i]] = b.Values[k]
	}
	return da, db
}
