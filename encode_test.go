package sie

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sie-project/sie/internal/golden"
	"github.com/sie-project/sie/tokenizer"
)

// checkSparse compares a sparse vector with a reference {id: weight}: the
// same ids once reference weights below 1e-4 are ignored, values within
// 1e-4, ids strictly ascending and values positive. It returns the max
// difference.
func checkSparse(t *testing.T, label string, got *SparseVector, want map[string]float32) float64 {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: no sparse output", label)
	}
	if len(got.Indices) != len(got.Values) {
		t.Fatalf("%s: %d indices, %d values", label, len(got.Indices), len(got.Values))
	}
	ref := map[int32]float32{}
	for k, v := range want {
		id, err := strconv.Atoi(k)
		if err != nil {
			t.Fatal(err)
		}
		ref[int32(id)] = v
	}
	worst := 0.0
	seen := map[int32]bool{}
	for i, id := range got.Indices {
		if i > 0 && got.Indices[i-1] >= id {
			t.Fatalf("%s: indices not strictly ascending: %v", label, got.Indices)
		}
		v := got.Values[i]
		if !(v > 0) {
			t.Fatalf("%s: id %d has weight %v", label, id, v)
		}
		w, ok := ref[id]
		if !ok {
			if v >= 1e-4 {
				t.Errorf("%s: extra id %d (weight %v)", label, id, v)
			}
			continue
		}
		seen[id] = true
		d := math.Abs(float64(v - w))
		worst = max(worst, d)
		if d > 1e-4 {
			t.Errorf("%s: id %d weight %v, reference %v", label, id, v, w)
		}
	}
	for id, w := range ref {
		if !seen[id] && w >= 1e-4 {
			t.Errorf("%s: missing id %d (reference weight %v)", label, id, w)
		}
	}
	return worst
}

// TestSpladeFixture: BertForMaskedLM + SpladePooling end to end against
// sentence-transformers' SparseEncoder.
func TestSpladeFixture(t *testing.T) {
	e := openEngine(t, Options{})
	ctx := context.Background()
	c, err := golden.Load("splade")
	if err != nil {
		t.Fatal(err)
	}
	var want []map[string]float32
	if err := c.Output("splade_sparse", &want); err != nil {
		t.Fatal(err)
	}
	texts := make([]string, len(c.Inputs))
	for i, in := range c.Inputs {
		texts[i] = in.Text
	}
	if got, err := e.Outputs(ctx, c.Dir); err != nil || got != Sparse {
		t.Fatalf("Outputs = %v, %v; want sparse", got, err)
	}
	l, err := e.model(ctx, c.Dir)
	if err != nil {
		t.Fatal(err)
	}
	seqs, err := l.m.tokenize(texts, &callConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range seqs {
		if fmt.Sprint(s.ids) != fmt.Sprint(realTokens(c.Inputs[i].InputIDs, c.Inputs[i].AttentionMask)) {
			t.Fatalf("text %d ids differ from upstream", i)
		}
	}
	batch, err := e.Encode(ctx, c.Dir, texts, EncodeOptions{Outputs: Sparse})
	if err != nil {
		t.Fatal(err)
	}
	worst, worstBatch, nnz := 0.0, 0.0, 0
	for i, text := range texts {
		worst = max(worst, checkSparse(t, fmt.Sprintf("text %d", i), batch[i].Sparse, want[i]))
		nnz += len(batch[i].Sparse.Indices)
		if batch[i].Dense != nil || batch[i].Multivector != nil {
			t.Fatalf("text %d: outputs that were not asked for", i)
		}
		alone, err := e.Encode(ctx, c.Dir, []string{text}, EncodeOptions{Outputs: Sparse, DType: Int8})
		if err != nil {
			t.Fatal(err)
		}
		worstBatch = max(worstBatch, sparseDiff(t, alone[0].Sparse, batch[i].Sparse))
	}
	if worstBatch > 1e-5 {
		t.Errorf("sparse alone vs batch: max abs diff %.3g > 1e-5", worstBatch)
	}
	// Packed several to a row: each segment pools only its own tokens.
	packed, err := l.m.run(outSparse, l.m.layout(seqs, [][]int{{0, 1, 2}, {3, 4, 5, 6}, {7}, {8, 9, 10, 11}}))
	if err != nil {
		t.Fatal(err)
	}
	worstPacked := 0.0
	for i := range seqs {
		worstPacked = max(worstPacked, sparseDiff(t, packed[i].sparse, batch[i].Sparse))
		checkSparse(t, fmt.Sprintf("packed text %d", i), packed[i].sparse, want[i])
	}
	if worstPacked > 1e-5 {
		t.Errorf("sparse packed vs batch: max abs diff %.3g > 1e-5", worstPacked)
	}
	t.Logf("%d texts, %d entries: max abs diff %.3g; alone vs batch %.3g, packed vs batch %.3g", len(texts), nnz, worst, worstBatch, worstPacked)
}

// sparseDiff is the largest weight difference of two sparse vectors (an id
// missing on one side counts with its whole weight).
func sparseDiff(t *testing.T, a, b *SparseVector) float64 {
	t.Helper()
	m := map[int32]float64{}
	for i, id := range a.Indices {
		m[id] = float64(a.Values[i])
	}
	for i, id := range b.Indices {
		m[id] -= float64(b.Values[i])
	}
	worst := 0.0
	for _, d := range m {
		worst = max(worst, math.Abs(d))
	}
	return worst
}

// colbertGolden is the colbert fixture's golden.json.
type colbertGolden struct {
	Colbert struct {
		QueryLength int     `json:"query_length"`
		SkiplistIDs []int32 `json:"skiplist_ids"`
	} `json:"colbert"`
	Inputs struct {
		Queries   []colbertInput `json:"queries"`
		Documents []colbertInput `json:"documents"`
	} `json:"inputs"`
	Outputs struct {
		Query  [][][]float32 `json:"query_multivector"`
		Doc    [][][]float32 `json:"doc_multivector"`
		MaxSim [][]float32   `json:"maxsim"`
	} `json:"outputs"`
}

type colbertInput struct {
	golden.Input
	Kept       []int `json:"kept_positions"`
	NumVectors int   `json:"num_vectors"`
}

func loadColbert(t *testing.T) (string, colbertGolden) {
	t.Helper()
	dir := golden.Dir("colbert")
	raw, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g colbertGolden
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	return dir, g
}

// checkVectors compares multivectors vector by vector: the same count,
// cosine ≥ 0.99999 and max abs diff ≤ 1e-5 each. It returns the worst
// cosine and difference.
func checkVectors(t *testing.T, label string, got, want [][]float32) (minCos, worst float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d vectors, want %d", label, len(got), len(want))
	}
	minCos = 1
	for k := range got {
		cos, d := golden.Cosine(got[k], want[k]), golden.MaxAbsDiff(got[k], want[k])
		minCos, worst = min(minCos, cos), max(worst, d)
		if cos < 0.99999 || d > 1e-5 {
			t.Fatalf("%s vector %d: cosine %.7f, max abs diff %.3g\n got %s\nwant %s", label, k, cos, d, golden.Head(got[k], 6), golden.Head(want[k], 6))
		}
	}
	return minCos, worst
}

// TestColbertFixture: a PyLate ColBERT model end to end: token ids with
// markers and expansion, per-token vectors, skiplist, MaxSim, and Rerank.
func TestColbertFixture(t *testing.T) {
	e := openEngine(t, Options{})
	ctx := context.Background()
	dir, g := loadColbert(t)
	if got, err := e.Outputs(ctx, dir); err != nil || got != Multivector {
		t.Fatalf("Outputs = %v, %v; want multivector", got, err)
	}
	l, err := e.model(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	skip := slices.Sorted(func(yield func(int32) bool) {
		for id := range l.m.multi.pylate.skip {
			if !yield(id) {
				return
			}
		}
	})
	if fmt.Sprint(skip) != fmt.Sprint(g.Colbert.SkiplistIDs) {
		t.Fatalf("skiplist ids %v, want %v", skip, g.Colbert.SkiplistIDs)
	}
	text := func(ins []colbertInput) []string {
		var out []string
		for _, in := range ins {
			out = append(out, in.Text)
		}
		return out
	}
	queries, docs := text(g.Inputs.Queries), text(g.Inputs.Documents)

	// Token ids exactly as PyLate fed them: queries all 32 positions, with
	// the expansion hidden from attention; documents their real tokens.
	qseqs, err := l.m.multi.pylate.tokenize(l.m, queries, &callConfig{isQuery: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range qseqs {
		in := g.Inputs.Queries[i]
		if fmt.Sprint(s.ids) != fmt.Sprint(in.InputIDs) {
			t.Fatalf("query %d ids:\n got %v\nwant %v", i, s.ids, in.InputIDs)
		}
		for k, typ := range s.types {
			if (typ == hiddenTokenType) != (in.AttentionMask[k] == 0) {
				t.Fatalf("query %d position %d: type %d, attention mask %d", i, k, typ, in.AttentionMask[k])
			}
		}
	}
	dseqs, err := l.m.multi.pylate.tokenize(l.m, docs, &callConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range dseqs {
		in := g.Inputs.Documents[i]
		if want := realTokens(in.InputIDs, in.AttentionMask); fmt.Sprint(s.ids) != fmt.Sprint(want) {
			t.Fatalf("document %d ids:\n got %v\nwant %v", i, s.ids, want)
		}
		var kept []int
		for k, id := range s.ids {
			if !l.m.multi.pylate.skip[id] {
				kept = append(kept, k)
			}
		}
		if fmt.Sprint(kept) != fmt.Sprint(in.Kept) {
			t.Fatalf("document %d kept positions %v, want %v", i, kept, in.Kept)
		}
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
		if len(qs[i].Multivector) != g.Colbert.QueryLength {
			t.Fatalf("query %d: %d vectors, want %d", i, len(qs[i].Multivector), g.Colbert.QueryLength)
		}
		c, d := checkVectors(t, fmt.Sprintf("query %d", i), qs[i].Multivector, g.Outputs.Query[i])
		minCos, worst = min(minCos, c), max(worst, d)
	}
	for i := range docs {
		if n := len(ds[i].Multivector); n != g.Inputs.Documents[i].NumVectors {
			t.Fatalf("document %d: %d vectors, want %d", i, n, g.Inputs.Documents[i].NumVectors)
		}
		c, d := checkVectors(t, fmt.Sprintf("document %d", i), ds[i].Multivector, g.Outputs.Doc[i])
		minCos, worst = min(minCos, c), max(worst, d)
	}
	worstScore, worstRerank := 0.0, 0.0
	for i, q := range qs {
		for j, d := range ds {
			s := MaxSim(q.Multivector, d.Multivector)
			diff := math.Abs(float64(s - g.Outputs.MaxSim[i][j]))
			worstScore = max(worstScore, diff)
			if diff > 2e-4 {
				t.Errorf("MaxSim(query %d, document %d) = %v, reference %v", i, j, s, g.Outputs.MaxSim[i][j])
			}
		}
		ranked, err := e.Rerank(ctx, dir, queries[i], docs)
		if err != nil {
			t.Fatal(err)
		}
		if len(ranked) != len(docs) {
			t.Fatalf("Rerank gave %d results", len(ranked))
		}
		for k, r := range ranked {
			diff := math.Abs(float64(r.Score - g.Outputs.MaxSim[i][r.Index]))
			worstRerank = max(worstRerank, diff)
			if diff > 2e-4 {
				t.Errorf("Rerank query %d document %d: %v, reference %v", i, r.Index, r.Score, g.Outputs.MaxSim[i][r.Index])
			}
			if k > 0 && ranked[k-1].Score < r.Score {
				t.Fatalf("Rerank not sorted")
			}
		}
	}
	t.Logf("vectors: min cosine %.8f, max abs diff %.3g; MaxSim max abs diff %.3g, through Rerank %.3g",
		minCos, worst, worstScore, worstRerank)

	// Batch invariance: each text alone gives what the batch gave.
	worstBatch := 0.0
	for _, set := range []struct {
		texts []string
		batch []Encoding
		query bool
	}{{queries, qs, true}, {docs, ds, false}} {
		for i, text := range set.texts {
			alone, err := e.Encode(ctx, dir, []string{text}, EncodeOptions{Outputs: Multivector, IsQuery: set.query})
			if err != nil {
				t.Fatal(err)
			}
			if len(alone[0].Multivector) != len(set.batch[i].Multivector) {
				t.Fatalf("text %q: %d vectors alone, %d in the batch", text, len(alone[0].Multivector), len(set.batch[i].Multivector))
			}
			for k := range alone[0].Multivector {
				worstBatch = max(worstBatch, golden.MaxAbsDiff(alone[0].Multivector[k], set.batch[i].Multivector[k]))
			}
		}
	}
	if worstBatch > 1e-5 {
		t.Errorf("multivector alone vs batch: max abs diff %.3g > 1e-5", worstBatch)
	}
	t.Logf("multivector alone vs batch: max abs diff %.3g", worstBatch)

	// Packed several to a row: expansion tokens stay hidden inside their
	// own segment only.
	for _, set := range []struct {
		seqs  []sequence
		want  [][][]float32
		query bool
		rows  [][]int
	}{
		{qseqs, g.Outputs.Query, true, [][]int{{0, 1, 2}, {3, 4}, {5, 6}, {7}, {8}}},
		{dseqs, g.Outputs.Doc, false, [][]int{{0, 1, 2, 3}, {4, 5}, {6, 7, 8}, {9}}},
	} {
		res, err := l.m.run(outMulti, l.m.layout(set.seqs, set.rows))
		if err != nil {
			t.Fatal(err)
		}
		for i := range set.seqs {
			checkVectors(t, fmt.Sprintf("packed text %d (query %v)", i, set.query), l.m.multi.keep(set.seqs[i], res[i].tokens, set.query), set.want[i])
		}
	}
}

// bgeM3Dir returns the xlmr fixture (XLM-R + BGE-M3 heads) as a loadable
// directory: the fixture itself when the tokenizer reads its tokenizer.json,
// else a copy whose tokenizer is a WordPiece stand-in over the same
// vocabulary and special tokens (enough for tests that feed recorded token
// ids). without lists files to leave out of the copy.
func bgeM3Dir(t *testing.T, without ...string) (dir string, realTokenizer bool) {
	t.Helper()
	src := golden.Dir("xlmr")
	_, err := tokenizer.FromFile(filepath.Join(src, "tokenizer.json"))
	realTokenizer = err == nil
	if realTokenizer && len(without) == 0 {
		return src, true
	}
	if err != nil && !strings.Contains(err.Error(), "unsupported") {
		t.Fatal(err)
	}
	dir = copyFixture(t, "xlmr")
	for _, f := range without {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	if !realTokenizer {
		writeStandInTokenizer(t, filepath.Join(dir, "tokenizer.json"))
	}
	return dir, realTokenizer
}

// writeStandInTokenizer rewrites a Unigram tokenizer.json as a WordPiece one
// with the same pieces at the same ids, the same added tokens and the same
// post-processor.
func writeStandInTokenizer(t *testing.T, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tj map[string]any
	if err := json.Unmarshal(raw, &tj); err != nil {
		t.Fatal(err)
	}
	model := tj["model"].(map[string]any)
	vocab := map[string]int{}
	for id, entry := range model["vocab"].([]any) {
		piece := entry.([]any)[0].(string)
		if _, dup := vocab[piece]; !dup {
			vocab[piece] = id
		}
	}
	tj["model"] = map[string]any{"type": "WordPiece", "unk_token": "<unk>", "continuing_subword_prefix": "##",
		"max_input_chars_per_word": 100, "vocab": vocab}
	tj["normalizer"] = nil
	tj["pre_tokenizer"] = map[string]any{"type": "WhitespaceSplit"}
	tj["decoder"] = nil
	out, _ := json.Marshal(tj)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// bgeM3Reference is the xlmr fixture's FlagEmbedding outputs.
type bgeM3Reference struct {
	c       *golden.Case
	dense   [][]float32
	sparse  []map[string]float32
	colbert [][][]float32
}

func loadBGEM3(t *testing.T) bgeM3Reference {
	t.Helper()
	c, err := golden.Load("xlmr")
	if err != nil {
		t.Fatal(err)
	}
	r := bgeM3Reference{c: c}
	for k, v := range map[string]any{"bge_m3_dense": &r.dense, "bge_m3_sparse": &r.sparse, "bge_m3_colbert": &r.colbert} {
		if err := c.Output(k, v); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// bgeM3Sequences are the recorded token ids of the xlmr fixture.
func bgeM3Sequences(ref bgeM3Reference) []sequence {
	var seqs []sequence
	for _, in := range ref.c.Inputs {
		ids := realTokens(in.InputIDs, in.AttentionMask)
		seqs = append(seqs, sequence{ids: ids, types: make([]int32, len(ids))})
	}
	return seqs
}

// checkBGEM3 compares results for the recorded inputs with FlagEmbedding's
// and returns the worst dense diff, sparse diff and ColBERT cosine.
func checkBGEM3(t *testing.T, label string, m *model, seqs []sequence, res []result, ref bgeM3Reference) (dense, sparse, cos float64) {
	t.Helper()
	cos = 1
	for i := range seqs {
		c, d := checkEmbedding(t, i, res[i].dense, ref.dense[i])
		_ = c
		dense = max(dense, d)
		sparse = max(sparse, checkSparse(t, fmt.Sprintf("%s text %d", label, i), res[i].sparse, ref.sparse[i]))
		vecs := m.multi.keep(seqs[i], res[i].tokens, false)
		if len(vecs) != len(ref.colbert[i]) {
			t.Fatalf("%s text %d: %d ColBERT vectors, want %d", label, i, len(vecs), len(ref.colbert[i]))
		}
		for k := range vecs {
			cv := golden.Cosine(vecs[k], ref.colbert[i][k])
			cos = min(cos, cv)
			if cv < 0.99999 {
				t.Fatalf("%s text %d vector %d: cosine %.7f\n got %s\nwant %s", label, i, k, cv, golden.Head(vecs[k], 6), golden.Head(ref.colbert[i][k], 6))
			}
		}
	}
	return dense, sparse, cos
}

// TestBGEM3Internals feeds the xlmr fixture's recorded token ids through the
// batch path with all three BGE-M3 outputs, with the heads read from the
// .safetensors copies and from the .pt files alone, packed and alone.
func TestBGEM3Internals(t *testing.T) {
	ref := loadBGEM3(t)
	seqs := bgeM3Sequences(ref)
	all := outDense | outSparse | outMulti
	var first []result
	for _, variant := range []struct {
		name    string
		without []string
	}{
		{"safetensors heads", nil},
		{".pt heads only", []string{"sparse_linear.safetensors", "colbert_linear.safetensors"}},
	} {
		t.Run(variant.name, func(t *testing.T) {
			dir, _ := bgeM3Dir(t, variant.without...)
			e := openEngine(t, Options{})
			l, err := e.model(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			m := l.m
			if got := m.outputs.public(); got != Dense|Sparse|Multivector {
				t.Fatalf("outputs %v, want dense|sparse|multivector", got)
			}
			res, err := m.run(all, m.pack(seqs))
			if err != nil {
				t.Fatal(err)
			}
			dense, sparse, cos := checkBGEM3(t, variant.name, m, seqs, res, ref)
			t.Logf("%s: dense max abs diff %.3g, sparse max abs diff %.3g, ColBERT min cosine %.8f", variant.name, dense, sparse, cos)
			if first == nil {
				first = res
			} else {
				worst := 0.0
				for i := range res {
					worst = max(worst, golden.MaxAbsDiff(res[i].dense, first[i].dense), sparseDiff(t, res[i].sparse, first[i].sparse))
					for k := range res[i].tokens {
						worst = max(worst, golden.MaxAbsDiff(res[i].tokens[k], first[i].tokens[k]))
					}
				}
				if worst != 0 {
					t.Errorf(".pt heads differ from .safetensors heads by %.3g", worst)
				}
			}

			// Packed several to a row, and each alone: the same outputs.
			rows := [][]int{{0, 1, 2}, {3, 4}, {5}, {6, 7, 8}, {9, 10, 11}}
			packed, err := m.run(all, m.layout(seqs, rows))
			if err != nil {
				t.Fatal(err)
			}
			checkBGEM3(t, variant.name+" packed", m, seqs, packed, ref)
			worstSparse, worstMulti := 0.0, 0.0
			for i, s := range seqs {
				alone, err := m.run(all, m.pack([]sequence{s}))
				if err != nil {
					t.Fatal(err)
				}
				for _, other := range []result{res[i], packed[i]} {
					worstSparse = max(worstSparse, sparseDiff(t, alone[0].sparse, other.sparse))
					for k := range alone[0].tokens {
						worstMulti = max(worstMulti, golden.MaxAbsDiff(alone[0].tokens[k], other.tokens[k]))
					}
				}
			}
			if worstSparse > 1e-5 || worstMulti > 1e-5 {
				t.Errorf("alone vs batch vs packed: sparse %.3g, multivector %.3g (want ≤ 1e-5)", worstSparse, worstMulti)
			}
			t.Logf("alone vs batch vs packed: sparse %.3g, multivector %.3g", worstSparse, worstMulti)
		})
	}
}

// TestBGEM3EndToEnd runs the xlmr fixture's texts through Encode. It needs
// the XLM-R Unigram tokenizer.
func TestBGEM3EndToEnd(t *testing.T) {
	ref := loadBGEM3(t)
	if _, err := tokenizer.FromFile(filepath.Join(ref.c.Dir, "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
	e := openEngine(t, Options{})
	texts, _ := fixtureTexts(ref.c)
	got, err := e.Encode(context.Background(), ref.c.Dir, texts, EncodeOptions{Outputs: Dense | Sparse | Multivector})
	if err != nil {
		t.Fatal(err)
	}
	dense, sparse, minCos := 0.0, 0.0, 1.0
	for i := range texts {
		_, d := checkEmbedding(t, i, got[i].Dense, ref.dense[i])
		dense = max(dense, d)
		sparse = max(sparse, checkSparse(t, fmt.Sprintf("text %d", i), got[i].Sparse, ref.sparse[i]))
		c, _ := checkVectorsCosine(t, fmt.Sprintf("text %d", i), got[i].Multivector, ref.colbert[i])
		minCos = min(minCos, c)
	}
	t.Logf("dense max abs diff %.3g, sparse max abs diff %.3g, ColBERT min cosine %.8f", dense, sparse, minCos)
}

// checkVectorsCosine checks only the README's ColBERT criterion (cosine ≥
// 0.99999 per vector, the same count).
func checkVectorsCosine(t *testing.T, label string, got, want [][]float32) (minCos float64, n int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d vectors, want %d", label, len(got), len(want))
	}
	minCos = 1
	for k := range got {
		c := golden.Cosine(got[k], want[k])
		minCos = min(minCos, c)
		if c < 0.99999 {
			t.Fatalf("%s vector %d: cosine %.7f", label, k, c)
		}
	}
	return minCos, len(got)
}

// TestBGEM3Rerank: every score mode equals its definition over Encode's
// outputs (FlagEmbedding's compute_score), the hybrid with the default and
// with explicit weights.
func TestBGEM3Rerank(t *testing.T) {
	dir, _ := bgeM3Dir(t)
	e := openEngine(t, Options{})
	ctx := context.Background()
	query := "capital of France"
	docs := []string{"Paris is the capital of France", "Berlin", "", "the capital city"}
	q, err := e.Encode(ctx, dir, []string{query}, EncodeOptions{Outputs: Dense | Sparse | Multivector, IsQuery: true})
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Encode(ctx, dir, docs, EncodeOptions{Outputs: Dense | Sparse | Multivector})
	if err != nil {
		t.Fatal(err)
	}
	want := func(i int, w [3]float64) float64 {
		dense := dot64(q[0].Dense, d[i].Dense)
		sparse := float64(q[0].Sparse.Dot(*d[i].Sparse))
		colbert := float64(MaxSim(q[0].Multivector, d[i].Multivector)) / float64(len(q[0].Multivector))
		return (w[0]*dense + w[1]*sparse + w[2]*colbert) / (w[0] + w[1] + w[2])
	}
	for _, tc := range []struct {
		opts []Option
		w    [3]float64
	}{
		{nil, [3]float64{0, 0, 1}},
		{[]Option{ScoreBy(ScoreMaxSim)}, [3]float64{0, 0, 1}},
		{[]Option{ScoreBy(ScoreDense)}, [3]float64{1, 0, 0}},
		{[]Option{ScoreBy(ScoreSparse)}, [3]float64{0, 1, 0}},
		{[]Option{ScoreBy(ScoreHybrid)}, [3]float64{0.4, 0.2, 0.4}},
		{[]Option{ScoreBy(ScoreHybrid), HybridWeights(1, 1, 1)}, [3]float64{1, 1, 1}},
		{[]Option{ScoreBy(ScoreHybrid), HybridWeights(1, 0.3, 0)}, [3]float64{1, 0.3, 0}},
	} {
		ranked, err := e.Rerank(ctx, dir, query, docs, tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range ranked {
			if w := want(r.Index, tc.w); math.Abs(float64(r.Score)-w) > 1e-6 {
				t.Errorf("weights %v: document %d scores %v, want %v", tc.w, r.Index, r.Score, w)
			}
		}
	}
	for name, opts := range map[string][]Option{
		"unknown mode":     {ScoreBy("bm25")},
		"negative weights": {ScoreBy(ScoreHybrid), HybridWeights(1, -1, 1)},
		"zero weights":     {ScoreBy(ScoreHybrid), HybridWeights(0, 0, 0)},
		"sigmoid":          {ScoreActivation(ScoreSigmoid)},
	} {
		if _, err := e.Rerank(ctx, dir, query, docs, opts...); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: got %v, want ErrInvalidInput", name, err)
		}
	}
}

// TestDocOnlySparse: a SPLADE checkpoint shipping query weights gives
// queries the weights of their unique token ids without a forward pass;
// documents still run the model.
func TestDocOnlySparse(t *testing.T) {
	ctx := context.Background()
	c, err := golden.Load("splade")
	if err != nil {
		t.Fatal(err)
	}
	var ref []map[string]float32
	if err := c.Output("splade_sparse", &ref); err != nil {
		t.Fatal(err)
	}
	// the=1996 quick=4248 brown=2829 fox=4419 [CLS]=101; "zebra" has no entry.
	table := map[string]float64{"the": 0.5, "quick": 2.25, "brown": 1.5, "fox": 3, "[CLS]": 9, "lazy": 0}
	want := &SparseVector{Indices: []int32{1996, 2829, 4248, 4419}, Values: []float32{0.5, 1.5, 2.25, 3}}
	for _, layout := range []string{"modules.json + idf.json", "no modules.json + query_token_weights.txt"} {
		t.Run(layout, func(t *testing.T) {
			dir := copyFixture(t, "splade")
			if strings.HasPrefix(layout, "modules.json") {
				raw, _ := json.Marshal(table)
				if err := os.WriteFile(filepath.Join(dir, "idf.json"), raw, 0o644); err != nil {
					t.Fatal(err)
				}
			} else {
				for _, f := range []string{"modules.json", "1_SpladePooling/config.json", "1_SpladePooling"} {
					if err := os.Remove(filepath.Join(dir, f)); err != nil {
						t.Fatal(err)
					}
				}
				var sb strings.Builder
				for _, tok := range slices.Sorted(func(yield func(string) bool) {
					for k := range table {
						if !yield(k) {
							return
						}
					}
				}) {
					fmt.Fprintf(&sb, "%s\t%g\n", tok, table[tok])
				}
				if err := os.WriteFile(filepath.Join(dir, "query_token_weights.txt"), []byte(sb.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			e := openEngine(t, Options{})
			q, err := e.Encode(ctx, dir, []string{"The quick brown fox, the zebra and the lazy fox"}, EncodeOptions{Outputs: Sparse, IsQuery: true})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(q[0].Sparse) != fmt.Sprint(want) {
				t.Fatalf("query: got %+v, want %+v", q[0].Sparse, want)
			}
			l, _ := e.model(ctx, dir)
			l.m.execMu.Lock()
			compiled := len(l.m.execs)
			l.m.execMu.Unlock()
			if compiled != 0 {
				t.Fatalf("a query compiled %d graphs; it should not run the model", compiled)
			}
			texts := []string{c.Inputs[0].Text, c.Inputs[1].Text, c.Inputs[2].Text}
			docs, err := e.Encode(ctx, dir, texts, EncodeOptions{Outputs: Sparse})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("document through the model: max abs diff %.3g", checkSparse(t, "document 0", docs[0].Sparse, ref[0]))
			// Rerank by sparse dot product: table weights against SPLADE.
			query := "the quick brown fox"
			qv, err := e.Encode(ctx, dir, []string{query}, EncodeOptions{Outputs: Sparse, IsQuery: true})
			if err != nil {
				t.Fatal(err)
			}
			ranked, err := e.Rerank(ctx, dir, query, texts, ScoreBy(ScoreSparse))
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range ranked {
				if w := qv[0].Sparse.Dot(*docs[r.Index].Sparse); math.Abs(float64(r.Score-w)) > 1e-5 {
					t.Errorf("document %d: Rerank %v, dot %v", r.Index, r.Score, w)
				}
			}
			if _, err := e.Rerank(ctx, dir, query, texts); !errors.Is(err, ErrInvalidInput) {
				t.Errorf("Rerank on a sparse model without ScoreBy: %v, want ErrInvalidInput", err)
			}
		})
	}
}

// TestEncodeDense: Encode's dense output equals Embed, Dims truncates and
// re-normalises, and every dtype is the quantization of the float32 vector.
func TestEncodeDense(t *testing.T) {
	e := openEngine(t, Options{})
	ctx := context.Background()
	dir := golden.Dir("bert-mean")
	texts := mixedTexts(9, 11)
	want, err := e.Embed(ctx, dir, texts, Query())
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.Encode(ctx, dir, texts, EncodeOptions{IsQuery: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range texts {
		if d := golden.MaxAbsDiff(got[i].Dense, want[i]); d > 1e-6 || got[i].Sparse != nil || got[i].Quantized != nil {
			t.Fatalf("text %d: Encode vs Embed %.3g", i, d)
		}
	}
	short, err := e.Encode(ctx, dir, texts, EncodeOptions{IsQuery: true, Dims: 8})
	if err != nil {
		t.Fatal(err)
	}
	for i := range texts {
		v := short[i].Dense
		var ss float64
		for _, x := range v {
			ss += float64(x) * float64(x)
		}
		if len(v) != 8 || math.Abs(math.Sqrt(ss)-1) > 1e-6 || golden.Cosine(v, want[i][:8]) < 0.999999 {
			t.Fatalf("text %d: Dims 8 gave %v (norm %v)", i, v, math.Sqrt(ss))
		}
	}
	for _, dt := range []DType{Float16, Int8, Uint8, Binary} {
		for _, dims := range []int{0, 12} {
			q, err := e.Encode(ctx, dir, texts, EncodeOptions{IsQuery: true, DType: dt, Dims: dims})
			if err != nil {
				t.Fatal(err)
			}
			for i := range texts {
				full := truncateDims(want[i], dims, true)
				ref := quantize(full, dt)
				if q[i].Dense != nil || q[i].Quantized == nil || fmt.Sprint(*q[i].Quantized) != fmt.Sprint(ref) || q[i].Quantized.Dims != len(full) {
					t.Fatalf("%s dims %d text %d: got %+v, want %+v", dt, dims, i, q[i].Quantized, ref)
				}
			}
		}
	}
}

// TestEncodeMultivectorDTypes: each token vector is quantized on its own.
func TestEncodeMultivectorDTypes(t *testing.T) {
	e := openEngine(t, Options{})
	ctx := context.Background()
	dir := golden.Dir("colbert")
	docs := []string{"Paris is the capital of France.", "hello, world"}
	ref, err := e.Encode(ctx, dir, docs, EncodeOptions{Outputs: Multivector})
	if err != nil {
		t.Fatal(err)
	}
	for _, dt := range []DType{Float16, Int8, Uint8, Binary} {
		got, err := e.Encode(ctx, dir, docs, EncodeOptions{Outputs: Multivector, DType: dt})
		if err != nil {
			t.Fatal(err)
		}
		for i := range docs {
			if got[i].Multivector != nil || len(got[i].QuantizedMultivector) != len(ref[i].Multivector) {
				t.Fatalf("%s text %d: %d quantized vectors, want %d", dt, i, len(got[i].QuantizedMultivector), len(ref[i].Multivector))
			}
			for k, v := range ref[i].Multivector {
				if fmt.Sprint(got[i].QuantizedMultivector[k]) != fmt.Sprint(quantize(v, dt)) {
					t.Fatalf("%s text %d vector %d differs", dt, i, k)
				}
			}
		}
	}
	if q := quantize(ref[0].Multivector[0], Binary); q.Dims != 16 || len(q.Data) != 2 {
		t.Fatalf("binary of a 16-d vector: %d dims, %d bytes", q.Dims, len(q.Data))
	}
}

// TestEncodeErrors: outputs a model lacks, unknown outputs and dtypes, and
// bad Dims are ErrInvalidInput; the capability errors name the model.
func TestEncodeErrors(t *testing.T) {
	e := openEngine(t, Options{})
	ctx := context.Background()
	dense, splade, colbert, ce := golden.Dir("bert-mean"), golden.Dir("splade"), golden.Dir("colbert"), golden.Dir("bert-rerank")
	for _, tc := range []struct {
		name  string
		model string
		opts  EncodeOptions
		says  string
	}{
		{"sparse from a dense model", dense, EncodeOptions{Outputs: Sparse}, "cannot give sparse"},
		{"multivector from a dense model", dense, EncodeOptions{Outputs: Dense | Multivector}, "cannot give multivector"},
		{"dense from SPLADE", splade, EncodeOptions{Outputs: Dense}, "cannot give dense"},
		{"dense from ColBERT", colbert, EncodeOptions{}, "cannot give dense"},
		{"cross-encoder", ce, EncodeOptions{}, "cross-encoder"},
		{"unknown output", dense, EncodeOptions{Outputs: 1 << 6}, "unknown output"},
		{"unknown dtype", dense, EncodeOptions{DType: DType(7)}, "unknown dtype"},
		{"Dims too large", dense, EncodeOptions{Dims: 33}, "above the model's dimension 32"},
		{"Dims negative", dense, EncodeOptions{Dims: -1}, "negative"},
		{"Dims without dense", colbert, EncodeOptions{Outputs: Multivector, Dims: 8}, "dense output only"},
		{"invalid UTF-8", splade, EncodeOptions{Outputs: Sparse}, "not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			items := []string{"hello"}
			if tc.name == "invalid UTF-8" {
				items = []string{"ok", "\xff"}
			}
			_, err := e.Encode(ctx, tc.model, items, tc.opts)
			var me *ModelError
			if !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), tc.says) || !errors.As(err, &me) || me.Model != tc.model {
				t.Fatalf("got %v; want ErrInvalidInput for model %q saying %q", err, tc.model, tc.says)
			}
			if strings.HasPrefix(tc.says, "cannot") && !strings.Contains(errors.Unwrap(me).Error(), tc.model) {
				t.Fatalf("%v does not name the model", err)
			}
		})
	}
	if got, err := e.Encode(ctx, dense, nil, EncodeOptions{}); err != nil || len(got) != 0 {
		t.Fatalf("empty list: %v, %v", got, err)
	}
	if _, err := e.Embed(ctx, splade, []string{"x"}); !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), "cannot give dense") {
		t.Fatalf("Embed on SPLADE: %v", err)
	}
	for name, call := range map[string]func() error{
		"Rerank on a dense model": func() error { _, err := e.Rerank(ctx, dense, "q", []string{"d"}); return err },
		"ScoreBy on a cross-encoder": func() error {
			_, err := e.Rerank(ctx, ce, "q", []string{"d"}, ScoreBy(ScoreMaxSim))
			return err
		},
		"dense scores from ColBERT": func() error {
			_, err := e.Rerank(ctx, colbert, "q", []string{"d"}, ScoreBy(ScoreDense))
			return err
		},
		"ScoreBy in Embed": func() error { _, err := e.Embed(ctx, dense, []string{"d"}, ScoreBy(ScoreDense)); return err },
	} {
		if err := call(); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: got %v, want ErrInvalidInput", name, err)
		}
	}
}
