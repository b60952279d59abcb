package sie

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/sie-project/sie/internal/golden"
	"github.com/sie-project/sie/internal/safetensors"
)

// stanfordFromPylate lays the PyLate ColBERT fixture out as Stanford
// ColBERT saves a checkpoint: HF_ColBERT in config.json, BERT under
// "bert.", the 1_Dense projection as the root linear.weight, the settings in
// artifact.metadata, and no sentence-transformers files.
func stanfordFromPylate(t *testing.T, metadata map[string]any) string {
	t.Helper()
	src := golden.Dir("colbert")
	dir := t.TempDir()
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"} {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var cfg map[string]any
	raw, _ := os.ReadFile(filepath.Join(src, "config.json"))
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["architectures"] = []string{"HF_ColBERT"}
	raw, _ = json.Marshal(cfg)
	os.WriteFile(filepath.Join(dir, "config.json"), raw, 0o644)
	raw, _ = json.Marshal(metadata)
	os.WriteFile(filepath.Join(dir, "artifact.metadata"), raw, 0o644)

	var ts []safetensors.WriteTensor
	add := func(file, prefix string) {
		f, err := safetensors.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range f.Names() {
			x, _ := f.Tensor(n)
			ts = append(ts, safetensors.WriteTensor{Name: prefix + n, DType: x.DType, Shape: x.Shape, Data: x.Bytes()})
		}
	}
	add(filepath.Join(src, "model.safetensors"), "bert.")
	add(filepath.Join(src, "1_Dense", "model.safetensors"), "") // linear.weight
	out, err := os.Create(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := safetensors.Write(out, ts, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestStanfordColbert: a Stanford-layout checkpoint gives the token vectors
// and MaxSim scores PyLate computed upstream for the same weights (the
// PyLate fixture's goldens), since both apply the same recipe.
func TestStanfordColbert(t *testing.T) {
	_, g := loadColbert(t)
	dir := stanfordFromPylate(t, map[string]any{
		"query_token_id": "[unused0]", "doc_token_id": "[unused1]", "query_maxlen": g.Colbert.QueryLength,
		"doc_maxlen": 180, "mask_punctuation": true, "attend_to_mask_tokens": false, "dim": 16, "similarity": "cosine",
	})
	e := openEngine(t, Options{})
	ctx := context.Background()
	if got, err := e.Outputs(ctx, dir); err != nil || got != Multivector {
		t.Fatalf("Outputs = %v, %v; want multivector", got, err)
	}
	var queries, docs []string
	for _, in := range g.Inputs.Queries {
		queries = append(queries, in.Text)
	}
	for _, in := range g.Inputs.Documents {
		docs = append(docs, in.Text)
	}
	qs, err := e.Encode(ctx, dir, queries, EncodeOptions{Outputs: Multivector, IsQuery: true})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := e.Encode(ctx, dir, docs, EncodeOptions{Outputs: Multivector})
	if err != nil {
		t.Fatal(err)
	}
	minCos, worst := 1.0, 0.0
	for i := range queries {
		c, d := checkVectors(t, fmt.Sprintf("query %d", i), qs[i].Multivector, g.Outputs.Query[i])
		minCos, worst = min(minCos, c), max(worst, d)
	}
	for i := range docs {
		c, d := checkVectors(t, fmt.Sprintf("document %d", i), ds[i].Multivector, g.Outputs.Doc[i])
		minCos, worst = min(minCos, c), max(worst, d)
	}
	worstScore := 0.0
	for i := range queries {
		ranked, err := e.Rerank(ctx, dir, queries[i], docs)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range ranked {
			diff := math.Abs(float64(r.Score - g.Outputs.MaxSim[i][r.Index]))
			worstScore = max(worstScore, diff)
			if diff > 2e-4 {
				t.Errorf("Rerank query %d document %d: %v, reference %v", i, r.Index, r.Score, g.Outputs.MaxSim[i][r.Index])
			}
		}
	}
	t.Logf("Stanford layout vs PyLate upstream: min cosine %.7f, max abs diff %.3g, MaxSim diff %.3g", minCos, worst, worstScore)

	// Without punctuation masking every document token keeps its vector.
	dir = stanfordFromPylate(t, map[string]any{"query_maxlen": g.Colbert.QueryLength, "mask_punctuation": false})
	ds2, err := e.Encode(ctx, dir, docs, EncodeOptions{Outputs: Multivector})
	if err != nil {
		t.Fatal(err)
	}
	more := false
	for i := range docs {
		if len(ds2[i].Multivector) < len(ds[i].Multivector) {
			t.Fatalf("document %d: %d vectors unmasked < %d masked", i, len(ds2[i].Multivector), len(ds[i].Multivector))
		}
		more = more || len(ds2[i].Multivector) > len(ds[i].Multivector)
	}
	if !more {
		t.Error("mask_punctuation false kept no more vectors")
	}

	// A dim that disagrees with linear.weight is refused.
	dir = stanfordFromPylate(t, map[string]any{"dim": 128})
	if _, err := e.Outputs(ctx, dir); err == nil {
		t.Error("dim 128 with a 16-wide linear.weight accepted")
	}
}
