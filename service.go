package sie

import "context"

// Service is the method set of an Engine that callers program against. An
// in-process *Engine satisfies it, and so do the clients that reach a shared
// `sie serve` over HTTP (package server) or a cluster, so moving a service
// between in-process inference and a shared server is a change of
// constructor. Implementations return the same sentinel errors.
type Service interface {
	Embed(ctx context.Context, model string, texts []string, opts ...Option) ([][]float32, error)
	Encode(ctx context.Context, model string, items []string, opts EncodeOptions) ([]Encoding, error)
	Rerank(ctx context.Context, model, query string, docs []string, opts ...Option) ([]Ranked, error)
}

var _ Service = (*Engine)(nil)

// CallOptions is the exported form of a list of Options, for code that
// carries a call to another process (the HTTP client of package server) and
// must rebuild it there. The zero value means no options.
type CallOptions struct {
	IsQuery     bool   `json:"is_query,omitempty"`
	Instruction string `json:"instruction,omitempty"`
	Prompt      string `json:"prompt_name,omitempty"`
	NoPrompt    bool   `json:"no_prompt,omitempty"`

	TopK            int         `json:"top_k,omitempty"`
	ScoreActivation string      `json:"score_activation,omitempty"`
	ScoreBy         ScoreMode   `json:"score_by,omitempty"`
	HybridWeights   *[3]float64 `json:"hybrid_weights,omitempty"`
}

// ReadOptions returns what opts ask for.
func ReadOptions(opts ...Option) CallOptions {
	c := newCallConfig(opts)
	return CallOptions{
		IsQuery: c.isQuery, Instruction: c.instruction, Prompt: c.promptName, NoPrompt: c.noPrompt,
		TopK: c.topK, ScoreActivation: c.activation, ScoreBy: c.late.mode, HybridWeights: c.late.weights,
	}
}

// Options turns c back into the Options it describes; ReadOptions of the
// result equals c.
func (c CallOptions) Options() []Option {
	var opts []Option
	if c.IsQuery {
		opts = append(opts, Query())
	}
	if c.Instruction != "" {
		opts = append(opts, Instruction(c.Instruction))
	}
	if c.Prompt != "" {
		opts = append(opts, Prompt(c.Prompt))
	}
	if c.NoPrompt {
		opts = append(opts, NoPrompt())
	}
	if c.TopK != 0 {
		opts = append(opts, TopK(c.TopK))
	}
	if c.ScoreActivation != "" {
		opts = append(opts, ScoreActivation(c.ScoreActivation))
	}
	if c.ScoreBy != "" {
		opts = append(opts, ScoreBy(c.ScoreBy))
	}
	if w := c.HybridWeights; w != nil {
		opts = append(opts, HybridWeights(w[0], w[1], w[2]))
	}
	return opts
}
