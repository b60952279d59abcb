package arch_test

import "testing"

// TestBertHiddenStates: last hidden states on unmasked positions and the
// pooler output of the BERT fixtures, against upstream (≤ 1e-4).
func TestBertHiddenStates(t *testing.T) {
	for _, name := range []string{"bert-mean", "bert-cls"} {
		t.Run(name, func(t *testing.T) { checkFixture(t, name) })
	}
}

func TestBertPacking(t *testing.T) { checkPacking(t, "bert-mean", []int{0, 1}, []int{3, 2, 5}) }
