package catalog_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/compute/gobackend"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/sie-project/sie/catalog"
	"github.com/sie-project/sie/internal/golden"
	"github.com/sie-project/sie/internal/safetensors"
)

type source struct{ set *safetensors.Set }

func (s source) Names() []string { return s.set.Names() }
func (s source) Float32(name string) ([]float32, []int, error) {
	t, _ := s.set.Tensor(name)
	d, err := t.Float32()
	return d, t.Shape, err
}

// runHidden builds the fixture's architecture and returns the last hidden
// states for its recorded token ids, [B][T·H].
func runHidden(t *testing.T, c *golden.Case) (hidden [][]float32, hiddenSize int) {
	t.Helper()
	config, err := os.ReadFile(filepath.Join(c.Dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := safetensors.OpenDir(c.Dir)
	if err != nil {
		t.Fatal(err)
	}
	build, _, err := catalog.Lookup(config)
	if err != nil {
		t.Fatal(err)
	}
	w := catalog.NewWeights(source{set})
	enc, err := build(config, w)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Check(); err != nil {
		t.Fatal(err)
	}
	params := w.Params()
	b, tl := len(c.Inputs), len(c.Inputs[0].InputIDs)
	ids, types, pos, seg := make([]int32, b*tl), make([]int32, b*tl), make([]int32, b*tl), make([]int32, b*tl)
	for i, in := range c.Inputs {
		n := 0
		for j := 0; j < tl; j++ {
			ids[i*tl+j] = int32(in.InputIDs[j])
			if in.TokenTypeIDs != nil {
				types[i*tl+j] = int32(in.TokenTypeIDs[j])
			}
			if in.AttentionMask[j] == 1 {
				pos[i*tl+j] = int32(enc.Info().PositionOffset + n)
				seg[i*tl+j] = 1
				n++
			}
		}
	}
	backend := gobackend.GetBackend()
	exec, err := NewExec(backend, func(in []*Node) *Node {
		x := in[len(params):]
		return enc.Forward(catalog.Params(in[:len(params)]), catalog.Inputs{IDs: x[0], TypeIDs: x[1], Positions: x[2], Segments: x[3]})
	})
	if err != nil {
		t.Fatal(err)
	}
	args := []any{}
	for _, p := range params {
		args = append(args, tensors.FromFlatDataAndDimensions(p.Data, p.Shape...))
	}
	for _, v := range [][]int32{ids, types, pos, seg} {
		args = append(args, tensors.FromFlatDataAndDimensions(v, b, tl))
	}
	outs, err := exec.Exec(args...)
	if err != nil {
		t.Fatal(err)
	}
	flat, err := tensors.CopyFlatData[float32](outs[0])
	if err != nil {
		t.Fatal(err)
	}
	h := enc.Info().HiddenSize
	for i := 0; i < b; i++ {
		hidden = append(hidden, flat[i*tl*h:(i+1)*tl*h])
	}
	return hidden, h
}

func TestBertHiddenStates(t *testing.T) {
	for _, name := range []string{"bert-mean", "bert-cls"} {
		t.Run(name, func(t *testing.T) {
			c, err := golden.Load(name)
			if err != nil {
				t.Fatal(err)
			}
			var want [][][]float32
			if err := c.Output("last_hidden_state", &want); err != nil {
				t.Fatal(err)
			}
			got, h := runHidden(t, c)
			worst := 0.0
			for i, in := range c.Inputs {
				for j, m := range in.AttentionMask {
					if m == 0 {
						continue // padded positions are implementation-defined
					}
					d := golden.MaxAbsDiff(got[i][j*h:(j+1)*h], want[i][j])
					worst = max(worst, d)
					if d > 1e-4 {
						t.Fatalf("text %d position %d: max abs diff %.3g > 1e-4\n got %s\nwant %s", i, j, d,
							golden.Head(got[i][j*h:(j+1)*h], 6), golden.Head(want[i][j], 6))
					}
				}
			}
			t.Logf("max abs diff on unmasked positions: %.3g", worst)
		})
	}
}
