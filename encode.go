package sie

import (
	"context"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// Output is a set of output kinds for Encode, combined with |.
type Output uint8

const (
	// Dense is one vector per item: the model's sentence-transformers
	// pooling (and Dense, Normalize) pipeline.
	Dense Output = 1 << iota
	// Sparse is one weight per vocabulary id: SPLADE, BGE-M3's sparse head,
	// or a doc-only model's query weights.
	Sparse
	// Multivector is one vector per token: ColBERT or BGE-M3's colbert head.
	Multivector
)

const allOutputs = Dense | Sparse | Multivector

var outputNames = []struct {
	o    Output
	name string
}{{Dense, "dense"}, {Sparse, "sparse"}, {Multivector, "multivector"}}

// String lists the outputs joined by "|", e.g. "dense|sparse".
func (o Output) String() string {
	var parts []string
	for _, n := range outputNames {
		if o&n.o != 0 {
			parts = append(parts, n.name)
		}
	}
	if rest := o &^ allOutputs; rest != 0 {
		parts = append(parts, fmt.Sprintf("Output(%#x)", uint8(rest)))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// ParseOutputs reads a list of output names separated by commas or "|",
// such as "dense,sparse,multivector". An unknown name is an ErrInvalidInput.
func ParseOutputs(s string) (Output, error) {
	var o Output
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '|' }) {
		f = strings.TrimSpace(f)
		found := false
		for _, n := range outputNames {
			if strings.EqualFold(f, n.name) {
				o |= n.o
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("%w: unknown output %q (want dense, sparse or multivector)", ErrInvalidInput, f)
		}
	}
	return o, nil
}

func (o Output) internal() outputSet {
	var s outputSet
	if o&Dense != 0 {
		s |= outDense
	}
	if o&Sparse != 0 {
		s |= outSparse
	}
	if o&Multivector != 0 {
		s |= outMulti
	}
	return s
}

func (s outputSet) public() Output {
	var o Output
	if s&outDense != 0 {
		o |= Dense
	}
	if s&outSparse != 0 {
		o |= Sparse
	}
	if s&outMulti != 0 {
		o |= Multivector
	}
	return o
}

// EncodeOptions configures one Encode call. The zero value asks for dense
// float32 vectors of documents.
type EncodeOptions struct {
	// Outputs selects what to compute; zero means Dense. An output the model
	// cannot give (see Engine.Outputs) is an ErrInvalidInput naming the model.
	Outputs Output

	// IsQuery marks the items as search queries: the model's query prompt or
	// default instruction applies, ColBERT models add the query marker and
	// expansion, and doc-only sparse models weigh query tokens from their
	// table instead of running the model. False means documents.
	IsQuery bool

	// Instruction replaces the model's default instruction; "" means the
	// default (for queries) or none.
	Instruction string

	// Prompt applies a named prompt from config_sentence_transformers.json
	// (like sentence-transformers' prompt_name); "" means the one IsQuery
	// selects.
	Prompt string

	// NoPrompt embeds the items as given, with no template or default
	// instruction (see the NoPrompt option); a Prompt still applies.
	NoPrompt bool

	// DType is the element type of the dense and multivector outputs; zero
	// means Float32 (Encoding.Dense, Encoding.Multivector). Any other value
	// fills Encoding.Quantized and Encoding.QuantizedMultivector instead.
	// Sparse outputs stay float32 whatever it says.
	DType DType

	// Dims truncates dense vectors to their first Dims values (Matryoshka)
	// and L2-normalises them again when the model normalises; zero means the
	// model's full dimension. Negative values, values above the model's
	// dimension, and Dims without a Dense output are ErrInvalidInput.
	Dims int
}

// Encoding is what Encode returns for one item. Only the fields of the
// requested outputs and DType are set; the others are nil.
type Encoding struct {
	// Dense is the dense vector (Outputs has Dense, DType is Float32).
	Dense []float32 `json:"dense,omitempty"`
	// Sparse is the sparse vector (Outputs has Sparse), possibly without
	// entries; its values are float32 whatever the DType.
	Sparse *SparseVector `json:"sparse,omitempty"`
	// Multivector holds one L2-normalised vector per kept token (Outputs has
	// Multivector, DType is Float32).
	Multivector [][]float32 `json:"multivector,omitempty"`
	// Quantized is the dense vector in DType (Outputs has Dense, DType is
	// not Float32).
	Quantized *Quantized `json:"quantized,omitempty"`
	// QuantizedMultivector is the multivector in DType, each token vector
	// quantized on its own (Outputs has Multivector, DType is not Float32).
	QuantizedMultivector []Quantized `json:"quantized_multivector,omitempty"`
}

// Outputs reports what Encode can give for a model, loading it if needed.
// A cross-encoder gives none (use Rerank).
func (e *Engine) Outputs(ctx context.Context, model string) (Output, error) {
	l, err := e.model(ctx, model)
	if err != nil {
		return 0, err
	}
	return l.m.outputs.public(), nil
}

// Encode computes the requested outputs for every item, in input order. An
// empty list gives an empty result.
func (e *Engine) Encode(ctx context.Context, model string, items []string, opts EncodeOptions) ([]Encoding, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opts.Outputs == 0 {
		opts.Outputs = Dense
	}
	if err := opts.validate(); err != nil {
		return nil, modelErr(model, "encode", err)
	}
	l, err := e.acquire(ctx, model)
	if err != nil {
		return nil, err
	}
	defer e.release(l)
	return e.encode(ctx, l, model, items, opts)
}

func (o EncodeOptions) validate() error {
	switch {
	case o.Outputs&^allOutputs != 0:
		return fmt.Errorf("%w: unknown output bits %#x (want Dense, Sparse, Multivector)", ErrInvalidInput, uint8(o.Outputs&^allOutputs))
	case !o.DType.valid():
		return fmt.Errorf("%w: unknown dtype %s (want float32, float16, int8, uint8 or binary)", ErrInvalidInput, o.DType)
	case o.Dims < 0:
		return fmt.Errorf("%w: Dims %d is negative", ErrInvalidInput, o.Dims)
	case o.Dims > 0 && o.Outputs&Dense == 0:
		return fmt.Errorf("%w: Dims applies to the dense output only, and %s does not include it", ErrInvalidInput, o.Outputs)
	}
	return nil
}

// encode runs Encode on a loaded model; opts.Outputs is not zero.
func (e *Engine) encode(ctx context.Context, l *loaded, model string, items []string, opts EncodeOptions) ([]Encoding, error) {
	m := l.m
	want := opts.Outputs.internal()
	if want&^m.outputs != 0 {
		return nil, modelErr(model, "encode", m.cannot(want&^m.outputs))
	}
	if opts.Dims > m.dim {
		return nil, modelErr(model, "encode", fmt.Errorf("%w: Dims %d is above the model's dimension %d", ErrInvalidInput, opts.Dims, m.dim))
	}
	if len(items) == 0 {
		return []Encoding{}, nil
	}
	cfg := &callConfig{isQuery: opts.IsQuery, instruction: opts.Instruction, promptName: opts.Prompt, noPrompt: opts.NoPrompt}
	out := make([]Encoding, len(items))

	// Doc-only sparse models weigh query tokens without the model.
	if want&outSparse != 0 && opts.IsQuery && m.sparse.queryWeights != nil {
		for i, item := range items {
			if !utf8.ValidString(item) {
				return nil, modelErr(model, "encode", fmt.Errorf("%w: text %d is not valid UTF-8", ErrInvalidInput, i))
			}
			text, err := m.prompts.apply(item, cfg)
			if err != nil {
				return nil, modelErr(model, "encode", err)
			}
			if out[i].Sparse, err = m.sparse.queryVector(m, text); err != nil {
				return nil, modelErr(model, "encode", fmt.Errorf("text %d: %w", i, err))
			}
		}
		want &^= outSparse
		if want == 0 {
			return out, nil
		}
	}

	var seqs []sequence
	var err error
	if m.multi != nil && m.multi.pylate != nil {
		seqs, err = m.multi.pylate.tokenize(m, items, cfg)
	} else {
		seqs, err = m.tokenize(items, cfg)
	}
	if err != nil {
		return nil, modelErr(model, "encode", err)
	}
	res, err := l.b.submit(ctx, want, seqs)
	if err != nil {
		return nil, callErr(model, "encode", err)
	}
	for i, r := range res {
		enc := &out[i]
		if want&outDense != 0 {
			v := truncateDims(r.dense, opts.Dims, m.pool.normalize)
			if opts.DType == Float32 {
				enc.Dense = v
			} else {
				q := quantize(v, opts.DType)
				enc.Quantized = &q
			}
		}
		if want&outSparse != 0 {
			enc.Sparse = r.sparse
		}
		if want&outMulti != 0 {
			vecs := m.multi.keep(seqs[i], r.tokens, opts.IsQuery)
			if opts.DType == Float32 {
				enc.Multivector = vecs
			} else {
				enc.QuantizedMultivector = make([]Quantized, len(vecs))
				for k, v := range vecs {
					enc.QuantizedMultivector[k] = quantize(v, opts.DType)
				}
			}
		}
	}
	return out, nil
}

// truncateDims keeps the first dims values (all when dims is 0) and
// L2-normalises them again when the model normalises.
func truncateDims(v []float32, dims int, normalize bool) []float32 {
	if dims == 0 || dims >= len(v) {
		return v
	}
	v = v[:dims:dims]
	if !normalize {
		return v
	}
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	norm := max(math.Sqrt(ss), 1e-12)
	out := make([]float32, dims)
	for i, x := range v {
		out[i] = float32(float64(x) / norm)
	}
	return out
}

// cannot is the ErrInvalidInput for outputs the model does not give.
func (m *model) cannot(missing outputSet) error {
	if m.classifier != nil {
		return fmt.Errorf("%w: model %q is a cross-encoder (%s): it gives rerank scores only, not %s; use Rerank",
			ErrInvalidInput, m.name, m.info.Architecture, missing.public())
	}
	return fmt.Errorf("%w: model %q (%s) cannot give %s; it gives %s",
		ErrInvalidInput, m.name, m.info.Architecture, missing.public(), m.outputs.public())
}
