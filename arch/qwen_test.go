package arch_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/sie-project/sie/arch"
	"github.com/sie-project/sie/internal/golden"
)

// qwenCase is the part of a qwen golden.json with both padding sides.
type qwenCase struct {
	Left    []golden.Input `json:"inputs_left"`
	Right   []golden.Input `json:"inputs_right"`
	Outputs map[string]struct {
		LastHiddenState [][][]float32 `json:"last_hidden_state"`
	} `json:"outputs"`
}

func loadQwenCase(t *testing.T, dir string) *qwenCase {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	q := &qwenCase{}
	if err := json.Unmarshal(raw, q); err != nil {
		t.Fatal(err)
	}
	return q
}

// Left padding: the real tokens get positions 0..n-1 (upstream gives them
// pad..L-1; RoPE is relative, so the hidden states agree).
func TestQwenHiddenStates(t *testing.T) {
	for _, name := range []string{"qwen2", "qwen3"} {
		t.Run(name, func(t *testing.T) {
			c, m := loadArch(t, name)
			q := loadQwenCase(t, c.Dir)
			for side, ins := range map[string][]golden.Input{"left": q.Left, "right": q.Right} {
				d := checkHidden(t, m, ins, q.Outputs[side].LastHiddenState, name+" "+side)
				t.Logf("%s padding: max abs diff on unmasked positions: %.3g", side, d)
			}
		})
	}
}

func TestQwenPacking(t *testing.T) {
	for _, name := range []string{"qwen2", "qwen3"} {
		t.Run(name, func(t *testing.T) {
			c, m := loadArch(t, name)
			q := loadQwenCase(t, c.Dir)
			t.Logf("packed vs alone: max abs diff %.3g", checkPackedRow(t, m, q.Right, []int{0, 2, 5}))
		})
	}
}

// *ForCausalLM checkpoints store the decoder under "model." next to
// lm_head.weight, which an encoder ignores.
func TestQwenCausalLMCheckpoint(t *testing.T) {
	for _, name := range []string{"qwen2", "qwen3"} {
		c, _ := loadArch(t, name)
		arch := map[string]string{"qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM"}[name]
		src := fixtureSource(t, c.Dir, "model.")
		src.add("lm_head.weight", []int{8003, 32}, make([]float32, 8003*32))
		enc, _, err := buildArch(fixtureConfig(t, c.Dir, map[string]any{"architectures": []string{arch}}), src)
		if err != nil {
			t.Fatalf("%s: %v", arch, err)
		}
		if enc.Info().Architecture != arch {
			t.Fatalf("architecture %q, want %q", enc.Info().Architecture, arch)
		}
	}
}

func TestQwenUnsupported(t *testing.T) {
	c, _ := loadArch(t, "qwen3")
	for name, edit := range map[string]map[string]any{
		"sliding window": {"use_sliding_window": true},
		"rope scaling":   {"rope_scaling": map[string]any{"type": "linear", "factor": 2.0}},
		"activation":     {"hidden_act": "relu6"},
		"gqa":            {"num_key_value_heads": 3},
	} {
		if _, _, err := buildArch(fixtureConfig(t, c.Dir, edit), fixtureSource(t, c.Dir, "")); err == nil {
			t.Errorf("%s: unsupported config accepted", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// gte-Qwen2's config.json says is_causal: false. The bidirectional model
// must equal the causal model of the same weights with only its mask
// swapped, differ from the causal one, and keep packed segments apart.
func TestQwenBidirectional(t *testing.T) {
	c, causal := loadArch(t, "qwen2")
	q := loadQwenCase(t, c.Dir)
	enc, w, err := buildArch(fixtureConfig(t, c.Dir, map[string]any{"is_causal": false}), fixtureSource(t, c.Dir, ""))
	if err != nil {
		t.Fatal(err)
	}
	bidi := archModel{enc: enc, params: w.Params()}
	swapped := archModel{enc: arch.WithSwappedMask(causal.enc), params: causal.params}
	rows := rowsFromInputs(q.Right, 0)
	got, _ := bidi.run(t, rows, nil)
	want, _ := swapped.run(t, rows, nil)
	plain, _ := causal.run(t, rows, nil)
	h := enc.Info().HiddenSize
	var same, differs float64
	for i, in := range q.Right {
		idx := realTokens(in)
		same = max(same, hiddenDiff(t, "bidirectional vs causal with the mask swapped, text "+itoa(i), got[i], idx, splitTokens(want[i], h), idx, h, 1e-6))
		for _, j := range idx[:len(idx)-1] {
			differs = max(differs, golden.MaxAbsDiff(got[i][j*h:(j+1)*h], plain[i][j*h:(j+1)*h]))
		}
	}
	if differs < 1e-3 {
		t.Fatalf("bidirectional hidden states equal the causal ones (max diff %.3g): the flag is ignored", differs)
	}
	t.Logf("bidirectional vs swapped-mask causal: %.3g; vs causal: %.3g", same, differs)
	t.Logf("packed vs alone, bidirectional: max abs diff %.3g", checkPackedRow(t, bidi, q.Right, []int{0, 2, 5}))
}

// A later token changes an earlier position's hidden state only when
// attention is bidirectional.
func TestQwenLaterTokenReachesEarlier(t *testing.T) {
	c, causal := loadArch(t, "qwen2")
	enc, w, err := buildArch(fixtureConfig(t, c.Dir, map[string]any{"is_causal": false}), fixtureSource(t, c.Dir, ""))
	if err != nil {
		t.Fatal(err)
	}
	bidi := archModel{enc: enc, params: w.Params()}
	rows := newArchRows(2, 5)
	for i, id := range []int32{100, 200, 300, 400, 500, 100, 200, 300, 400, 600} { // the rows differ in the last token only
		rows.ids[i], rows.pos[i], rows.segs[i] = id, int32(i%5), 1
	}
	h := enc.Info().HiddenSize
	for _, tc := range []struct {
		name    string
		m       archModel
		reaches bool
	}{{"causal", causal, false}, {"bidirectional", bidi, true}} {
		out, _ := tc.m.run(t, rows, nil)
		for pos := 0; pos < 4; pos++ {
			d := golden.MaxAbsDiff(out[0][pos*h:(pos+1)*h], out[1][pos*h:(pos+1)*h])
			if tc.reaches != (d > 1e-4) {
				t.Errorf("%s: position %d changes by %.3g when the last token changes", tc.name, pos, d)
			}
		}
	}
}
