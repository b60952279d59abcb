package arch_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/compute/gobackend"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/sie-project/sie/arch"
	"github.com/sie-project/sie/internal/golden"
	"github.com/sie-project/sie/internal/safetensors"
)

// The helpers below are shared by the MPNet, NomicBert, NewModel and
// JinaBert tests (and BERT's): they run arbitrary rows (packed ones included)
// and compare hidden states and pooler output with upstream.

// encoderFixture is a fixture with its architecture built and checked.
type encoderFixture struct {
	c      *golden.Case
	enc    arch.Encoder
	params []arch.Param
}

func loadEncoderFixture(t *testing.T, name string) *encoderFixture {
	t.Helper()
	c, err := golden.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	config, err := os.ReadFile(filepath.Join(c.Dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := safetensors.OpenDir(c.Dir)
	if err != nil {
		t.Fatal(err)
	}
	build, _, err := arch.Lookup(config)
	if err != nil {
		t.Fatal(err)
	}
	w := arch.NewWeights(source{set})
	enc, err := build(config, w)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Check(); err != nil {
		t.Fatal(err)
	}
	return &encoderFixture{c: c, enc: enc, params: w.Params()}
}

// tokenRows are the four [B, T] int32 graph inputs.
type tokenRows struct {
	b, t                 int
	ids, types, pos, seg []int32
}

func newTokenRows(b, t int) tokenRows {
	n := b * t
	return tokenRows{b: b, t: t, ids: make([]int32, n), types: make([]int32, n), pos: make([]int32, n), seg: make([]int32, n)}
}

// fixtureRows lays the recorded texts out one per row, padded as recorded.
func (f *encoderFixture) fixtureRows() tokenRows {
	r := newTokenRows(len(f.c.Inputs), len(f.c.Inputs[0].InputIDs))
	off := f.enc.Info().PositionOffset
	for i, in := range f.c.Inputs {
		n := 0
		for j := range r.t {
			k := i*r.t + j
			r.ids[k] = int32(in.InputIDs[j])
			if in.TokenTypeIDs != nil {
				r.types[k] = int32(in.TokenTypeIDs[j])
			}
			if in.AttentionMask[j] == 1 {
				r.pos[k] = int32(off + n)
				r.seg[k] = 1
				n++
			}
		}
	}
	return r
}

// realTokens returns the indices of text i's unmasked positions.
func (f *encoderFixture) realTokens(i int) []int {
	var idx []int
	for j, m := range f.c.Inputs[i].AttentionMask {
		if m == 1 {
			idx = append(idx, j)
		}
	}
	return idx
}

// packedRow packs the given texts into one row (segments 1, 2, …, positions
// restarting in each) followed by pad slots, and returns where each text
// starts in the row.
func (f *encoderFixture) packedRow(texts []int, pad int) (tokenRows, []int) {
	total := pad
	for _, i := range texts {
		total += len(f.realTokens(i))
	}
	r := newTokenRows(1, total)
	off := f.enc.Info().PositionOffset
	var starts []int
	at := 0
	for s, i := range texts {
		starts = append(starts, at)
		in := f.c.Inputs[i]
		for n, j := range f.realTokens(i) {
			r.ids[at] = int32(in.InputIDs[j])
			if in.TokenTypeIDs != nil {
				r.types[at] = int32(in.TokenTypeIDs[j])
			}
			r.pos[at] = int32(off + n)
			r.seg[at] = int32(s + 1)
			at++
		}
	}
	return r, starts
}

type poolerEncoder interface {
	Pooler(p arch.Params, hidden *Node) *Node
}

// run executes the encoder on rows and returns the hidden states [B][T·H],
// and, when withPooler, the pooler output [B][H].
func (f *encoderFixture) run(t *testing.T, r tokenRows, withPooler bool) (hidden, pooled [][]float32) {
	t.Helper()
	np := len(f.params)
	exec, err := NewExec(gobackend.GetBackend(), func(in []*Node) []*Node {
		x := in[np:]
		p := arch.Params(in[:np])
		h := f.enc.Forward(p, arch.Inputs{IDs: x[0], TypeIDs: x[1], Positions: x[2], Segments: x[3]})
		if !withPooler {
			return []*Node{h}
		}
		pe, ok := f.enc.(poolerEncoder)
		if !ok {
			panic(fmt.Sprintf("%T has no Pooler method", f.enc))
		}
		pl := pe.Pooler(p, h)
		if pl == nil {
			panic("the checkpoint has no pooler")
		}
		return []*Node{h, pl}
	})
	if err != nil {
		t.Fatal(err)
	}
	args := []any{}
	for _, p := range f.params {
		args = append(args, tensors.FromFlatDataAndDimensions(p.Data, p.Shape...))
	}
	for _, v := range [][]int32{r.ids, r.types, r.pos, r.seg} {
		args = append(args, tensors.FromFlatDataAndDimensions(v, r.b, r.t))
	}
	outs, err := exec.Call(args...)
	if err != nil {
		t.Fatal(err)
	}
	h := f.enc.Info().HiddenSize
	flat, err := tensors.CopyFlatData[float32](outs[0])
	if err != nil {
		t.Fatal(err)
	}
	for i := range r.b {
		hidden = append(hidden, flat[i*r.t*h:(i+1)*r.t*h])
	}
	if withPooler {
		flat, err := tensors.CopyFlatData[float32](outs[1])
		if err != nil {
			t.Fatal(err)
		}
		for i := range r.b {
			pooled = append(pooled, flat[i*h:(i+1)*h])
		}
	}
	return hidden, pooled
}

// checkFixture compares last_hidden_state on unmasked positions (and
// pooler_output when the fixture has it) with the upstream values.
func checkFixture(t *testing.T, name string) {
	f := loadEncoderFixture(t, name)
	_, withPooler := f.c.Outputs["pooler_output"]
	hidden, pooled := f.run(t, f.fixtureRows(), withPooler)
	var want [][][]float32
	if err := f.c.Output("last_hidden_state", &want); err != nil {
		t.Fatal(err)
	}
	h := f.enc.Info().HiddenSize
	worst := 0.0
	for i := range f.c.Inputs {
		for _, j := range f.realTokens(i) {
			got := hidden[i][j*h : (j+1)*h]
			d := golden.MaxAbsDiff(got, want[i][j])
			worst = max(worst, d)
			if d > 1e-4 {
				t.Fatalf("text %d position %d: max abs diff %.3g > 1e-4\n got %s\nwant %s", i, j, d,
					golden.Head(got, 6), golden.Head(want[i][j], 6))
			}
		}
	}
	t.Logf("%s last_hidden_state: max abs diff on unmasked positions %.3g", name, worst)
	if !withPooler {
		return
	}
	var wantPooled [][]float32
	if err := f.c.Output("pooler_output", &wantPooled); err != nil {
		t.Fatal(err)
	}
	worst = 0
	for i := range f.c.Inputs {
		d := golden.MaxAbsDiff(pooled[i], wantPooled[i])
		worst = max(worst, d)
		if d > 1e-4 {
			t.Fatalf("text %d pooler_output: max abs diff %.3g > 1e-4\n got %s\nwant %s", i, d,
				golden.Head(pooled[i], 6), golden.Head(wantPooled[i], 6))
		}
	}
	t.Logf("%s pooler_output: max abs diff %.3g", name, worst)
}

// checkPacking packs each group of texts into one row and compares every
// token's hidden state with the text's own row of the fixture batch.
func checkPacking(t *testing.T, name string, groups ...[]int) {
	f := loadEncoderFixture(t, name)
	alone, _ := f.run(t, f.fixtureRows(), false)
	h := f.enc.Info().HiddenSize
	for _, texts := range groups {
		row, starts := f.packedRow(texts, 3)
		packed, _ := f.run(t, row, false)
		worst := 0.0
		for s, i := range texts {
			for n, j := range f.realTokens(i) {
				got := packed[0][(starts[s]+n)*h : (starts[s]+n+1)*h]
				want := alone[i][j*h : (j+1)*h]
				d := golden.MaxAbsDiff(got, want)
				worst = max(worst, d)
				if d > 1e-5 {
					t.Fatalf("texts %v packed: text %d token %d: max abs diff %.3g > 1e-5\npacked %s\n alone %s",
						texts, i, n, d, golden.Head(got, 6), golden.Head(want, 6))
				}
			}
		}
		t.Logf("%s texts %v packed in one row: max abs diff to alone %.3g", name, texts, worst)
	}
}

func TestMPNetHiddenStates(t *testing.T) { checkFixture(t, "mpnet") }

func TestMPNetPacking(t *testing.T) { checkPacking(t, "mpnet", []int{0, 1}, []int{3, 2, 5}) }
