package sie

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/sie-project/sie/arch"
	"github.com/sie-project/sie/catalog"
	"github.com/sie-project/sie/internal/pytorch"
	"github.com/sie-project/sie/internal/safetensors"
	"github.com/sie-project/sie/internal/testhook"
	"github.com/sie-project/sie/tokenizer"
)

// model is one loaded checkpoint: its encoder graph, weights on the device,
// tokenizer and the sentence-transformers pipeline around the encoder.
type model struct {
	name    string // as the caller named it
	dir     string
	info    arch.Info
	encoder arch.Encoder
	weights []*tensors.Tensor // on the device, in arch.Params order
	bytes   int64             // weights' size on the device

	tok     *tokenizer.Tokenizer // truncation set to maxLen
	maxLen  int
	padID   int
	pool    pooling
	prompts prompts
	dim     int

	// classifier is set for cross-encoders, which give scores only.
	classifier arch.SequenceClassifier
	outputs    outputSet // what the model can give

	sparse *sparseHead // set when outputs has outSparse (sparse.go)
	multi  *multiHead  // set when outputs has outMulti (colbert.go)

	// Rerank's defaults from the catalog entry ("" = sie's own).
	scoreMode       ScoreMode
	scoreActivation string

	precision Precision // of weights on the device

	backend compute.Backend
	execMu  sync.Mutex
	execs   map[execKey]*graph.Exec // compiled lazily per output set
	shapes  map[shapeKey]bool       // programs built, for the compile counter
}

// shapeKey is one compiled program: outputs and batch shape.
type shapeKey struct {
	outputs             outputSet
	rows, length, slots int
}

// noteShape records that b ran with outputs and reports whether its shape
// was new (a compile).
func (m *model) noteShape(outputs outputSet, b *deviceBatch) bool {
	k := shapeKey{outputs, b.rows, b.length, b.slots}
	m.execMu.Lock()
	defer m.execMu.Unlock()
	if m.shapes[k] {
		return false
	}
	m.shapes[k] = true
	return true
}

// outputSet is a set of graph outputs.
type outputSet uint8

const (
	outDense  outputSet = 1 << iota // pooled (and projected, normalised) vector per sequence, [B, S, dim]
	outScore                        // classification logits per sequence, [B, S, labels]
	outSparse                       // SPLADE [B, S, vocab] or per-token weights [B, T] (sparseHead)
	outMulti                        // projected, normalised token vectors, [B, T, dim] (multiHead)
)

// execKey selects one compiled graph of a model.
type execKey struct {
	outputs outputSet
	debug   bool // also return hidden states and pooled vectors
}

// result is what one sequence gets back from a batch.
type result struct {
	dense  []float32
	logits []float32
	sparse *SparseVector // outSparse: final, ascending ids
	tokens [][]float32   // outMulti: one vector per token of the sequence, before filtering
	err    error         // this sequence's outputs are unusable (NaN); the others in the batch are fine
}

// checkFinite sets r.err when any output value is NaN: a NaN vector would
// poison every similarity computed with it, so the call fails instead.
// (Infinities pass: a raw logit may legitimately saturate.)
func (r *result) checkFinite() {
	bad := func(v []float32) bool {
		for _, x := range v {
			if x != x {
				return true
			}
		}
		return false
	}
	nan := bad(r.dense) || bad(r.logits)
	if r.sparse != nil {
		nan = nan || bad(r.sparse.Values)
	}
	for _, t := range r.tokens {
		nan = nan || bad(t)
	}
	if nan {
		r.err = fmt.Errorf("%w: the model's output for this text contains NaN", ErrBackend)
	}
}

// safetensorsSource adapts a safetensors.Set to arch.TensorSource.
type safetensorsSource struct{ set *safetensors.Set }

func (s safetensorsSource) Names() []string { return s.set.Names() }

func (s safetensorsSource) Float32(name string) ([]float32, []int, error) {
	t, ok := s.set.Tensor(name)
	if !ok {
		return nil, nil, fmt.Errorf("no tensor %q", name)
	}
	data, err := t.Float32()
	if err != nil {
		return nil, nil, err
	}
	return data, t.Shape, nil
}

// openWeights finds the checkpoint's safetensors: model.safetensors, a
// sharded model.safetensors.index.json, or the single .safetensors file in
// the directory.
func openWeights(dir string) (*safetensors.Set, error) {
	for _, name := range []string{"model.safetensors", "model.safetensors.index.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return safetensors.OpenDir(dir)
		}
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	switch len(matches) {
	case 1:
		return safetensors.OpenFiles(matches[0])
	case 0:
		return nil, fmt.Errorf("%w: no model.safetensors", ErrInvalidModel)
	default:
		return nil, fmt.Errorf("%w: several .safetensors files and no model.safetensors.index.json", ErrInvalidModel)
	}
}

// modelSettings are the facts that may come from the catalog instead of the
// checkpoint's own files.
type modelSettings struct {
	pooling   *pooling // replaces the Pooling mode and Normalize; Dense modules stay
	maxLength int
	prompts   *prompts

	// entry is the catalog entry the model was named by; its declared
	// architecture and output sizes are checked against the checkpoint.
	entry *catalog.Entry
	// outputs narrows what the model gives (a catalog profile); 0 = all.
	outputs outputSet
	// splade: the entry declares a SPLADE model, which a checkpoint without
	// modules.json cannot say itself.
	splade bool
	// scoreMode and scoreActivation are Rerank's defaults ("" = sie's).
	scoreMode       ScoreMode
	scoreActivation string

	precision Precision // of the weights on the device (Options.Precision)
}

func readJSON(path string, v any) (bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return true, fmt.Errorf("%w: %s: %v", ErrInvalidModel, filepath.Base(path), err)
	}
	return true, nil
}

// stModule is one entry of sentence-transformers' modules.json.
type stModule struct {
	Path string `json:"path"`
	Type string `json:"type"`
}

// readPooling reads the sentence-transformers pipeline after the encoder.
// Without modules.json sentence-transformers falls back to mean pooling
// without normalisation, and so do we.
func readPooling(dir string) (pooling, error) {
	var modules []stModule
	found, err := readJSON(filepath.Join(dir, "modules.json"), &modules)
	if err != nil {
		return pooling{}, err
	}
	if !found {
		return pooling{modes: []PoolingMode{PoolMean}}, nil
	}
	var p pooling
	havePooling := false
	for i, m := range modules {
		// A module folder comes from the checkpoint's author: it must stay
		// inside the model directory ("../../etc" would read elsewhere).
		if m.Path != "" && !filepath.IsLocal(m.Path) {
			return p, fmt.Errorf("%w: modules.json: module path %q is not inside the model directory", ErrInvalidModel, m.Path)
		}
		kind := m.Type[strings.LastIndex(m.Type, ".")+1:]
		switch {
		case kind == "Transformer" || kind == "MLMTransformer":
			if i != 0 {
				return p, fmt.Errorf("%w: modules.json: %s must come first", ErrInvalidModel, kind)
			}
		case kind == "SpladePooling":
			if p.splade, err = readSpladePooling(filepath.Join(dir, m.Path)); err != nil {
				return p, err
			}
		case kind == "Dense" && strings.HasPrefix(m.Type, "pylate."):
			d, err := readTokenDense(filepath.Join(dir, m.Path))
			if err != nil {
				return p, err
			}
			p.tokenDense = append(p.tokenDense, d)
		case kind == "Pooling":
			var c stPoolingConfig
			ok, err := readJSON(filepath.Join(dir, m.Path, "config.json"), &c)
			if err != nil {
				return p, err
			}
			if !ok {
				return p, fmt.Errorf("%w: modules.json names %s but %s/config.json is missing", ErrInvalidModel, m.Type, m.Path)
			}
			modes, err := c.modes()
			if err != nil {
				return p, fmt.Errorf("%w: %s/config.json: %v", ErrUnsupportedArchitecture, m.Path, err)
			}
			p.modes, havePooling = modes, true
		case kind == "Dense":
			if !havePooling || p.normalize {
				return p, fmt.Errorf("%w: modules.json: a Dense module is supported only between Pooling and Normalize", ErrUnsupportedArchitecture)
			}
			d, err := readDense(filepath.Join(dir, m.Path))
			if err != nil {
				return p, err
			}
			p.dense = append(p.dense, d)
		case kind == "Normalize":
			if !havePooling {
				return p, fmt.Errorf("%w: modules.json: Normalize before Pooling is not supported", ErrUnsupportedArchitecture)
			}
			p.normalize = true
		default:
			return p, fmt.Errorf("%w: sentence-transformers module %q is not supported", ErrUnsupportedArchitecture, m.Type)
		}
	}
	heads := 0
	for _, has := range []bool{havePooling, p.splade != nil, len(p.tokenDense) > 0} {
		if has {
			heads++
		}
	}
	if heads != 1 {
		return p, fmt.Errorf("%w: modules.json needs exactly one of Pooling, SpladePooling or PyLate Dense modules", ErrUnsupportedArchitecture)
	}
	return p, nil
}

// readMaxLength picks the truncation length the way sentence-transformers
// does: sentence_bert_config.json's max_seq_length wins over the tokenizer's
// own settings; the position table bounds everything.
func readMaxLength(dir string, tok *tokenizer.Tokenizer, override int) (int, error) {
	limit := override
	if limit == 0 {
		var st struct {
			MaxSeqLength int `json:"max_seq_length"`
		}
		if _, err := readJSON(filepath.Join(dir, "sentence_bert_config.json"), &st); err != nil {
			return 0, err
		}
		limit = st.MaxSeqLength
	}
	if limit == 0 {
		var tc struct {
			ModelMaxLength float64 `json:"model_max_length"`
		}
		if _, err := readJSON(filepath.Join(dir, "tokenizer_config.json"), &tc); err != nil {
			return 0, err
		}
		// transformers writes 1e30 for "no limit".
		if tc.ModelMaxLength > 0 && tc.ModelMaxLength < 1e9 {
			limit = int(tc.ModelMaxLength)
		}
	}
	if limit == 0 {
		if tr := tok.Truncation(); tr != nil {
			limit = tr.MaxLength
		}
	}
	return limit, nil
}

// loadModel reads a checkpoint directory and builds its graphs on backend.
// reserve is called once the model's size is known, before any device
// memory is used; an error aborts the load.
func loadModel(backend compute.Backend, name, dir string, s modelSettings, reserve func(weights int64, hidden int) error) (*model, error) {
	config, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: no config.json", ErrModelNotFound)
		}
		return nil, err
	}
	build, _, err := arch.Lookup(config)
	if err != nil {
		if errors.Is(err, arch.ErrUnsupported) {
			return nil, joinKind(ErrUnsupportedArchitecture, err)
		}
		return nil, joinKind(ErrInvalidModel, err)
	}

	set, err := openWeights(dir)
	if err != nil {
		if errors.Is(err, ErrInvalidModel) {
			return nil, err
		}
		return nil, joinKind(ErrInvalidModel, err)
	}
	w := arch.NewWeights(safetensorsSource{set})
	enc, err := build(config, w)
	if err != nil {
		return nil, joinKind(ErrInvalidModel, err)
	}
	if err := w.Check(); err != nil {
		return nil, joinKind(ErrInvalidModel, err)
	}

	tok, err := tokenizer.FromFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: no tokenizer.json", ErrInvalidModel)
		}
		// The file's name says what the package prefix said.
		return nil, joinKind(ErrInvalidModel, fmt.Errorf("tokenizer.json: %s", strings.TrimPrefix(err.Error(), "tokenizer: ")))
	}
	m := &model{name: name, dir: dir, encoder: enc, info: enc.Info(), backend: backend, execs: map[execKey]*graph.Exec{}, shapes: map[shapeKey]bool{},
		precision: s.precision}
	if c, ok := enc.(arch.SequenceClassifier); ok {
		m.classifier, m.outputs = c, outScore
	} else {
		if m.pool, err = settingsPooling(dir, s); err != nil {
			return nil, err
		}
		if len(m.pool.modes) > 0 {
			m.outputs = outDense
		}
		m.dim = m.info.HiddenSize * len(m.pool.modes)
	}

	if m.maxLen, err = readMaxLength(dir, tok, s.maxLength); err != nil {
		return nil, err
	}
	if maxPos := m.info.MaxPositions; maxPos > 0 && (m.maxLen == 0 || m.maxLen > maxPos) {
		m.maxLen = maxPos
	}
	if m.maxLen < tok.NumSpecialTokensToAdd(false)+1 {
		return nil, fmt.Errorf("%w: maximum sequence length %d leaves no room for text", ErrInvalidModel, m.maxLen)
	}
	m.tok = tok.WithTruncation(&tokenizer.Truncation{MaxLength: m.maxLen, Strategy: "LongestFirst", Direction: "Right"})
	m.padID = 0
	if pad := tok.Padding(); pad != nil {
		m.padID = pad.PadID
	}

	if m.prompts, err = settingsPrompts(dir, s.prompts); err != nil {
		return nil, err
	}

	params := w.Params()
	if m.outputs&outDense != 0 {
		if params, err = m.pool.takeDense(params, m.info.HiddenSize*len(m.pool.modes)); err != nil {
			return nil, err
		}
		if n := len(m.pool.dense); n > 0 {
			m.dim = m.pool.dense[n-1].out
		}
	}
	if m.classifier == nil {
		if params, err = m.loadHeads(params); err != nil { // sparse and multivector outputs (heads.go)
			return nil, err
		}
	}
	if err := m.applyEntry(config, s); err != nil { // catalog_load.go
		return nil, err
	}
	for _, p := range params {
		m.bytes += int64(len(p.Data)) * s.precision.bytesPerWeight()
	}
	if err := reserve(m.bytes, m.workspaceWidth()); err != nil {
		return nil, err
	}
	m.weights = make([]*tensors.Tensor, len(params))
	for i, p := range params {
		t := s.precision.tensor(p.Data, p.Shape)
		if err := t.ToDevice(backend, 0); err != nil {
			m.release()
			return nil, joinKind(ErrBackend, err)
		}
		m.weights[i] = t
	}
	return m, nil
}

// numGraphInputs is the number of per-batch inputs after the weights.
const numGraphInputs = 6

// execFor returns the compiled graph for a set of outputs, building it on
// first use. Its inputs are the weights, then ids, types, positions and
// segments [B, T] and segment first/last token indices [B, S]; its outputs
// come in outputSet bit order (then hidden states and pooled vectors when
// debugging).
func (m *model) execFor(k execKey) (*graph.Exec, error) {
	m.execMu.Lock()
	defer m.execMu.Unlock()
	if e, ok := m.execs[k]; ok {
		return e, nil
	}
	if k.outputs&^m.outputs != 0 {
		return nil, fmt.Errorf("%w: the model cannot give the requested outputs", ErrInvalidInput)
	}
	nw := len(m.weights)
	fn := func(in []*graph.Node) []*graph.Node {
		p := arch.Params(m.precision.widen(in[:nw]))
		x := in[nw:]
		types, segments := x[1], x[3]
		if m.multi.hidesTokens() {
			types, segments = hideTokens(types, segments)
		}
		if testhook.Build != nil {
			testhook.Build(m.name)
		}
		hidden := m.encoder.Forward(p, arch.Inputs{IDs: x[0], TypeIDs: types, Positions: x[2], Segments: segments})
		var outs []*graph.Node
		var pooled *graph.Node
		if k.outputs&outDense != 0 {
			pooled = m.pool.pool(hidden, x[3], x[4], x[5])
			emb := m.pool.project(p, pooled)
			if m.pool.normalize {
				emb = l2Normalize(emb)
			}
			outs = append(outs, emb)
		}
		if k.outputs&outScore != 0 {
			outs = append(outs, arch.ClassifySegments(m.classifier, p, hidden, x[4], x[3]))
		}
		if k.outputs&outSparse != 0 {
			outs = append(outs, m.sparse.graph(p, hidden, segments, x[4]))
		}
		if k.outputs&outMulti != 0 {
			outs = append(outs, m.multi.graph(p, hidden))
		}
		if k.debug {
			outs = append(outs, hidden)
			if pooled != nil {
				outs = append(outs, pooled)
			}
		}
		return outs
	}
	e, err := graph.NewExec(m.backend, fn)
	if err != nil {
		return nil, joinKind(ErrBackend, err)
	}
	e.SetMaxCache(maxCompiledShapes)
	e = e.WithName(fmt.Sprintf("sie:%s:%d", m.name, k.outputs))
	m.execs[k] = e
	return e, nil
}

// dropExecs forgets the compiled graphs after a panic; the next batch
// builds them again. They are not finalized: a panic while GoMLX builds a
// graph leaves that compilation pending forever, and Finalize would wait for
// it. What they hold is left to the garbage collector (panics are rare).
func (m *model) dropExecs() {
	m.execMu.Lock()
	defer m.execMu.Unlock()
	clear(m.execs)
}

// release frees the model's device memory.
func (m *model) release() {
	for _, t := range m.weights {
		if t != nil {
			_ = t.FinalizeAll()
		}
	}
	m.weights = nil
	m.execMu.Lock()
	for k, e := range m.execs {
		e.Finalize()
		delete(m.execs, k)
	}
	m.execMu.Unlock()
}

// deviceBatch is one padded batch of sequences laid out for the graph.
type deviceBatch struct {
	rows, length, slots  int
	ids, types, pos, seg []int32 // [rows·length]
	first, last          []int32 // [rows·slots]
	// where[i] is the (row, slot) of the batch's i-th sequence, start[i] the
	// index of its first token in the row and seqLen[i] its token count.
	where  [][2]int
	start  []int
	seqLen []int
}

// run executes one batch and returns each sequence's outputs in batch order.
func (m *model) run(outputs outputSet, b *deviceBatch) ([]result, error) {
	e, err := m.execFor(execKey{outputs: outputs})
	if err != nil {
		return nil, err
	}
	outs, err := m.exec(e, b)
	if err != nil {
		return nil, err
	}
	defer finalizeAll(outs)
	res := make([]result, len(b.where))
	next := 0
	if outputs&outDense != 0 {
		vecs, err := m.slotVectors(outs[next], b, m.dim)
		if err != nil {
			return nil, err
		}
		for i := range res {
			res[i].dense = vecs[i]
		}
		next++
	}
	if outputs&outScore != 0 {
		logits, err := m.slotVectors(outs[next], b, m.classifier.NumLabels())
		if err != nil {
			return nil, err
		}
		for i := range res {
			res[i].logits = logits[i]
		}
		next++
	}
	if outputs&outSparse != 0 {
		vecs, err := m.sparse.decode(outs[next], b)
		if err != nil {
			return nil, err
		}
		for i := range res {
			res[i].sparse = vecs[i]
		}
		next++
	}
	if outputs&outMulti != 0 {
		toks, err := m.multi.decode(outs[next], b)
		if err != nil {
			return nil, err
		}
		for i := range res {
			res[i].tokens = toks[i]
		}
	}
	for i := range res {
		res[i].checkFinite()
	}
	return res, nil
}

// exec runs e on a batch, turning GoMLX panics into errors.
func (m *model) exec(e *graph.Exec, b *deviceBatch) (outs []*tensors.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrBackend, r)
			// The panic may have struck while the graph was being built
			// or compiled: rebuild from scratch next time.
			m.dropExecs()
		}
	}()
	args := make([]any, 0, len(m.weights)+numGraphInputs)
	for _, w := range m.weights {
		args = append(args, w)
	}
	bt := func(v []int32, cols int) *tensors.Tensor {
		return tensors.FromFlatDataAndDimensions(v, len(v)/cols, cols)
	}
	args = append(args, bt(b.ids, b.length), bt(b.types, b.length), bt(b.pos, b.length), bt(b.seg, b.length),
		bt(b.first, b.slots), bt(b.last, b.slots))
	outs, err = e.Call(args...)
	if err != nil {
		return nil, joinKind(ErrBackend, err)
	}
	return outs, nil
}

// slotVectors copies [rows, slots, dim] output into one vector per sequence.
func (m *model) slotVectors(t *tensors.Tensor, b *deviceBatch, dim int) ([][]float32, error) {
	flat, err := tensors.CopyFlatData[float32](t)
	if err != nil {
		return nil, joinKind(ErrBackend, err)
	}
	out := make([][]float32, len(b.where))
	for i, w := range b.where {
		off := (w[0]*b.slots + w[1]) * dim
		out[i] = append([]float32(nil), flat[off:off+dim]...)
	}
	return out, nil
}

func finalizeAll(ts []*tensors.Tensor) {
	for _, t := range ts {
		_ = t.FinalizeAll()
	}
}

// readModuleTensors reads the weights of a sentence-transformers module
// folder: model.safetensors, else a PyTorch pytorch_model.bin.
func readModuleTensors(dir string) (arch.TensorSource, error) {
	if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err == nil {
		set, err := safetensors.OpenFiles(filepath.Join(dir, "model.safetensors"))
		if err != nil {
			return nil, joinKind(ErrInvalidModel, err)
		}
		return safetensorsSource{set}, nil
	}
	bin := filepath.Join(dir, "pytorch_model.bin")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%w: %s has neither model.safetensors nor pytorch_model.bin", ErrInvalidModel, filepath.Base(dir))
	}
	ts, err := pytorch.Load(bin)
	if err != nil {
		return nil, joinKind(ErrInvalidModel, err)
	}
	return mapSource(ts), nil
}

// mapSource adapts loose tensors to arch.TensorSource.
type mapSource map[string]*safetensors.Tensor

func (m mapSource) Names() []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	return names
}

func (m mapSource) Float32(name string) ([]float32, []int, error) {
	t, ok := m[name]
	if !ok {
		return nil, nil, fmt.Errorf("no tensor %q", name)
	}
	d, err := t.Float32()
	return d, t.Shape, err
}
