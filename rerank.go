package sie

import (
	"context"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/sie-project/sie/arch"
)

// Ranked is one document of a Rerank result.
type Ranked struct {
	Index int     // position of the document in the caller's list
	Score float32 // higher is more relevant
}

// Score activations for ScoreActivation.
const (
	ScoreSigmoid = arch.ScoreSigmoid  // 1 / (1 + e^−logit)
	ScoreRaw     = arch.ScoreIdentity // the logit itself
)

// TopK keeps only the k best documents (k ≤ 0 keeps all). Rerank only.
func TopK(k int) Option {
	return func(c *callConfig) { c.topK = k; c.rerankOnly = append(c.rerankOnly, "TopK") }
}

// ScoreActivation overrides the checkpoint's score activation: ScoreSigmoid
// or ScoreRaw. By default a cross-encoder with one label gives the sigmoid of
// its logit unless its sentence-transformers config declares Identity, as
// sentence-transformers' CrossEncoder does. Rerank only.
func ScoreActivation(a string) Option {
	return func(c *callConfig) { c.activation = a; c.rerankOnly = append(c.rerankOnly, "ScoreActivation") }
}

// Rerank scores every document against query with a cross-encoder and
// returns them sorted by descending score (ties keep the caller's order),
// each with its original index. Each (query, document) pair is truncated
// longest-first at the model's maximum length, as the original tokenizer
// does. On a multivector model (ColBERT, BGE-M3) the query and the documents
// are encoded separately and compared by MaxSim, or as ScoreBy chooses; with
// ScoreBy, dense and sparse embedding models rerank the same way. An empty
// document list gives an empty result.
func (e *Engine) Rerank(ctx context.Context, model, query string, docs []string, opts ...Option) ([]Ranked, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg := newCallConfig(opts)
	switch cfg.activation {
	case "", ScoreSigmoid, ScoreRaw:
	default:
		return nil, modelErr(model, "rerank", fmt.Errorf("%w: unknown score activation %q (want %q or %q)", ErrInvalidInput, cfg.activation, ScoreSigmoid, ScoreRaw))
	}
	l, err := e.acquire(ctx, model)
	if err != nil {
		return nil, err
	}
	defer e.release(l)
	m := l.m
	if m.classifier == nil {
		if m.outputs&outMulti != 0 || cfg.late.mode != "" || m.scoreMode != "" {
			return e.rerankLate(ctx, l, model, query, docs, cfg)
		}
		return nil, modelErr(model, "rerank", fmt.Errorf("%w: %s is neither a cross-encoder nor a multivector model (ScoreBy(ScoreDense) or ScoreBy(ScoreSparse) compares its embeddings)", ErrInvalidInput, m.info.Architecture))
	}
	if cfg.late != (lateScoring{}) {
		return nil, modelErr(model, "rerank", fmt.Errorf("%w: ScoreBy and HybridWeights apply to multivector models, not to cross-encoders", ErrInvalidInput))
	}
	if n := m.classifier.NumLabels(); n != 1 {
		return nil, modelErr(model, "rerank", fmt.Errorf("%w: reranking needs a one-label cross-encoder, this one has %d labels", ErrInvalidInput, n))
	}
	if len(docs) == 0 {
		return []Ranked{}, nil
	}
	seqs, err := m.tokenizePairs(query, docs, cfg)
	if err != nil {
		return nil, modelErr(model, "rerank", err)
	}
	res, err := l.b.submit(ctx, outScore, seqs)
	if err != nil {
		return nil, callErr(model, "rerank", err)
	}
	activation := cfg.activation
	if activation == "" {
		activation = m.scoreActivation
	}
	if activation == "" {
		activation = m.classifier.ScoreActivation()
	}
	scores := make([]float32, len(docs))
	for i, r := range res {
		s := r.logits[0]
		if activation == ScoreSigmoid {
			s = float32(1 / (1 + math.Exp(-float64(s))))
		}
		scores[i] = s
	}
	return rankScores(scores, cfg.topK), nil
}

// tokenizePairs encodes (query, document) pairs; the query gets the model's
// query preparation (instruction or prompt).
func (m *model) tokenizePairs(query string, docs []string, cfg *callConfig) ([]sequence, error) {
	if !utf8.ValidString(query) {
		return nil, fmt.Errorf("%w: the query is not valid UTF-8", ErrInvalidInput)
	}
	qcfg := *cfg
	qcfg.isQuery = true
	q, err := m.prompts.apply(query, &qcfg)
	if err != nil {
		return nil, err
	}
	seqs := make([]sequence, len(docs))
	for i, d := range docs {
		if !utf8.ValidString(d) {
			return nil, fmt.Errorf("%w: document %d is not valid UTF-8", ErrInvalidInput, i)
		}
		enc, err := m.tok.EncodePair(q, d, true)
		if err != nil {
			return nil, fmt.Errorf("%w: document %d: %v", ErrInvalidInput, i, err)
		}
		seqs[i] = toSequence(enc.IDs, enc.TypeIDs)
	}
	return seqs, nil
}
