package arch_test

// The one test harness for the architecture fixtures: build an encoder from a
// fixture folder (optionally with an edited config or renamed / extra
// tensors), run it on explicit [B, T] rows (recorded, packed or made up), and
// compare hidden states token by token, the pooler output and classifier
// logits with upstream's (checkFixture, checkPacking, checkHidden,
// checkPackedRow).

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/gomlx/compute/gobackend"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/sie-project/sie/arch"
	"github.com/sie-project/sie/internal/golden"
	"github.com/sie-project/sie/internal/safetensors"
)

// memSource is a TensorSource over in-memory tensors.
type memSource struct {
	names  []string
	data   map[string][]float32
	shapes map[string][]int
}

func (s *memSource) Names() []string { return s.names }
func (s *memSource) Float32(name string) ([]float32, []int, error) {
	return s.data[name], s.shapes[name], nil
}

func (s *memSource) add(name string, shape []int, data []float32) {
	if _, ok := s.data[name]; !ok {
		s.names = append(s.names, name)
	}
	s.data[name], s.shapes[name] = data, shape
}

// fixtureSource loads a fixture's model.safetensors, every name prefixed.
func fixtureSource(t *testing.T, dir, prefix string) *memSource {
	t.Helper()
	set, err := safetensors.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := &memSource{data: map[string][]float32{}, shapes: map[string][]int{}}
	for _, n := range set.Names() {
		tn, _ := set.Tensor(n)
		d, err := tn.Float32()
		if err != nil {
			t.Fatal(err)
		}
		s.add(prefix+n, tn.Shape, d)
	}
	return s
}

// fixtureConfig reads a fixture's config.json, applying edits (nil deletes).
func fixtureConfig(t *testing.T, dir string, edits map[string]any) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(edits) == 0 {
		return raw
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range edits {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	out, _ := json.Marshal(m)
	return out
}

// buildArch builds the registered architecture for config from src and runs
// the strict-loading check.
func buildArch(config []byte, src arch.TensorSource) (arch.Encoder, *arch.Weights, error) {
	build, _, err := arch.Lookup(config)
	if err != nil {
		return nil, nil, err
	}
	w := arch.NewWeights(src)
	enc, err := build(config, w)
	if err != nil {
		return nil, w, err
	}
	return enc, w, w.Check()
}

// archModel is a built fixture.
type archModel struct {
	enc    arch.Encoder
	params []arch.Param
}

func loadArch(t *testing.T, name string) (*golden.Case, archModel) {
	t.Helper()
	c, err := golden.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	enc, w, err := buildArch(fixtureConfig(t, c.Dir, nil), fixtureSource(t, c.Dir, ""))
	if err != nil {
		t.Fatal(err)
	}
	return c, archModel{enc: enc, params: w.Params()}
}

// archRows are graph inputs, [B, T] each, flattened row-major.
type archRows struct {
	b, t                  int
	ids, types, pos, segs []int32
}

func newArchRows(b, t int) archRows {
	n := b * t
	return archRows{b: b, t: t, ids: make([]int32, n), types: make([]int32, n), pos: make([]int32, n), segs: make([]int32, n)}
}

// rowsFromInputs feeds recorded inputs as they are (padding included, on
// either side): positions are offset + index among the real tokens.
func rowsFromInputs(ins []golden.Input, offset int) archRows {
	r := newArchRows(len(ins), len(ins[0].InputIDs))
	for i, in := range ins {
		n := 0
		for j, id := range in.InputIDs {
			k := i*r.t + j
			r.ids[k] = int32(id)
			if in.AttentionMask[j] == 1 {
				if in.TokenTypeIDs != nil {
					r.types[k] = int32(in.TokenTypeIDs[j])
				}
				r.pos[k], r.segs[k] = int32(offset+n), 1
				n++
			}
		}
	}
	return r
}

// realTokens lists the row indices of an input's real tokens.
func realTokens(in golden.Input) []int {
	var idx []int
	for j, m := range in.AttentionMask {
		if m == 1 {
			idx = append(idx, j)
		}
	}
	return idx
}

// packRow puts the real tokens of the given inputs one after the other in one
// row (segments 1, 2, …, positions restarting), followed by pad padding
// tokens. It returns the row and where each input starts.
func packRow(ins []golden.Input, which []int, offset, pad int) (archRows, []int) {
	total := pad
	for _, i := range which {
		total += len(realTokens(ins[i]))
	}
	r := newArchRows(1, total)
	var starts []int
	at := 0
	for s, i := range which {
		starts = append(starts, at)
		for n, j := range realTokens(ins[i]) {
			r.ids[at] = int32(ins[i].InputIDs[j])
			if ins[i].TokenTypeIDs != nil {
				r.types[at] = int32(ins[i].TokenTypeIDs[j])
			}
			r.pos[at], r.segs[at] = int32(offset+n), int32(s+1)
			at++
		}
	}
	return r, starts
}

// run executes the encoder on r and returns the hidden states per row,
// [B][T·H]. With first ([B][S] segment starts) it also runs the
// classification head and returns its logits per row, [B][S·labels].
func (m archModel) run(t *testing.T, r archRows, first [][]int32) (hidden, logits [][]float32) {
	t.Helper()
	if first == nil {
		return m.runWith(t, r, nil, nil)
	}
	var flat []int32
	for _, f := range first {
		flat = append(flat, f...)
	}
	starts := tensors.FromFlatDataAndDimensions(flat, len(first), len(first[0]))
	return m.runWith(t, r, func(p arch.Params, h *Node, x []*Node) *Node {
		return arch.ClassifySegments(m.enc.(arch.SequenceClassifier), p, h, x[4], x[3])
	}, starts)
}

// poolerEncoder is an encoder with BERT's pooler (dense + tanh on [CLS]).
type poolerEncoder interface {
	Pooler(p arch.Params, hidden *Node) *Node
}

// runPooler is run that also returns the pooler output per row, [B][H].
func (m archModel) runPooler(t *testing.T, r archRows) (hidden, pooled [][]float32) {
	t.Helper()
	pe, ok := m.enc.(poolerEncoder)
	if !ok {
		t.Fatalf("%T has no Pooler method", m.enc)
	}
	return m.runWith(t, r, func(p arch.Params, h *Node, _ []*Node) *Node {
		pl := pe.Pooler(p, h)
		if pl == nil {
			panic("the checkpoint has no pooler")
		}
		return pl
	}, nil)
}

// runWith executes the encoder on r plus, when extra is set, a second
// output computed from the weights, the hidden states and the inputs (ids,
// types, positions, segments, then extraArg when given). Both come back
// split per row.
func (m archModel) runWith(t *testing.T, r archRows, extra func(p arch.Params, h *Node, x []*Node) *Node, extraArg *tensors.Tensor) (hidden, second [][]float32) {
	t.Helper()
	np := len(m.params)
	exec, err := NewExec(gobackend.GetBackend(), func(in []*Node) []*Node {
		x := in[np:]
		p := arch.Params(in[:np])
		h := m.enc.Forward(p, arch.Inputs{IDs: x[0], TypeIDs: x[1], Positions: x[2], Segments: x[3]})
		if extra == nil {
			return []*Node{h}
		}
		return []*Node{h, extra(p, h, x)}
	})
	if err != nil {
		t.Fatal(err)
	}
	args := []any{}
	for _, p := range m.params {
		args = append(args, tensors.FromFlatDataAndDimensions(p.Data, p.Shape...))
	}
	for _, v := range [][]int32{r.ids, r.types, r.pos, r.segs} {
		args = append(args, tensors.FromFlatDataAndDimensions(v, r.b, r.t))
	}
	if extraArg != nil {
		args = append(args, extraArg)
	}
	outs, err := exec.Call(args...)
	if err != nil {
		t.Fatal(err)
	}
	split := func(o *tensors.Tensor) [][]float32 {
		flat, err := tensors.CopyFlatData[float32](o)
		if err != nil {
			t.Fatal(err)
		}
		per := len(flat) / r.b
		var rows [][]float32
		for i := 0; i < r.b; i++ {
			rows = append(rows, flat[i*per:(i+1)*per])
		}
		return rows
	}
	hidden = split(outs[0])
	if extra != nil {
		second = split(outs[1])
	}
	return hidden, second
}

// hiddenDiff compares got (one row, [T·H]) at the given row indices with
// want ([T][H] reference rows at wantIdx). It fails beyond tol, printing the
// first values on both sides, and returns the max abs difference.
func hiddenDiff(t *testing.T, label string, got []float32, gotIdx []int, want [][]float32, wantIdx []int, h int, tol float64) float64 {
	t.Helper()
	worst := 0.0
	for n := range gotIdx {
		g := got[gotIdx[n]*h : (gotIdx[n]+1)*h]
		w := want[wantIdx[n]]
		d := golden.MaxAbsDiff(g, w)
		worst = max(worst, d)
		if d > tol {
			t.Fatalf("%s, token %d: max abs diff %.3g > %.0e\n got %s\nwant %s", label, n, d, tol,
				golden.Head(g, 6), golden.Head(w, 6))
		}
	}
	return worst
}

// splitTokens reshapes a flat [T·H] row into [T][H].
func splitTokens(row []float32, h int) [][]float32 {
	var out [][]float32
	for i := 0; i+h <= len(row); i += h {
		out = append(out, row[i:i+h])
	}
	return out
}

// checkHidden compares every real token of every recorded input.
func checkHidden(t *testing.T, m archModel, ins []golden.Input, want [][][]float32, label string) float64 {
	t.Helper()
	got, _ := m.run(t, rowsFromInputs(ins, m.enc.Info().PositionOffset), nil)
	h := m.enc.Info().HiddenSize
	worst := 0.0
	for i, in := range ins {
		idx := realTokens(in)
		worst = max(worst, hiddenDiff(t, label+" text "+itoa(i), got[i], idx, want[i], idx, h, 1e-4))
	}
	return worst
}

// checkPackedRow packs the inputs `which` into one row (with 3 padding
// tokens) and compares each segment with the same input run alone (1e-5).
func checkPackedRow(t *testing.T, m archModel, ins []golden.Input, which []int) float64 {
	t.Helper()
	off, h := m.enc.Info().PositionOffset, m.enc.Info().HiddenSize
	row, starts := packRow(ins, which, off, 3)
	packed, _ := m.run(t, row, nil)
	worst := 0.0
	for s, i := range which {
		alone, _ := packRow(ins, []int{i}, off, 0)
		single, _ := m.run(t, alone, nil)
		n := len(realTokens(ins[i]))
		gotIdx, wantIdx := make([]int, n), make([]int, n)
		for k := range n {
			gotIdx[k], wantIdx[k] = starts[s]+k, k
		}
		worst = max(worst, hiddenDiff(t, "packed segment "+itoa(s+1)+" (text "+itoa(i)+")", packed[0], gotIdx,
			splitTokens(single[0], h), wantIdx, h, 1e-5))
	}
	return worst
}

// checkFixture compares last_hidden_state on every real token (and
// pooler_output when the fixture has it) with the upstream values (1e-4).
func checkFixture(t *testing.T, name string) {
	t.Helper()
	c, m := loadArch(t, name)
	var want [][][]float32
	if err := c.Output("last_hidden_state", &want); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s last_hidden_state: max abs diff on unmasked positions %.3g", name, checkHidden(t, m, c.Inputs, want, name))
	if _, ok := c.Outputs["pooler_output"]; !ok {
		return
	}
	var wantPooled [][]float32
	if err := c.Output("pooler_output", &wantPooled); err != nil {
		t.Fatal(err)
	}
	_, pooled := m.runPooler(t, rowsFromInputs(c.Inputs, m.enc.Info().PositionOffset))
	worst := 0.0
	for i := range c.Inputs {
		d := golden.MaxAbsDiff(pooled[i], wantPooled[i])
		worst = max(worst, d)
		if d > 1e-4 {
			t.Fatalf("text %d pooler_output: max abs diff %.3g > 1e-4\n got %s\nwant %s", i, d,
				golden.Head(pooled[i], 6), golden.Head(wantPooled[i], 6))
		}
	}
	t.Logf("%s pooler_output: max abs diff %.3g", name, worst)
}

// checkPacking packs each group of texts into one row (3 padding tokens
// after them) and compares every token's hidden state with the text's own
// row of the fixture batch (1e-5).
func checkPacking(t *testing.T, name string, groups ...[]int) {
	t.Helper()
	c, m := loadArch(t, name)
	off, h := m.enc.Info().PositionOffset, m.enc.Info().HiddenSize
	alone, _ := m.run(t, rowsFromInputs(c.Inputs, off), nil)
	for _, texts := range groups {
		row, starts := packRow(c.Inputs, texts, off, 3)
		packed, _ := m.run(t, row, nil)
		worst := 0.0
		for s, i := range texts {
			idx := realTokens(c.Inputs[i])
			gotIdx := make([]int, len(idx))
			for n := range idx {
				gotIdx[n] = starts[s] + n
			}
			worst = max(worst, hiddenDiff(t, fmt.Sprintf("texts %v packed: text %d", texts, i), packed[0], gotIdx,
				splitTokens(alone[i], h), idx, h, 1e-5))
		}
		t.Logf("%s texts %v packed in one row: max abs diff to alone %.3g", name, texts, worst)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
