package sie

// Sparse outputs: SPLADE (sentence-transformers SpladePooling over a
// *ForMaskedLM head), BGE-M3's sparse_linear head (FlagEmbedding's
// _sparse_embedding / _process_token_weights), and the inference-free query
// side of doc-only sparse models (sentence-transformers SparseStaticEmbedding
// fed from idf.json or query_token_weights.txt).

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/sie-project/sie/arch"
)

// SparseVector is a sparse embedding over the model's vocabulary: a weight
// per token id. Ids not listed weigh 0.
type SparseVector struct {
	Indices []int32   `json:"indices"` // token ids, strictly ascending
	Values  []float32 `json:"values"`  // Values[i] > 0 is the weight of Indices[i]
}

// Dot is the inner product of two sparse vectors: the sum of the products of
// the weights of the ids they share (FlagEmbedding's lexical matching score).
func (v SparseVector) Dot(o SparseVector) float32 {
	var s float64
	for i, j := 0, 0; i < len(v.Indices) && j < len(o.Indices); {
		switch {
		case v.Indices[i] < o.Indices[j]:
			i++
		case v.Indices[i] > o.Indices[j]:
			j++
		default:
			s += float64(v.Values[i]) * float64(o.Values[j])
			i++
			j++
		}
	}
	return float32(s)
}

// sparseFromMap lists the positive weights of m in ascending id order.
func sparseFromMap(m map[int32]float32) SparseVector {
	v := SparseVector{Indices: make([]int32, 0, len(m)), Values: make([]float32, 0, len(m))}
	for id, w := range m {
		if w > 0 {
			v.Indices = append(v.Indices, id)
		}
	}
	slices.Sort(v.Indices)
	for _, id := range v.Indices {
		v.Values = append(v.Values, m[id])
	}
	return v
}

// sparseKind is how a model computes its sparse output.
type sparseKind uint8

const (
	// sparseSplade pools log1p(relu(MLM logits)) over each sequence: the
	// graph gives [B, S, V].
	sparseSplade sparseKind = iota + 1
	// sparseTokens weighs every token, relu(Linear(h)), and keeps the
	// largest weight per token id (BGE-M3): the graph gives [B, T].
	sparseTokens
)

// sparseHead is a model's sparse output.
type sparseHead struct {
	kind sparseKind

	// SPLADE
	mlm    arch.MaskedLM
	splade spladePooling

	// BGE-M3: sparse_linear weight [H, 1] and bias [1] among the params,
	// and the ids never reported (the tokenizer's cls, eos, pad and unk).
	w, b int
	drop map[int32]bool

	// queryWeights, when set, gives queries the weights of their unique
	// token ids without running the model (doc-only models); queryFile
	// names the file they came from.
	queryWeights map[int32]float32
	queryFile    string
}

// spladePooling is sentence-transformers' SpladePooling config.
type spladePooling struct {
	Strategy   string `json:"pooling_strategy"`    // "max" (default) or "sum"
	Activation string `json:"activation_function"` // "relu" (default): log1p(relu(x)); "log1p_relu": log1p(log1p(relu(x)))
}

// readSpladePooling reads and checks a SpladePooling module's config.json.
func readSpladePooling(dir string) (*spladePooling, error) {
	p := &spladePooling{}
	if _, err := readJSON(filepath.Join(dir, "config.json"), p); err != nil {
		return nil, err
	}
	if p.Strategy == "" {
		p.Strategy = "max"
	}
	if p.Activation == "" {
		p.Activation = "relu"
	}
	if p.Strategy != "max" && p.Strategy != "sum" {
		return nil, fmt.Errorf("%w: SpladePooling pooling_strategy %q is not supported (max or sum)", ErrUnsupportedArchitecture, p.Strategy)
	}
	if p.Activation != "relu" && p.Activation != "log1p_relu" {
		return nil, fmt.Errorf("%w: SpladePooling activation_function %q is not supported (relu or log1p_relu)", ErrUnsupportedArchitecture, p.Activation)
	}
	return p, nil
}

// graph computes the sparse output from hidden [B, T, H]: SPLADE gives one
// vocabulary vector per segment slot, [B, S, V] (S = first's width); BGE-M3
// one weight per token, [B, T]. Padding and other segments weigh 0, as
// upstream multiplies by the attention mask.
func (h *sparseHead) graph(p arch.Params, hidden, segments, first *graph.Node) *graph.Node {
	if h.kind == sparseTokens {
		w := graph.Einsum("bth,ho->bto", hidden, p[h.w])
		w = graph.MaxScalar(graph.Add(w, graph.ExpandLeftToRank(p[h.b], 3)), 0) // relu, [B, T, 1]
		return graph.Squeeze(w, -1)
	}
	g := hidden.Graph()
	act := graph.Log1p(graph.MaxScalar(h.mlm.MLMLogits(p, hidden), 0)) // [B, T, V], ≥ 0
	if h.splade.Activation == "log1p_relu" {
		act = graph.Log1p(act)
	}
	s := first.Shape().Dimensions[1]
	slot := graph.AddScalar(graph.Iota(g, shapes.Make(segments.DType(), 1, s, 1), 1), 1)
	member := graph.ConvertDType(graph.Equal(graph.InsertAxes(segments, 1), slot), act.DType()) // [B, S, T]
	if h.splade.Strategy == "sum" {
		return graph.Einsum("bst,btv->bsv", member, act)
	}
	// Weights are ≥ 0, so zeroing the other tokens before the max is the
	// masked max.
	pooled := make([]*graph.Node, s)
	for i := range pooled {
		in := graph.InsertAxes(graph.Squeeze(graph.SliceAxis(member, 1, graph.AxisElem(i)), 1), -1) // [B, T, 1]
		pooled[i] = graph.ReduceMax(graph.Mul(act, in), 1)                                          // [B, V]
	}
	return graph.Stack(pooled, 1)
}

// decode turns the graph's sparse output into one vector per sequence.
func (h *sparseHead) decode(t *tensors.Tensor, b *deviceBatch) ([]*SparseVector, error) {
	flat, err := tensors.CopyFlatData[float32](t)
	if err != nil {
		return nil, joinKind(ErrBackend, err)
	}
	out := make([]*SparseVector, len(b.where))
	if h.kind == sparseSplade {
		v := len(flat) / (b.rows * b.slots)
		for i, w := range b.where {
			row := flat[(w[0]*b.slots+w[1])*v:][:v]
			sv := &SparseVector{Indices: []int32{}, Values: []float32{}}
			for id, x := range row {
				if x > 0 {
					sv.Indices = append(sv.Indices, int32(id))
					sv.Values = append(sv.Values, x)
				}
			}
			out[i] = sv
		}
		return out, nil
	}
	for i, w := range b.where {
		off := w[0]*b.length + b.start[i]
		best := map[int32]float32{}
		for t := range b.seqLen[i] {
			id, x := b.ids[off+t], flat[off+t]
			if x > 0 && !h.drop[id] && x > best[id] {
				best[id] = x
			}
		}
		sv := sparseFromMap(best)
		out[i] = &sv
	}
	return out, nil
}

// queryVector is the inference-free query side (SparseStaticEmbedding): the
// text tokenized without special tokens, and each unique id weighted by its
// entry in the table (ids without one weigh 0).
func (h *sparseHead) queryVector(m *model, text string) (*SparseVector, error) {
	enc, err := m.tok.Encode(text, false)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidInput, err)
	}
	w := map[int32]float32{}
	for _, id := range enc.IDs {
		w[int32(id)] = h.queryWeights[int32(id)]
	}
	v := sparseFromMap(w)
	return &v, nil
}

// readQueryWeights reads a doc-only model's query token weights: idf.json
// ({"token": weight, …}) or query_token_weights.txt (token TAB weight per
// line). Tokens are resolved through the tokenizer's vocabulary. It returns
// nil when the directory has neither file.
func readQueryWeights(dir string, m *model) (map[int32]float32, string, error) {
	weights := map[string]float64{}
	name := "idf.json"
	found, err := readJSON(filepath.Join(dir, name), &weights)
	if err != nil {
		return nil, "", err
	}
	if !found {
		name = "query_token_weights.txt"
		f, err := os.Open(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", nil
		}
		if err != nil {
			return nil, "", err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for line := 1; sc.Scan(); line++ {
			text := strings.TrimRight(sc.Text(), "\r")
			if text == "" {
				continue
			}
			tok, val, ok := strings.Cut(text, "\t")
			x, perr := strconv.ParseFloat(strings.TrimSpace(val), 64)
			if !ok || perr != nil {
				return nil, "", fmt.Errorf("%w: %s line %d: want \"token<TAB>weight\"", ErrInvalidModel, name, line)
			}
			weights[tok] = x
		}
		if err := sc.Err(); err != nil {
			return nil, "", err
		}
	}
	out := make(map[int32]float32, len(weights))
	var unknown []string
	for tok, x := range weights {
		id, ok := m.tok.TokenToID(tok)
		if !ok {
			unknown = append(unknown, tok)
			continue
		}
		out[int32(id)] = float32(x)
	}
	if len(unknown) > 0 && len(unknown) == len(weights) {
		return nil, "", fmt.Errorf("%w: %s: none of its %d tokens is in the tokenizer's vocabulary", ErrInvalidModel, name, len(weights))
	}
	return out, name, nil
}

// specialTokenIDs resolves the tokenizer's special tokens named in
// special_tokens_map.json (else tokenizer_config.json), such as "cls_token",
// to ids; names it cannot resolve are left out.
func specialTokenIDs(dir string, m *model, names ...string) (map[int32]bool, error) {
	raw := map[string]json.RawMessage{}
	found, err := readJSON(filepath.Join(dir, "special_tokens_map.json"), &raw)
	if err != nil {
		return nil, err
	}
	if !found {
		if _, err := readJSON(filepath.Join(dir, "tokenizer_config.json"), &raw); err != nil {
			return nil, err
		}
	}
	ids := map[int32]bool{}
	for _, n := range names {
		tok, ok := tokenContent(raw[n])
		if !ok {
			continue
		}
		if id, ok := m.tok.TokenToID(tok); ok {
			ids[int32(id)] = true
		}
	}
	return ids, nil
}

// tokenContent reads a special token entry: a string or {"content": …}.
func tokenContent(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, s != ""
	}
	var obj struct {
		Content string `json:"content"`
	}
	if json.Unmarshal(raw, &obj) == nil {
		return obj.Content, obj.Content != ""
	}
	return "", false
}
