package arch_test

import (
	"testing"

	"github.com/sie-project/sie/internal/safetensors"
)

// source adapts a safetensors checkpoint to arch.TensorSource.
type source struct{ set *safetensors.Set }

func (s source) Names() []string { return s.set.Names() }
func (s source) Float32(name string) ([]float32, []int, error) {
	t, _ := s.set.Tensor(name)
	d, err := t.Float32()
	return d, t.Shape, err
}

// TestBertHiddenStates: last hidden states on unmasked positions and the
// pooler output of the BERT fixtures, against upstream (≤ 1e-4).
func TestBertHiddenStates(t *testing.T) {
	for _, name := range []string{"bert-mean", "bert-cls"} {
		t.Run(name, func(t *testing.T) { checkFixture(t, name) })
	}
}

func TestBertPacking(t *testing.T) { checkPacking(t, "bert-mean", []int{0, 1}, []int{3, 2, 5}) }
