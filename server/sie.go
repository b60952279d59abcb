package server

// sie's own routes: POST /v1/encode/{model}, POST /v1/score/{model},
// GET /healthz, GET /readyz. They apply the model's query and document
// templates as the Go API does, and carry every Encode and Rerank option;
// Client speaks them.

import (
	"net/http"
	"sort"
	"strings"

	"github.com/sie-project/sie"
)

// Item is one input of sie's routes.
type Item struct {
	Text string `json:"text"`
}

// EncodeParams are the options of POST /v1/encode/{model}; see
// sie.EncodeOptions.
type EncodeParams struct {
	// OutputTypes lists dense, sparse, multivector; absent means dense.
	OutputTypes []string `json:"output_types,omitempty"`
	// OutputDType is float32 (the default), float16, int8, uint8 or binary.
	OutputDType string `json:"output_dtype,omitempty"`
	IsQuery     bool   `json:"is_query,omitempty"`
	Instruction string `json:"instruction,omitempty"`
	PromptName  string `json:"prompt_name,omitempty"`
	NoPrompt    bool   `json:"no_prompt,omitempty"`
	// Dims cuts dense vectors to their first N values (Matryoshka).
	Dims    int           `json:"dims,omitempty"`
	Options ParamsOptions `json:"options,omitzero"`
}

// ParamsOptions holds SIE's runtime options.
type ParamsOptions struct {
	// Profile selects a catalog profile: the model is served as
	// "model:profile".
	Profile string `json:"profile,omitempty"`
}

// EncodeRequest is the body of POST /v1/encode/{model}.
type EncodeRequest struct {
	Items  []Item       `json:"items"`
	Params EncodeParams `json:"params,omitzero"`
}

// Vector is a dense vector, or one token vector of a multivector: Values
// for float32, otherwise Data (base64 in JSON) in the layout of
// sie.Quantized with its Scale and Min.
type Vector struct {
	Dims   int       `json:"dims"`
	DType  string    `json:"dtype"`
	Values []float32 `json:"values,omitempty"`
	Data   []byte    `json:"data,omitempty"`
	Scale  float32   `json:"scale,omitempty"`
	Min    float32   `json:"min,omitempty"`
}

// EncodedItem holds the requested outputs of one item.
type EncodedItem struct {
	Dense       *Vector           `json:"dense,omitempty"`
	Sparse      *sie.SparseVector `json:"sparse,omitempty"`
	Multivector []Vector          `json:"multivector,omitempty"`
}

// EncodeResponse is the answer of POST /v1/encode/{model}.
type EncodeResponse struct {
	Model string        `json:"model"`
	Items []EncodedItem `json:"items"`
}

// ScoreParams are the options of POST /v1/score/{model}; see sie.Rerank's
// options.
type ScoreParams struct {
	Instruction     string      `json:"instruction,omitempty"`
	PromptName      string      `json:"prompt_name,omitempty"`
	NoPrompt        bool        `json:"no_prompt,omitempty"`
	TopK            int         `json:"top_k,omitempty"`
	ScoreActivation string      `json:"score_activation,omitempty"`
	ScoreBy         string      `json:"score_by,omitempty"`
	HybridWeights   *[3]float64 `json:"hybrid_weights,omitempty"`
	// IsQuery is accepted for symmetry; the query is always a query.
	IsQuery bool          `json:"is_query,omitempty"`
	Options ParamsOptions `json:"options,omitzero"`
}

// ScoreRequest is the body of POST /v1/score/{model}.
type ScoreRequest struct {
	Query  Item        `json:"query"`
	Items  []Item      `json:"items"`
	Params ScoreParams `json:"params,omitzero"`
}

// Score is one scored item, best first.
type Score struct {
	Index int     `json:"index"`
	Score float32 `json:"score"`
}

// ScoreResponse is the answer of POST /v1/score/{model}.
type ScoreResponse struct {
	Model  string  `json:"model"`
	Scores []Score `json:"scores"`
}

func (s *Server) sieRoutes() {
	s.handle("POST /v1/encode/{model...}", apiSIE, false, s.sieEncode)
	s.handle("POST /v1/score/{model...}", apiSIE, false, s.sieScore)
	s.handle("GET /healthz", apiSIE, true, func(w http.ResponseWriter, r *http.Request) error {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return nil
	})
	s.handle("GET /readyz", apiSIE, true, s.readyz)
}

func (s *Server) sieModel(r *http.Request, profile string) (string, error) {
	name := r.PathValue("model")
	if profile != "" {
		name += ":" + profile
	}
	if name == "" {
		return "", invalid("model", "the path names no model: POST /v1/encode/{model}")
	}
	return s.model(name)
}

func (s *Server) sieTexts(items []Item) ([]string, error) {
	texts := make([]string, len(items))
	for i, it := range items {
		texts[i] = it.Text
	}
	if len(texts) > s.opts.MaxInputs {
		return nil, invalid("items", "%d items; at most %d are allowed per request", len(texts), s.opts.MaxInputs)
	}
	for i, t := range texts {
		if n := len([]rune(t)); n > s.opts.MaxInputChars {
			return nil, invalid("items", "items[%d] has %d characters; at most %d are allowed", i, n, s.opts.MaxInputChars)
		}
	}
	return texts, nil
}

func (s *Server) sieEncode(w http.ResponseWriter, r *http.Request) error {
	var req EncodeRequest
	if err := s.decode(r, &req); err != nil {
		return err
	}
	texts, err := s.sieTexts(req.Items)
	if err != nil {
		return err
	}
	p := req.Params
	outputs, err := sie.ParseOutputs(strings.Join(p.OutputTypes, ","))
	if err != nil {
		return err
	}
	dtype, err := sie.ParseDType(p.OutputDType)
	if err != nil {
		return err
	}
	model, err := s.sieModel(r, p.Options.Profile)
	if err != nil {
		return err
	}
	encs, err := s.b.Encode(r.Context(), model, texts, sie.EncodeOptions{Outputs: outputs, IsQuery: p.IsQuery,
		Instruction: p.Instruction, Prompt: p.PromptName, NoPrompt: p.NoPrompt, DType: dtype, Dims: p.Dims})
	if err != nil {
		return err
	}
	out := EncodeResponse{Model: r.PathValue("model"), Items: make([]EncodedItem, len(encs))}
	for i, e := range encs {
		it := &out.Items[i]
		switch {
		case e.Dense != nil:
			it.Dense = &Vector{Dims: len(e.Dense), DType: "float32", Values: e.Dense}
		case e.Quantized != nil:
			it.Dense = quantizedVector(*e.Quantized)
		}
		it.Sparse = e.Sparse
		if e.Multivector != nil {
			it.Multivector = make([]Vector, len(e.Multivector))
			for k, v := range e.Multivector {
				it.Multivector[k] = Vector{Dims: len(v), DType: "float32", Values: v}
			}
		}
		if e.QuantizedMultivector != nil {
			it.Multivector = make([]Vector, len(e.QuantizedMultivector))
			for k, q := range e.QuantizedMultivector {
				it.Multivector[k] = *quantizedVector(q)
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func quantizedVector(q sie.Quantized) *Vector {
	return &Vector{Dims: q.Dims, DType: q.DType.String(), Data: q.Data, Scale: q.Scale, Min: q.Min}
}

func (s *Server) sieScore(w http.ResponseWriter, r *http.Request) error {
	var req ScoreRequest
	if err := s.decode(r, &req); err != nil {
		return err
	}
	texts, err := s.sieTexts(req.Items)
	if err != nil {
		return err
	}
	p := req.Params
	model, err := s.sieModel(r, p.Options.Profile)
	if err != nil {
		return err
	}
	co := sie.CallOptions{Instruction: p.Instruction, Prompt: p.PromptName, NoPrompt: p.NoPrompt, TopK: p.TopK,
		ScoreActivation: p.ScoreActivation, ScoreBy: sie.ScoreMode(p.ScoreBy), HybridWeights: p.HybridWeights}
	ranked, err := s.b.Rerank(r.Context(), model, req.Query.Text, texts, co.Options()...)
	if err != nil {
		return err
	}
	out := ScoreResponse{Model: r.PathValue("model"), Scores: make([]Score, len(ranked))}
	for i, h := range ranked {
		out.Scores[i] = Score{Index: h.Index, Score: h.Score}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	loading := make([]string, 0, len(s.loading))
	for n := range s.loading {
		loading = append(loading, n)
	}
	loadErr := s.loadErr
	s.mu.Unlock()
	sort.Strings(loading)
	switch {
	case loadErr != nil:
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "error": loadErr.Error()})
	case len(loading) > 0:
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "loading": loading})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"ready": true, "models": s.served()})
	}
	return nil
}
