package sie

import (
	"context"
	"fmt"
	"unicode/utf8"
)

// ModelInfo describes a model as callers of a serving front end need it:
// what it gives, how wide its vectors are and how long its inputs may be.
type ModelInfo struct {
	Name         string `json:"name"`
	Architecture string `json:"architecture"`
	// Outputs is what Encode can give; zero for a cross-encoder.
	Outputs Output `json:"-"`
	// CrossEncoder is true for models that give rerank scores only.
	CrossEncoder bool `json:"cross_encoder"`
	// Dims is the dense vector's dimension (0 when the model has none).
	Dims int `json:"dims"`
	// MaxLength is the longest sequence in tokens, special tokens
	// included; longer inputs are truncated.
	MaxLength int `json:"max_length"`
	// VocabSize is the tokenizer's vocabulary size: valid token ids are
	// 0 … VocabSize−1.
	VocabSize int `json:"vocab_size"`
	// Pooling names the dense pooling ("mean", "cls", …; "" for none).
	Pooling string `json:"pooling,omitempty"`
	// Normalized is true when the dense vectors are L2-normalised (the
	// checkpoint has a Normalize module or the catalog says so).
	Normalized bool `json:"normalized"`
	// Prompts lists the named prompts of config_sentence_transformers.json.
	Prompts []string `json:"prompts,omitempty"`
}

// Info describes a model, loading it if needed.
func (e *Engine) Info(ctx context.Context, model string) (ModelInfo, error) {
	l, err := e.model(ctx, model)
	if err != nil {
		return ModelInfo{}, err
	}
	m := l.m
	info := ModelInfo{
		Name: model, Architecture: m.info.Architecture, Outputs: m.outputs.public(),
		CrossEncoder: m.classifier != nil, Dims: m.dim, MaxLength: m.maxLen,
		VocabSize: m.tok.VocabSize(), Prompts: m.prompts.promptNames(),
	}
	if m.classifier == nil && len(m.pool.modes) > 0 {
		info.Pooling = m.pool.String()
		info.Normalized = m.pool.normalize
	}
	return info, nil
}

// Token is one token of a Tokenize result.
type Token struct {
	ID      int    `json:"id"`
	Text    string `json:"text"`
	Special bool   `json:"special"`
	// Start and Stop are byte offsets of the token in the prepared text
	// (after any prompt); both 0 for special tokens.
	Start int `json:"start"`
	Stop  int `json:"stop"`
}

// Tokenize returns the tokens Embed would compute for each text, prompts
// applied as opts say and special tokens added, but without truncation: a
// text longer than ModelInfo.MaxLength gives all its tokens, so a caller can
// count them and refuse over-long input instead of truncating it.
func (e *Engine) Tokenize(ctx context.Context, model string, texts []string, opts ...Option) ([][]Token, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg := newCallConfig(opts)
	l, err := e.model(ctx, model)
	if err != nil {
		return nil, err
	}
	m := l.m
	tok := m.tok.WithTruncation(nil)
	out := make([][]Token, len(texts))
	for i, t := range texts {
		if !utf8.ValidString(t) {
			return nil, modelErr(model, "tokenize", fmt.Errorf("%w: text %d is not valid UTF-8", ErrInvalidInput, i))
		}
		prepared, err := m.prompts.apply(t, cfg)
		if err != nil {
			return nil, modelErr(model, "tokenize", err)
		}
		enc, err := tok.Encode(prepared, true)
		if err != nil {
			return nil, modelErr(model, "tokenize", fmt.Errorf("%w: text %d: %v", ErrInvalidInput, i, err))
		}
		toks := make([]Token, len(enc.IDs))
		for k, id := range enc.IDs {
			toks[k] = Token{ID: id, Text: enc.Tokens[k], Special: enc.SpecialTokensMask[k] == 1,
				Start: enc.Offsets[k][0], Stop: enc.Offsets[k][1]}
		}
		out[i] = toks
	}
	return out, nil
}

// EmbedIDs is Embed for texts already tokenized with the model's own
// tokenizer: each input is a list of token ids, used as given (special
// tokens are not added). Ids outside the vocabulary, empty inputs and inputs
// longer than the model's maximum length are ErrInvalidInput.
func (e *Engine) EmbedIDs(ctx context.Context, model string, inputs [][]int) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l, err := e.acquire(ctx, model)
	if err != nil {
		return nil, err
	}
	defer e.release(l)
	m := l.m
	if m.outputs&outDense == 0 {
		return nil, modelErr(model, "embed", m.cannot(outDense))
	}
	if len(inputs) == 0 {
		return [][]float32{}, nil
	}
	vocab := m.tok.VocabSize()
	seqs := make([]sequence, len(inputs))
	for i, ids := range inputs {
		switch {
		case len(ids) == 0:
			return nil, modelErr(model, "embed", fmt.Errorf("%w: token input %d is empty", ErrInvalidInput, i))
		case len(ids) > m.maxLen:
			return nil, modelErr(model, "embed", fmt.Errorf("%w: token input %d has %d tokens, more than the model's maximum of %d", ErrInvalidInput, i, len(ids), m.maxLen))
		}
		for _, id := range ids {
			if id < 0 || id >= vocab {
				return nil, modelErr(model, "embed", fmt.Errorf("%w: token input %d holds id %d, outside the model's vocabulary of %d ids (token ids must come from the model's own tokenizer)", ErrInvalidInput, i, id, vocab))
			}
		}
		seqs[i] = toSequence(ids, make([]int, len(ids)))
	}
	res, err := l.b.submit(ctx, outDense, seqs)
	if err != nil {
		return nil, callErr(model, "embed", err)
	}
	vecs := make([][]float32, len(res))
	for i, r := range res {
		vecs[i] = r.dense
	}
	return vecs, nil
}

// Loaded lists the models loaded now.
func (e *Engine) Loaded() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	names := make([]string, 0, len(e.models))
	for n := range e.models {
		names = append(names, n)
	}
	return names
}

// Quantize converts a float32 vector to d exactly as Encode does for
// EncodeOptions.DType (see DType for each scheme); Float32 and unknown
// dtypes are ErrInvalidInput.
func Quantize(x []float32, d DType) (Quantized, error) {
	if d == Float32 || !d.valid() {
		return Quantized{}, fmt.Errorf("%w: cannot quantize to %s", ErrInvalidInput, d)
	}
	return quantize(x, d), nil
}
