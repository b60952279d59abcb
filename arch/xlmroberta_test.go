package arch_test

import (
	"testing"

	"github.com/sie-project/sie/arch"
)

func TestXLMRobertaHiddenStates(t *testing.T) {
	c, m := loadArch(t, "xlmr")
	info := m.enc.Info()
	if info.Architecture != "XLMRobertaModel" || info.PositionOffset != 2 || info.TypeVocabSize != 1 || info.MaxPositions != 72 {
		t.Fatalf("Info = %+v, want XLMRobertaModel with offset 2, 1 token type, 72 positions", info)
	}
	var want [][][]float32
	if err := c.Output("last_hidden_state", &want); err != nil {
		t.Fatal(err)
	}
	t.Logf("max abs diff on unmasked positions: %.3g", checkHidden(t, m, c.Inputs, want, "xlmr"))
}

func TestXLMRobertaPacking(t *testing.T) {
	c, m := loadArch(t, "xlmr")
	t.Logf("packed vs alone: max abs diff %.3g", checkPackedRow(t, m, c.Inputs, []int{0, 3, 2}))
}

// A task checkpoint stores the encoder under "roberta.": the bare
// architecture must find it there.
func TestRobertaPrefix(t *testing.T) {
	c, _ := loadArch(t, "xlmr")
	config := fixtureConfig(t, c.Dir, map[string]any{"architectures": []string{"RobertaModel"}})
	enc, _, err := buildArch(config, fixtureSource(t, c.Dir, "roberta."))
	if err != nil {
		t.Fatal(err)
	}
	if enc.Info().Architecture != "RobertaModel" {
		t.Fatalf("architecture %q", enc.Info().Architecture)
	}
	if _, _, err := buildArch(fixtureConfig(t, c.Dir, map[string]any{"hidden_act": "gelu_fast"}), fixtureSource(t, c.Dir, "")); err == nil {
		t.Fatal("unsupported hidden_act accepted")
	}
	var _ arch.Encoder = enc
}
