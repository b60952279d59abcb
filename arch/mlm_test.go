package arch_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/compute/gobackend"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

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
	r := rowsFromInputs([]golden.Input{in}, 0)
	np := len(m.params)
	exec, err := NewExec(gobackend.GetBackend(), func(x []*Node) []*Node {
		p := arch.Params(x[:np])
		h := mlm.Forward(p, arch.Inputs{IDs: x[np], TypeIDs: x[np+1], Positions: x[np+2], Segments: x[np+3]})
		return []*Node{mlm.MLMLogits(p, h)}
	})
	if err != nil {
		t.Fatal(err)
	}
	var args []any
	for _, p := range m.params {
		args = append(args, tensors.FromFlatDataAndDimensions(p.Data, p.Shape...))
	}
	for _, v := range [][]int32{r.ids, r.types, r.pos, r.segs} {
		args = append(args, tensors.FromFlatDataAndDimensions(v, r.b, r.t))
	}
	outs, err := exec.Call(args...)
	if err != nil {
		t.Fatal(err)
	}
	logits, _ := tensors.CopyFlatData[float32](outs[0])
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
