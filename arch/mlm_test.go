package arch_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"

	"github.com/sie-project/sie/arch"
	"github.com/sie-project/sie/internal/golden"
)

// TestBertForMaskedLM checks the splade fixture: hidden states and the probe
// of raw MLM logits (decoder tied to the word embeddings, bias from
// cls.predictions.bias).
func TestBertForMaskedLM(t *testing.T) {
	c, m := loadArch(t, "splade")
	mlm, ok := m.enc.(arch.MaskedLM)
	if !ok {
		t.Fatalf("%T is not a MaskedLM", m.enc)
	}
	if mlm.Info().Architecture != "BertForMaskedLM" || mlm.VocabSize() != 30522 {
		t.Fatalf("got %s with %d logits", mlm.Info().Architecture, mlm.VocabSize())
	}
	var hidden [][][]float32
	if err := c.Output("last_hidden_state", &hidden); err != nil {
		t.Fatal(err)
	}
	t.Logf("hidden: max abs diff %.3g", checkHidden(t, m, c.Inputs, hidden, "splade"))

	var probe struct {
		Text   int         `json:"text_index"`
		Vocab  []int       `json:"vocab_ids"`
		Values [][]float32 `json:"values"`
	}
	if err := c.Output("mlm_logits_probe", &probe); err != nil {
		t.Fatal(err)
	}
	in := c.Inputs[probe.Text]
	logits := runMLM(t, m, rowsFromInputs([]golden.Input{in}, 0))[0]
	v := mlm.VocabSize()
	worst := 0.0
	for tok, want := range probe.Values {
		if in.AttentionMask[tok] == 0 {
			continue
		}
		got := make([]float32, len(probe.Vocab))
		for k, id := range probe.Vocab {
			got[k] = logits[tok*v+id]
		}
		d := golden.MaxAbsDiff(got, want)
		worst = max(worst, d)
		if d > 1e-4 {
			t.Fatalf("token %d: MLM logits max abs diff %.3g > 1e-4\n got %v\nwant %v", tok, d, got, want)
		}
	}
	t.Logf("MLM logits probe (%d tokens × %d ids): max abs diff %.3g", len(probe.Values), len(probe.Vocab), worst)
}

// TestMaskedLMTensors: a stored tied decoder weight is ignored, a missing
// bias is reported, and an untied decoder is taken.
func TestMaskedLMTensors(t *testing.T) {
	c, _ := golden.Load("splade")
	config := fixtureConfig(t, c.Dir, nil)
	src := fixtureSource(t, c.Dir, "")
	words := src.data["bert.embeddings.word_embeddings.weight"]
	src.add("cls.predictions.decoder.weight", []int{30522, 32}, words)
	if _, _, err := buildArch(config, src); err != nil {
		t.Fatalf("tied decoder weight stored: %v", err)
	}
	untied := fixtureConfig(t, c.Dir, map[string]any{"tie_word_embeddings": false})
	enc, w, err := buildArch(untied, src)
	if err != nil {
		t.Fatalf("untied decoder: %v", err)
	}
	if enc.(arch.MaskedLM).VocabSize() != 30522 || len(w.Params()) == 0 {
		t.Fatal("untied decoder not built")
	}
	noBias := fixtureSource(t, c.Dir, "")
	delete(noBias.data, "cls.predictions.bias")
	var names []string
	for _, n := range noBias.names {
		if n != "cls.predictions.bias" {
			names = append(names, n)
		}
	}
	noBias.names = names
	if _, _, err := buildArch(config, noBias); err == nil {
		t.Fatal("missing cls.predictions.bias accepted")
	}
}

// TestQueryOnlyTokens: tokens numbered −s attend to segment s while nothing
// attends to them, which is ColBERT's query expansion with
// attend_to_expansion_tokens false. The colbert fixture records the BERT
// output at every one of the 32 query positions, [MASK] expansions included.
func TestQueryOnlyTokens(t *testing.T) {
	dir := golden.Dir("colbert")
	enc, w, err := buildArch(fixtureConfig(t, dir, nil), fixtureSource(t, dir, ""))
	if err != nil {
		t.Fatal(err)
	}
	m := archModel{enc: enc, params: w.Params()}
	var doc struct {
		Inputs struct {
			Queries []golden.Input `json:"queries"`
		} `json:"inputs"`
		Outputs struct {
			Hidden [][][]float32 `json:"query_last_hidden_state"`
		} `json:"outputs"`
	}
	readGolden(t, dir, &doc)
	qs := doc.Inputs.Queries
	r := newArchRows(len(qs), len(qs[0].InputIDs))
	for i, in := range qs {
		for j, id := range in.InputIDs {
			k := i*r.t + j
			r.ids[k], r.pos[k], r.segs[k] = int32(id), int32(j), 1
			if in.AttentionMask[j] == 0 {
				r.segs[k] = -1
			}
		}
	}
	got, _ := m.run(t, r, nil)
	h := enc.Info().HiddenSize
	all := make([]int, r.t)
	for j := range all {
		all[j] = j
	}
	worst := 0.0
	for i := range qs {
		worst = max(worst, hiddenDiff(t, "query "+itoa(i), got[i], all, doc.Outputs.Hidden[i], all, h, 1e-4))
	}
	t.Logf("all 32 query positions, expansions included: max abs diff %.3g", worst)
}

func readGolden(t *testing.T, dir string, v any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatal(err)
	}
}

// runMLM runs a masked-LM encoder on rows and returns the logits per row,
// [B][T·V].
func runMLM(t *testing.T, m archModel, r archRows) [][]float32 {
	t.Helper()
	mlm := m.enc.(arch.MaskedLM)
	_, logits := m.runWith(t, r, func(p arch.Params, h *Node, _ []*Node) *Node { return mlm.MLMLogits(p, h) }, nil)
	return logits
}

// TestRobertaForMaskedLM: the XLM-R fixture's encoder (checked against
// upstream's hidden states) under "roberta." with a RobertaLMHead of random
// weights; the logits must equal the head computed on the host in float64
// (dense, exact GELU, LayerNorm, tied decoder, lm_head.bias) from those
// hidden states.
func TestRobertaForMaskedLM(t *testing.T) {
	c, _ := golden.Load("xlmr")
	const h, v, eps = 32, 8002, 1e-5
	rnd := func(n int, seed float64) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(math.Sin(seed*float64(i+1)) * 0.2)
		}
		return x
	}
	dw, db, nw, nb, bias := rnd(h*h, 1.3), rnd(h, 2.9), rnd(h, 3.7), rnd(h, 4.1), rnd(v, 5.3)
	for i := range nw {
		nw[i] += 1
	}
	for _, name := range []string{"RobertaForMaskedLM", "XLMRobertaForMaskedLM"} {
		src := fixtureSource(t, c.Dir, "roberta.")
		src.add("lm_head.dense.weight", []int{h, h}, dw)
		src.add("lm_head.dense.bias", []int{h}, db)
		src.add("lm_head.layer_norm.weight", []int{h}, nw)
		src.add("lm_head.layer_norm.bias", []int{h}, nb)
		src.add("lm_head.bias", []int{v}, bias)
		src.add("lm_head.decoder.bias", []int{v}, bias) // the same tensor, stored twice by some savers
		enc, w, err := buildArch(fixtureConfig(t, c.Dir, map[string]any{"architectures": []string{name}}), src)
		if err != nil {
			t.Fatal(err)
		}
		m := archModel{enc: enc, params: w.Params()}
		mlm := enc.(arch.MaskedLM)
		if mlm.VocabSize() != v || enc.Info().Architecture != name {
			t.Fatalf("%s: vocabulary %d, architecture %s", name, mlm.VocabSize(), enc.Info().Architecture)
		}
		var want [][][]float32
		if err := c.Output("last_hidden_state", &want); err != nil {
			t.Fatal(err)
		}
		checkHidden(t, m, c.Inputs, want, name)
		r := rowsFromInputs(c.Inputs[:2], enc.Info().PositionOffset)
		hidden, _ := m.run(t, r, nil)
		logits := runMLM(t, m, r)
		emb := src.data["roberta.embeddings.word_embeddings.weight"]
		worst := 0.0
		for row := range 2 {
			for _, tok := range realTokens(c.Inputs[row]) {
				ref := refRobertaHead(hidden[row][tok*h:(tok+1)*h], dw, db, nw, nb, emb, bias, eps)
				got := logits[row][tok*v : (tok+1)*v]
				d := golden.MaxAbsDiff(got, ref)
				worst = max(worst, d)
				if d > 1e-4 {
					t.Fatalf("%s text %d token %d: logits max abs diff %.3g\n got %s\nwant %s", name, row, tok, d, golden.Head(got, 6), golden.Head(ref, 6))
				}
			}
		}
		t.Logf("%s: MLM logits vs float64 host head: max abs diff %.3g", name, worst)
	}
}

// refRobertaHead is RobertaLMHead in float64 for one token.
func refRobertaHead(x []float32, dw, db, nw, nb, emb, bias []float32, eps float64) []float32 {
	h := len(x)
	y := make([]float64, h)
	for o := range h {
		s := float64(db[o])
		for i := range h {
			s += float64(dw[o*h+i]) * float64(x[i])
		}
		y[o] = 0.5 * s * (1 + math.Erf(s/math.Sqrt2))
	}
	var mean, variance float64
	for _, a := range y {
		mean += a
	}
	mean /= float64(h)
	for _, a := range y {
		variance += (a - mean) * (a - mean)
	}
	variance /= float64(h)
	for i := range y {
		y[i] = (y[i]-mean)/math.Sqrt(variance+eps)*float64(nw[i]) + float64(nb[i])
	}
	out := make([]float32, len(bias))
	for k := range out {
		s := float64(bias[k])
		for i := range h {
			s += float64(emb[k*h+i]) * y[i]
		}
		out[k] = float32(s)
	}
	return out
}
