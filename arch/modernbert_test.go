package arch_test

import "testing"

func TestModernBertHiddenStates(t *testing.T) {
	c, m := loadArch(t, "modernbert")
	var want [][][]float32
	if err := c.Output("last_hidden_state", &want); err != nil {
		t.Fatal(err)
	}
	t.Logf("max abs diff on unmasked positions: %.3g", checkHidden(t, m, c.Inputs, want, "modernbert"))
}

// Texts longer than the 16-token local window, so the sliding window and the
// segment mask both cut.
func TestModernBertPacking(t *testing.T) {
	c, m := loadArch(t, "modernbert")
	t.Logf("packed vs alone: max abs diff %.3g", checkPackedRow(t, m, c.Inputs, []int{3, 0, 4}))
}

func TestModernBertUnsupported(t *testing.T) {
	c, _ := loadArch(t, "modernbert")
	for name, edit := range map[string]map[string]any{
		"activation":   {"hidden_activation": "quick_gelu"},
		"rope scaling": {"rope_scaling": map[string]any{"rope_type": "yarn", "factor": 2.0}},
		"layer types":  {"layer_types": []string{"sliding_attention", "sliding_attention"}},
	} {
		if _, _, err := buildArch(fixtureConfig(t, c.Dir, edit), fixtureSource(t, c.Dir, "")); err == nil {
			t.Errorf("%s: unsupported config accepted", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}
