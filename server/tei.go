package server

// Hugging Face text-embeddings-inference: POST /embed, /embed_sparse,
// /embed_all, /rerank (with "texts"; with "documents" it is Infinity's, see
// infinity.go), /tokenize, GET /info, /health.

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sie-project/sie"
)

// TEIEmbedRequest is the body of POST /embed, /embed_sparse and /embed_all.
type TEIEmbedRequest struct {
	// Inputs is a string, an array of strings, an array of token ids or
	// an array of arrays of token ids (of the model's own tokenizer).
	Inputs any `json:"inputs"`
	// Truncate cuts over-long inputs (the default); false refuses them.
	Truncate *bool `json:"truncate,omitempty"`
	// TruncationDirection is "Right" (the default) or "Left".
	TruncationDirection string `json:"truncation_direction,omitempty"`
	// PromptName applies a named prompt of config_sentence_transformers.json.
	PromptName string `json:"prompt_name,omitempty"`
	// Normalize L2-normalises the vectors (default true; /embed only).
	Normalize *bool `json:"normalize,omitempty"`
	// Dimensions cuts vectors to their first N values (/embed only).
	Dimensions *int `json:"dimensions,omitempty"`
	// Model is sie's addition (TEI serves one model): a served name; ""
	// means the X-SIE-Model header, else the default model.
	Model string `json:"model,omitempty"`
}

type teiEmbedBody struct {
	Inputs              inputs `json:"inputs"`
	Truncate            *bool  `json:"truncate"`
	TruncationDirection string `json:"truncation_direction"`
	PromptName          string `json:"prompt_name"`
	Normalize           *bool  `json:"normalize"`
	Dimensions          *int   `json:"dimensions"`
	Model               string `json:"model"`
}

// TEISparseValue is one entry of an /embed_sparse vector.
type TEISparseValue struct {
	Index int32   `json:"index"`
	Value float32 `json:"value"`
}

// TEIRerankRequest is the body of POST /rerank in TEI's form.
type TEIRerankRequest struct {
	Query               string   `json:"query"`
	Texts               []string `json:"texts"`
	Truncate            *bool    `json:"truncate,omitempty"`
	TruncationDirection string   `json:"truncation_direction,omitempty"`
	// RawScores gives logits instead of sigmoid scores.
	RawScores bool `json:"raw_scores,omitempty"`
	// ReturnText copies each text into its result.
	ReturnText bool   `json:"return_text,omitempty"`
	Model      string `json:"model,omitempty"`
}

// TEIRank is one result of TEI's /rerank, best first.
type TEIRank struct {
	Index int     `json:"index"`
	Score float32 `json:"score"`
	Text  *string `json:"text,omitempty"`
}

// TEITokenizeRequest is the body of POST /tokenize.
type TEITokenizeRequest struct {
	// Inputs is a string or an array of strings.
	Inputs           any    `json:"inputs"`
	AddSpecialTokens *bool  `json:"add_special_tokens,omitempty"`
	PromptName       string `json:"prompt_name,omitempty"`
	Model            string `json:"model,omitempty"`
}

type teiTokenizeBody struct {
	Inputs           inputs `json:"inputs"`
	AddSpecialTokens *bool  `json:"add_special_tokens"`
	PromptName       string `json:"prompt_name"`
	Model            string `json:"model"`
}

// TEIInfo is the answer of GET /info: the default model (or the model the
// request names).
type TEIInfo struct {
	ModelID             string         `json:"model_id"`
	ModelSHA            *string        `json:"model_sha"`
	ModelDType          string         `json:"model_dtype"`
	ServedModelName     string         `json:"served_model_name"`
	ModelType           map[string]any `json:"model_type"`
	MaxConcurrent       int            `json:"max_concurrent_requests"`
	MaxInputLength      int            `json:"max_input_length"`
	MaxClientBatchSize  int            `json:"max_client_batch_size"`
	AutoTruncate        bool           `json:"auto_truncate"`
	Version             string         `json:"version"`
	Dims                int            `json:"dims"`
	Architecture        string         `json:"architecture"`
	Outputs             []string       `json:"outputs"`
	AvailablePromptName []string       `json:"prompts,omitempty"`
}

// Version is reported by /info.
const Version = "sie-0.1"

func (s *Server) teiRoutes() {
	s.handle("POST /embed", apiTEI, false, s.teiEmbed)
	s.handle("POST /embed_sparse", apiTEI, false, s.teiEmbedSparse)
	s.handle("POST /embed_all", apiTEI, false, s.teiEmbedAll)
	s.handle("POST /rerank", apiTEI, false, s.rerankTEIOrInfinity)
	s.handle("POST /tokenize", apiTEI, false, s.teiTokenize)
	s.handle("GET /info", apiTEI, false, s.teiInfo)
	s.handle("GET /health", apiTEI, true, s.health)
	s.handle("GET /ping", apiTEI, true, s.health)
}

// teiModel picks the model of a TEI request: its field, the X-SIE-Model
// header, else the default.
func (s *Server) teiModel(r *http.Request, field string) (string, error) {
	if field == "" {
		field = r.Header.Get("X-SIE-Model")
	}
	return s.model(field)
}

func teiTruncation(truncate *bool, direction string) (truncation, error) {
	if truncate != nil && !*truncate {
		return truncNone, nil
	}
	switch strings.ToLower(direction) {
	case "", "right":
		return truncRight, nil
	case "left":
		return truncLeft, nil
	}
	return 0, invalid("truncation_direction", "truncation_direction must be Right or Left, got %q", direction)
}

// teiInputs validates inputs and returns texts or ids.
func (s *Server) teiInputs(in inputs) ([]string, [][]int, error) {
	if !in.set {
		return nil, nil, invalid("inputs", "`inputs` is required")
	}
	if in.ids != nil {
		if len(in.ids) == 0 {
			return nil, nil, empty("inputs", "`inputs` cannot be empty")
		}
		if len(in.ids) > s.opts.MaxInputs {
			return nil, nil, invalid("inputs", "batch size %d > maximum allowed batch size %d", len(in.ids), s.opts.MaxInputs)
		}
		for _, x := range in.ids {
			if len(x) == 0 {
				return nil, nil, empty("inputs", "`inputs` cannot be empty")
			}
		}
		return nil, in.ids, nil
	}
	if len(in.texts) == 0 {
		return nil, nil, empty("inputs", "`inputs` cannot be empty")
	}
	if len(in.texts) > s.opts.MaxInputs {
		return nil, nil, invalid("inputs", "batch size %d > maximum allowed batch size %d", len(in.texts), s.opts.MaxInputs)
	}
	for _, t := range in.texts {
		if t == "" {
			return nil, nil, empty("inputs", "`inputs` cannot be empty")
		}
		if n := len([]rune(t)); n > s.opts.MaxInputChars {
			return nil, nil, invalid("inputs", "`inputs` must have less than %d characters. Given: %d", s.opts.MaxInputChars, n)
		}
	}
	return in.texts, nil, nil
}

func teiTooLong(i, n, max int) string {
	return fmt.Sprintf("`inputs` must have less than %d tokens. Given: %d", max, n)
}

func (s *Server) teiEmbed(w http.ResponseWriter, r *http.Request) error {
	var req teiEmbedBody
	if err := s.decode(r, &req); err != nil {
		return err
	}
	texts, ids, err := s.teiInputs(req.Inputs)
	if err != nil {
		return err
	}
	trunc, err := teiTruncation(req.Truncate, req.TruncationDirection)
	if err != nil {
		return err
	}
	dims := 0
	if req.Dimensions != nil {
		if *req.Dimensions <= 0 {
			return invalid("dimensions", "`dimensions` should be positive")
		}
		dims = *req.Dimensions
	}
	if ids != nil && req.PromptName != "" {
		return invalid("prompt_name", "`prompt_name` cannot be used with token ids")
	}
	model, err := s.teiModel(r, req.Model)
	if err != nil {
		return err
	}
	normalize := req.Normalize == nil || *req.Normalize
	res, err := s.embedDense(r.Context(), denseRequest{model: model, texts: texts, ids: ids, opts: promptOpts(req.PromptName),
		trunc: trunc, dims: dims, renorm: normalize, param: "inputs", tooLongF: teiTooLong})
	if err != nil {
		return err
	}
	setComputeHeaders(w, res.tokens)
	writeJSON(w, http.StatusOK, res.vecs)
	return nil
}

func setComputeHeaders(w http.ResponseWriter, tokens int) {
	w.Header().Set("X-Compute-Type", "sie")
	w.Header().Set("X-Compute-Tokens", strconv.Itoa(tokens))
}

// teiEncode runs Encode for /embed_sparse and /embed_all, refusing
// over-long inputs first when truncation is off.
func (s *Server) teiEncode(r *http.Request, out sie.Output) ([]sie.Encoding, error) {
	var req teiEmbedBody
	if err := s.decode(r, &req); err != nil {
		return nil, err
	}
	texts, ids, err := s.teiInputs(req.Inputs)
	if err != nil {
		return nil, err
	}
	if ids != nil {
		return nil, invalid("inputs", "token ids are accepted by /embed only; send texts")
	}
	trunc, err := teiTruncation(req.Truncate, req.TruncationDirection)
	if err != nil {
		return nil, err
	}
	if trunc == truncLeft {
		return nil, invalid("truncation_direction", "truncation_direction Left is served by /embed only")
	}
	model, err := s.teiModel(r, req.Model)
	if err != nil {
		return nil, err
	}
	info, err := s.b.Info(r.Context(), model)
	if err != nil {
		return nil, err
	}
	if info.Outputs&out == 0 {
		return nil, &apiError{kind: kindWrongModel, param: "model", code: codeInvalidInput,
			msg: fmt.Sprintf("the model %q gives no %s output (it is %s)", model, out, describe(info))}
	}
	if trunc == truncNone {
		toks, err := s.b.Tokenize(r.Context(), model, texts, promptOpts(req.PromptName)...)
		if err != nil {
			return nil, err
		}
		for i, t := range toks {
			if len(t) > info.MaxLength {
				return nil, invalid("inputs", "%s", teiTooLong(i, len(t), info.MaxLength))
			}
		}
	}
	return s.b.Encode(r.Context(), model, texts, sie.EncodeOptions{Outputs: out, Prompt: req.PromptName, NoPrompt: true})
}

func (s *Server) teiEmbedSparse(w http.ResponseWriter, r *http.Request) error {
	encs, err := s.teiEncode(r, sie.Sparse)
	if err != nil {
		return err
	}
	out := make([][]TEISparseValue, len(encs))
	for i, e := range encs {
		out[i] = make([]TEISparseValue, len(e.Sparse.Indices))
		for k, id := range e.Sparse.Indices {
			out[i][k] = TEISparseValue{Index: id, Value: e.Sparse.Values[k]}
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// teiEmbedAll answers per-token vectors: the model's multivector output
// (ColBERT, BGE-M3), projected and normalised as sie gives it.
func (s *Server) teiEmbedAll(w http.ResponseWriter, r *http.Request) error {
	encs, err := s.teiEncode(r, sie.Multivector)
	if err != nil {
		return err
	}
	out := make([][][]float32, len(encs))
	for i, e := range encs {
		out[i] = e.Multivector
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// rerankTEIOrInfinity serves POST /rerank: a body with "texts" is TEI's
// request, one with "documents" Infinity's.
func (s *Server) rerankTEIOrInfinity(w http.ResponseWriter, r *http.Request) error {
	var b rerankBody
	if err := s.decode(r, &b); err != nil {
		return err
	}
	if b.Documents != nil && b.Texts == nil {
		return s.infinityRerank(w, r, &b)
	}
	return s.teiRerank(w, r, &b)
}

// rerankBody is the union of the rerank requests of TEI, Infinity and
// Cohere, decoded once.
type rerankBody struct {
	Model               string       `json:"model"`
	Query               *string      `json:"query"`
	Texts               *[]string    `json:"texts"`
	Documents           *[]cohereDoc `json:"documents"`
	Truncate            *bool        `json:"truncate"`
	TruncationDirection string       `json:"truncation_direction"`
	RawScores           bool         `json:"raw_scores"`
	ReturnText          bool         `json:"return_text"`
	ReturnDocuments     bool         `json:"return_documents"`
	TopN                *int         `json:"top_n"`
	MaxTokensPerDoc     *int         `json:"max_tokens_per_doc"`
	RankFields          []string     `json:"rank_fields"`
	MaxChunksPerDoc     *int         `json:"max_chunks_per_doc"`
}

func (s *Server) teiRerank(w http.ResponseWriter, r *http.Request, b *rerankBody) error {
	if b.Query == nil {
		return invalid("query", "`query` is required")
	}
	var texts []string
	if b.Texts != nil {
		texts = *b.Texts
	}
	if err := s.checkRerankDocs("texts", texts); err != nil {
		return err
	}
	if _, err := teiTruncation(b.Truncate, b.TruncationDirection); err != nil {
		return err
	}
	model, err := s.teiModel(r, b.Model)
	if err != nil {
		return err
	}
	ranked, err := s.rerank(r, model, *b.Query, texts, b.RawScores, 0)
	if err != nil {
		return err
	}
	out := make([]TEIRank, len(ranked))
	for i, h := range ranked {
		out[i] = TEIRank{Index: h.Index, Score: h.Score}
		if b.ReturnText {
			t := texts[h.Index]
			out[i].Text = &t
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// checkRerankDocs applies the request limits to rerank documents; empty
// documents are allowed (they score like any text).
func (s *Server) checkRerankDocs(param string, docs []string) error {
	if len(docs) == 0 {
		return empty(param, "`%s` cannot be empty", param)
	}
	if len(docs) > s.opts.MaxInputs {
		return invalid(param, "%q has %d documents; at most %d are allowed per request", param, len(docs), s.opts.MaxInputs)
	}
	for i, t := range docs {
		if n := len([]rune(t)); n > s.opts.MaxInputChars {
			return invalid(param, "%s[%d] has %d characters; at most %d are allowed", param, i, n, s.opts.MaxInputChars)
		}
	}
	return nil
}

// rerank scores docs on a cross-encoder (sigmoid unless raw) or a
// multivector model (MaxSim), with no prompt, keeping topN (0: all).
func (s *Server) rerank(r *http.Request, model, query string, docs []string, raw bool, topN int) ([]sie.Ranked, error) {
	if n := len([]rune(query)); n > s.opts.MaxInputChars {
		return nil, invalid("query", "the query has %d characters; at most %d are allowed", n, s.opts.MaxInputChars)
	}
	info, err := s.b.Info(r.Context(), model)
	if err != nil {
		return nil, err
	}
	opts := []sie.Option{sie.NoPrompt()}
	switch {
	case info.CrossEncoder:
		act := sie.ScoreSigmoid
		if raw {
			act = sie.ScoreRaw
		}
		opts = append(opts, sie.ScoreActivation(act))
	case info.Outputs&sie.Multivector != 0:
	default:
		return nil, &apiError{kind: kindWrongModel, param: "model", code: codeInvalidInput,
			msg: fmt.Sprintf("model is not a re-ranker model: %q is %s", model, describe(info))}
	}
	if topN > 0 {
		opts = append(opts, sie.TopK(topN))
	}
	return s.b.Rerank(r.Context(), model, query, docs, opts...)
}

func (s *Server) teiTokenize(w http.ResponseWriter, r *http.Request) error {
	var req teiTokenizeBody
	if err := s.decode(r, &req); err != nil {
		return err
	}
	if req.Inputs.ids != nil {
		return invalid("inputs", "`inputs` must be a string or an array of strings")
	}
	texts, _, err := s.teiInputs(req.Inputs)
	if err != nil {
		return err
	}
	if req.AddSpecialTokens != nil && !*req.AddSpecialTokens {
		return invalid("add_special_tokens", "add_special_tokens false is not served; sie always adds the model's special tokens")
	}
	model, err := s.teiModel(r, req.Model)
	if err != nil {
		return err
	}
	toks, err := s.b.Tokenize(r.Context(), model, texts, promptOpts(req.PromptName)...)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toks)
	return nil
}

func (s *Server) teiInfo(w http.ResponseWriter, r *http.Request) error {
	model, err := s.teiModel(r, r.URL.Query().Get("model"))
	if err != nil {
		return err
	}
	info, err := s.b.Info(r.Context(), model)
	if err != nil {
		return err
	}
	name := r.URL.Query().Get("model")
	if name == "" {
		name = s.defaultModel
	}
	mt := map[string]any{"embedding": map[string]any{"pooling": info.Pooling}}
	if info.CrossEncoder {
		mt = map[string]any{"reranker": map[string]any{"id2label": map[string]string{"0": "LABEL_0"}, "label2id": map[string]int{"LABEL_0": 0}}}
	}
	var outs []string
	for _, o := range []sie.Output{sie.Dense, sie.Sparse, sie.Multivector} {
		if info.Outputs&o != 0 {
			outs = append(outs, o.String())
		}
	}
	writeJSON(w, http.StatusOK, TEIInfo{
		ModelID: model, ModelDType: "float32", ServedModelName: name, ModelType: mt,
		MaxConcurrent: s.opts.MaxConcurrent, MaxInputLength: info.MaxLength, MaxClientBatchSize: s.opts.MaxInputs,
		AutoTruncate: true, Version: Version, Dims: info.Dims, Architecture: info.Architecture, Outputs: outs,
		AvailablePromptName: info.Prompts,
	})
	return nil
}

// health answers TEI's and Infinity's /health at once: 200 with
// Infinity's {"unix": seconds} (TEI clients read only the status).
func (s *Server) health(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]float64{"unix": float64(time.Now().UnixNano()) / 1e9})
	return nil
}
