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

// TestMaskedLMHeads: the RoBERTa and NewModel (GTE) masked-LM heads on
// their fixtures' encoders (checked against upstream's hidden states), with
// head weights of random values; the logits must equal the head computed on
// the host in float64 (dense, exact GELU, LayerNorm, tied decoder, bias)
// from those hidden states.
func TestMaskedLMHeads(t *testing.T) {
	for _, tc := range []struct {
		arch, fixture, prefix string
		names                 [5]string // dense.weight, dense.bias, norm.weight, norm.bias, bias
		vocab                 int
		eps                   float64
	}{
		{"RobertaForMaskedLM", "xlmr", "roberta.", [5]string{"lm_head.dense.weight", "lm_head.dense.bias", "lm_head.layer_norm.weight", "lm_head.layer_norm.bias", "lm_head.bias"}, 8002, 1e-5},
		{"XLMRobertaForMaskedLM", "xlmr", "roberta.", [5]string{"lm_head.dense.weight", "lm_head.dense.bias", "lm_head.layer_norm.weight", "lm_head.layer_norm.bias", "lm_head.bias"}, 8002, 1e-5},
		{"NewForMaskedLM", "newmodel", "new.", [5]string{"lm_head.dense.weight", "lm_head.dense.bias", "lm_head.norm.weight", "lm_head.norm.bias", "lm_head.decoder.bias"}, 30528, 1e-12},
	} {
		t.Run(tc.arch, func(t *testing.T) {
			c, _ := golden.Load(tc.fixture)
			const h = 32
			rnd := func(n int, seed float64) []float32 {
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(math.Sin(seed*float64(i+1)) * 0.2)
				}
				return x
			}
			dw, db, nw, nb, bias := rnd(h*h, 1.3), rnd(h, 2.9), rnd(h, 3.7), rnd(h, 4.1), rnd(tc.vocab, 5.3)
			for i := range nw {
				nw[i] += 1
			}
			config := fixtureConfig(t, c.Dir, map[string]any{"architectures": []string{tc.arch}})
			// Without the head the checkpoint is a plain encoder.
			if enc, _, err := buildArch(config, fixtureSource(t, c.Dir, tc.prefix)); err == nil {
				if _, ok := enc.(arch.MaskedLM); ok {
					t.Fatal("a checkpoint without a head gives MLM logits")
				}
			} else if tc.arch == "NewForMaskedLM" {
				t.Fatalf("NewForMaskedLM without a head: %v", err)
			}
			src := fixtureSource(t, c.Dir, tc.prefix)
			for i, x := range [][]float32{dw, db, nw, nb, bias} {
				shape := []int{len(x)}
				if i == 0 {
					shape = []int{h, h}
				}
				src.add(tc.names[i], shape, x)
			}
			enc, w, err := buildArch(config, src)
			if err != nil {
				t.Fatal(err)
			}
			m := archModel{enc: enc, params: w.Params()}
			mlm, ok := enc.(arch.MaskedLM)
			if !ok || mlm.VocabSize() != tc.vocab || enc.Info().Architecture != tc.arch {
				t.Fatalf("%T: vocabulary %d, architecture %s", enc, mlm.VocabSize(), enc.Info().Architecture)
			}
			var want [][][]float32
			if err := c.Output("last_hidden_state", &want); err != nil {
				t.Fatal(err)
			}
			checkHidden(t, m, c.Inputs, want, tc.arch)
			r := rowsFromInputs(c.Inputs[:2], enc.Info().PositionOffset)
			hidden, _ := m.run(t, r, nil)
			logits := runMLM(t, m, r)
			emb := src.data[tc.prefix+"embeddings.word_embeddings.weight"]
			worst := 0.0
			for row := range 2 {
				for _, tok := range realTokens(c.Inputs[row]) {
					ref := refMLMHead(hidden[row][tok*h:(tok+1)*h], dw, db, nw, nb, emb, bias, tc.eps)
					got := logits[row][tok*tc.vocab : (tok+1)*tc.vocab]
					d := golden.MaxAbsDiff(got, ref)
					worst = max(worst, d)
					if d > 1e-4 {
						t.Fatalf("text %d token %d: logits max abs diff %.3g\n got %s\nwant %s", row, tok, d, golden.Head(got, 6), golden.Head(ref, 6))
					}
				}
			}
			t.Logf("MLM logits vs float64 host head: max abs diff %.3g", worst)
		})
	}
}

// refMLMHead is a masked-LM head in float64 for one token: dense, exact
// GELU, LayerNorm, decoder tied to the embeddings, bias.
func refMLMHead(x []float32, dw, db, nw, nb, emb, bias []float32, eps float64) []float32 {
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
