package arch_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

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
