package arch_test

import (
	"math"
	"testing"

	"github.com/sie-project/sie/arch"
	"github.com/sie-project/sie/internal/golden"
)

// TestRerankHeads checks the cross-encoder fixtures: hidden states, logits,
// both score forms and the declared score activation.
func TestRerankHeads(t *testing.T) {
	for _, tc := range []struct {
		name, arch, activation string
	}{
		{"xlmr-rerank", "XLMRobertaForSequenceClassification", arch.ScoreSigmoid},
		{"bert-rerank", "BertForSequenceClassification", arch.ScoreIdentity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, m := loadArch(t, tc.name)
			cls, ok := m.enc.(arch.SequenceClassifier)
			if !ok {
				t.Fatalf("%T is not a SequenceClassifier", m.enc)
			}
			if cls.Info().Architecture != tc.arch || cls.NumLabels() != 1 || cls.ScoreActivation() != tc.activation {
				t.Fatalf("got %s, %d labels, %s; want %s, 1 label, %s", cls.Info().Architecture, cls.NumLabels(),
					cls.ScoreActivation(), tc.arch, tc.activation)
			}
			var hidden [][][]float32
			var logits [][]float32
			var raw, sig []float32
			for k, v := range map[string]any{"last_hidden_state": &hidden, "logits": &logits, "scores_raw": &raw, "scores_sigmoid": &sig} {
				if err := c.Output(k, v); err != nil {
					t.Fatal(err)
				}
			}
			r := rowsFromInputs(c.Inputs, m.enc.Info().PositionOffset)
			first := make([][]int32, len(c.Inputs)) // one segment per row, starting at 0
			for i := range first {
				first[i] = []int32{0}
			}
			gotH, gotL := m.run(t, r, first)
			h := m.enc.Info().HiddenSize
			worstH, worstL, worstS := 0.0, 0.0, 0.0
			for i, in := range c.Inputs {
				idx := realTokens(in)
				worstH = max(worstH, hiddenDiff(t, tc.name+" text "+itoa(i), gotH[i], idx, hidden[i], idx, h, 1e-4))
				d := golden.MaxAbsDiff(gotL[i], logits[i])
				worstL = max(worstL, d)
				if d > 1e-4 {
					t.Fatalf("pair %d: logits max abs diff %.3g > 1e-4\n got %v\nwant %v", i, d, gotL[i], logits[i])
				}
				ds := max(math.Abs(float64(gotL[i][0]-raw[i])), math.Abs(sigmoid(float64(gotL[i][0]))-float64(sig[i])))
				worstS = max(worstS, ds)
				if ds > 1e-4 {
					t.Fatalf("pair %d: score diff %.3g > 1e-4 (logit %v, want raw %v sigmoid %v)", i, ds, gotL[i][0], raw[i], sig[i])
				}
			}
			t.Logf("max abs diff: hidden %.3g, logits %.3g, scores %.3g", worstH, worstL, worstS)
		})
	}
}

// TestRerankPacking packs three pairs into one row: each segment's logit
// and hidden states equal the pair run alone.
func TestRerankPacking(t *testing.T) {
	for _, name := range []string{"xlmr-rerank", "bert-rerank"} {
		t.Run(name, func(t *testing.T) {
			c, m := loadArch(t, name)
			which := []int{0, 6, 3}
			d := checkPackedRow(t, m, c.Inputs, which)
			row, starts := packRow(c.Inputs, which, m.enc.Info().PositionOffset, 3)
			first := [][]int32{make([]int32, len(starts))}
			for s, at := range starts {
				first[0][s] = int32(at)
			}
			_, packed := m.run(t, row, first)
			for s, i := range which {
				alone, _ := packRow(c.Inputs, []int{i}, m.enc.Info().PositionOffset, 0)
				_, single := m.run(t, alone, [][]int32{{0}})
				diff := golden.MaxAbsDiff(packed[0][s:s+1], single[0])
				d = max(d, diff)
				if diff > 1e-5 {
					t.Fatalf("segment %d (pair %d): logit %v packed, %v alone", s+1, i, packed[0][s], single[0])
				}
			}
			t.Logf("packed vs alone: max abs diff %.3g (hidden and logits)", d)
		})
	}
}

// TestScoreActivation covers the activation rule: sigmoid when declared or
// when one label declares nothing; identity otherwise; anything else is an error.
func TestScoreActivation(t *testing.T) {
	c, _ := loadArch(t, "xlmr-rerank")
	st := func(fn string) map[string]any { return map[string]any{"activation_fn": fn} }
	for _, tc := range []struct {
		name   string
		edits  map[string]any
		labels int
		want   string // "" = error
	}{
		{"declared sigmoid", nil, 1, arch.ScoreSigmoid},
		{"declared identity", map[string]any{"sentence_transformers": st("torch.nn.modules.linear.Identity")}, 1, arch.ScoreIdentity},
		{"one label, nothing declared", map[string]any{"sentence_transformers": nil}, 1, arch.ScoreSigmoid},
		{"legacy identity key", map[string]any{"sentence_transformers": nil,
			"sbert_ce_default_activation_function": "torch.nn.modules.linear.Identity"}, 1, arch.ScoreIdentity},
		{"three labels, nothing declared", map[string]any{"sentence_transformers": nil,
			"id2label": map[string]string{"0": "a", "1": "b", "2": "c"}}, 3, arch.ScoreIdentity},
		{"unknown activation", map[string]any{"sentence_transformers": st("torch.nn.modules.activation.Tanh")}, 1, ""},
	} {
		src := fixtureSource(t, c.Dir, "")
		if tc.labels != 1 { // widen out_proj to the label count
			src.add("classifier.out_proj.weight", []int{tc.labels, 32}, make([]float32, tc.labels*32))
			src.add("classifier.out_proj.bias", []int{tc.labels}, make([]float32, tc.labels))
		}
		enc, _, err := buildArch(fixtureConfig(t, c.Dir, tc.edits), src)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s: accepted", tc.name)
			} else {
				t.Logf("%s: %v", tc.name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		cls := enc.(arch.SequenceClassifier)
		if cls.NumLabels() != tc.labels || cls.ScoreActivation() != tc.want {
			t.Errorf("%s: %d labels, %s; want %d, %s", tc.name, cls.NumLabels(), cls.ScoreActivation(), tc.labels, tc.want)
		}
	}
}

// TestModernBertClassifier has no upstream fixture: it checks the head on
// the modernbert fixture's encoder with seeded head weights against the
// same computation done here on the encoder's hidden states, for both
// classifier_pooling values, on a packed row.
func TestModernBertClassifier(t *testing.T) {
	c, _ := loadArch(t, "modernbert")
	const h, labels = 32, 2
	rnd := func(n int, seed float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(math.Sin(seed*float64(i+1)) * 0.3)
		}
		return v
	}
	dense, norm, clsW, clsB := rnd(h*h, 1.7), rnd(h, 2.3), rnd(labels*h, 3.1), rnd(labels, 4.9)
	for i := range norm {
		norm[i] += 1
	}
	for _, pooling := range []string{"cls", "mean"} {
		src := fixtureSource(t, c.Dir, "model.")
		src.add("head.dense.weight", []int{h, h}, dense)
		src.add("head.norm.weight", []int{h}, norm)
		src.add("classifier.weight", []int{labels, h}, clsW)
		src.add("classifier.bias", []int{labels}, clsB)
		config := fixtureConfig(t, c.Dir, map[string]any{
			"architectures": []string{"ModernBertForSequenceClassification"}, "classifier_pooling": pooling,
			"id2label": map[string]string{"0": "no", "1": "yes"},
		})
		enc, w, err := buildArch(config, src)
		if err != nil {
			t.Fatal(err)
		}
		m := archModel{enc: enc, params: w.Params()}
		which := []int{3, 0, 4}
		row, starts := packRow(c.Inputs, which, 0, 3)
		first := [][]int32{make([]int32, len(starts))}
		for s, at := range starts {
			first[0][s] = int32(at)
		}
		hidden, logits := m.run(t, row, first)
		worst := 0.0
		for s, i := range which {
			n := len(realTokens(c.Inputs[i]))
			pooled := make([]float64, h)
			for k := range n {
				if pooling == "cls" && k > 0 {
					break
				}
				for j := range h {
					pooled[j] += float64(hidden[0][(starts[s]+k)*h+j])
				}
			}
			if pooling == "mean" {
				for j := range pooled {
					pooled[j] /= float64(n)
				}
			}
			want := refModernBertHead(pooled, dense, norm, clsW, clsB)
			got := logits[0][s*labels : (s+1)*labels]
			d := golden.MaxAbsDiff(got, want)
			worst = max(worst, d)
			if d > 1e-5 {
				t.Fatalf("%s pooling, segment %d: got %v want %v", pooling, s+1, got, want)
			}
		}
		t.Logf("%s pooling: max abs diff %.3g", pooling, worst)
	}
}

// refModernBertHead is ModernBertPredictionHead (dense, exact GELU,
// LayerNorm without bias, eps 1e-5) and the classifier, in float64.
func refModernBertHead(x []float64, dense, norm, clsW, clsB []float32) []float32 {
	h := len(x)
	y := make([]float64, h)
	mean := 0.0
	for o := range h {
		for i := range h {
			y[o] += float64(dense[o*h+i]) * x[i]
		}
		y[o] = y[o] * 0.5 * (1 + math.Erf(y[o]/math.Sqrt2))
		mean += y[o] / float64(h)
	}
	variance := 0.0
	for _, v := range y {
		variance += (v - mean) * (v - mean) / float64(h)
	}
	for o := range y {
		y[o] = (y[o] - mean) / math.Sqrt(variance+1e-5) * float64(norm[o])
	}
	labels := len(clsB)
	out := make([]float32, labels)
	for l := range labels {
		s := float64(clsB[l])
		for i := range h {
			s += float64(clsW[l*h+i]) * y[i]
		}
		out[l] = float32(s)
	}
	return out
}
