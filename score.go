package sie

import (
	"context"
	"fmt"
	"slices"
)

// ScoreMode chooses what Rerank compares on a model without a cross-encoder
// head (ColBERT, BGE-M3, embedding models); see ScoreBy.
type ScoreMode string

const (
	// ScoreMaxSim is late interaction over the multivector outputs (the
	// default): ColBERT's Σ over query vectors of the best inner product
	// with a document vector; BGE-M3 divides it by the number of query
	// vectors, as FlagEmbedding's colbert_score does.
	ScoreMaxSim ScoreMode = "maxsim"
	// ScoreDense is the inner product of the dense vectors (the cosine for
	// models that normalise).
	ScoreDense ScoreMode = "dense"
	// ScoreSparse is the inner product of the sparse vectors
	// (FlagEmbedding's lexical matching score).
	ScoreSparse ScoreMode = "sparse"
	// ScoreHybrid is the weighted mean of the three, as FlagEmbedding's
	// compute_score "colbert+sparse+dense" computes it:
	// (w_d·dense + w_s·sparse + w_m·maxsim) / (w_d + w_s + w_m), with the
	// weights of HybridWeights, by default BGE-M3's recommended 0.4, 0.2, 0.4.
	ScoreHybrid ScoreMode = "hybrid"
)

// defaultHybridWeights are BGE-M3's recommended weights_for_different_modes
// (dense, sparse, colbert) from its model card. FlagEmbedding's compute_score
// falls back to equal weights when given none; pass HybridWeights(1, 1, 1)
// for that.
var defaultHybridWeights = [3]float64{0.4, 0.2, 0.4}

// lateScoring holds the Rerank options for models without a cross-encoder
// head.
type lateScoring struct {
	mode    ScoreMode
	weights *[3]float64 // dense, sparse, multivector
}

// ScoreBy chooses how Rerank scores on a model without a cross-encoder
// head: ScoreMaxSim (the default on multivector models such as ColBERT and
// BGE-M3), ScoreDense, ScoreSparse or ScoreHybrid. The query is encoded as a
// query and the documents as documents, and the model must give the outputs
// the mode reads. Rerank only, and not for cross-encoders.
func ScoreBy(mode ScoreMode) Option {
	return func(c *callConfig) { c.late.mode = mode; c.rerankOnly = append(c.rerankOnly, "ScoreBy") }
}

// HybridWeights sets the weights of ScoreHybrid for the dense, sparse and
// multivector scores; they must not be negative and must not all be 0. A
// zero weight leaves that output out. Rerank only.
func HybridWeights(dense, sparse, multivector float64) Option {
	return func(c *callConfig) {
		c.late.weights = &[3]float64{dense, sparse, multivector}
		c.rerankOnly = append(c.rerankOnly, "HybridWeights")
	}
}

// rerankLate ranks documents by comparing Encode outputs of the query and
// of each document (bi-encoder scoring).
func (e *Engine) rerankLate(ctx context.Context, l *loaded, model, query string, docs []string, cfg *callConfig) ([]Ranked, error) {
	m := l.m
	if cfg.activation == ScoreSigmoid {
		return nil, modelErr(model, "rerank", fmt.Errorf("%w: ScoreActivation applies to cross-encoders; %s scores by %s", ErrInvalidInput, m.info.Architecture, ScoreMaxSim))
	}
	mode := cfg.late.mode
	if mode == "" {
		mode = m.scoreMode
	}
	if mode == "" {
		mode = ScoreMaxSim
	}
	w := defaultHybridWeights
	if cfg.late.weights != nil {
		w = *cfg.late.weights
		if w[0] < 0 || w[1] < 0 || w[2] < 0 || w[0]+w[1]+w[2] <= 0 {
			return nil, modelErr(model, "rerank", fmt.Errorf("%w: hybrid weights %v must not be negative nor all 0", ErrInvalidInput, w))
		}
	}
	var need Output
	switch mode {
	case ScoreMaxSim:
		need = Multivector
	case ScoreDense:
		need = Dense
	case ScoreSparse:
		need = Sparse
	case ScoreHybrid:
		for k, o := range []Output{Dense, Sparse, Multivector} {
			if w[k] > 0 {
				need |= o
			}
		}
	default:
		return nil, modelErr(model, "rerank", fmt.Errorf("%w: unknown score mode %q (want %s, %s, %s or %s)", ErrInvalidInput, mode, ScoreMaxSim, ScoreDense, ScoreSparse, ScoreHybrid))
	}
	if len(docs) == 0 {
		return []Ranked{}, nil
	}
	q, err := e.encode(ctx, l, model, []string{query}, EncodeOptions{Outputs: need, IsQuery: true, Instruction: cfg.instruction, Prompt: cfg.promptName})
	if err != nil {
		return nil, err
	}
	d, err := e.encode(ctx, l, model, docs, EncodeOptions{Outputs: need})
	if err != nil {
		return nil, err
	}
	maxsim := func(doc Encoding) float64 {
		s := float64(MaxSim(q[0].Multivector, doc.Multivector))
		if m.multi.meanOverQuery && len(q[0].Multivector) > 0 {
			s /= float64(len(q[0].Multivector))
		}
		return s
	}
	scores := make([]float32, len(docs))
	for i, doc := range d {
		var s float64
		switch mode {
		case ScoreMaxSim:
			s = maxsim(doc)
		case ScoreDense:
			s = dot64(q[0].Dense, doc.Dense)
		case ScoreSparse:
			s = float64(q[0].Sparse.Dot(*doc.Sparse))
		case ScoreHybrid:
			if w[0] > 0 {
				s += w[0] * dot64(q[0].Dense, doc.Dense)
			}
			if w[1] > 0 {
				s += w[1] * float64(q[0].Sparse.Dot(*doc.Sparse))
			}
			if w[2] > 0 {
				s += w[2] * maxsim(doc)
			}
			s /= w[0] + w[1] + w[2]
		}
		scores[i] = float32(s)
	}
	return rankScores(scores, cfg.topK), nil
}

// rankScores sorts scores descending (ties keep the input order) and keeps
// the best topK (all when topK ≤ 0).
func rankScores(scores []float32, topK int) []Ranked {
	ranked := make([]Ranked, len(scores))
	for i, s := range scores {
		ranked[i] = Ranked{Index: i, Score: s}
	}
	slices.SortStableFunc(ranked, func(a, b Ranked) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return 0
	})
	if topK > 0 && topK < len(ranked) {
		ranked = ranked[:topK]
	}
	return ranked
}
