package server

// Cohere: POST /v2/embed, /v2/rerank, /v1/embed, /v1/rerank.
//
// Quantized embedding types are computed from the float vector with sie's
// per-vector schemes (the mapping behind Cohere's own int8/uint8 is not
// published, so vectors from Cohere cannot be mixed with these):
//   - int8: round(x / max|x| × 127), per vector (sie.Int8);
//   - uint8: round((x − min) / (max − min) × 255), per vector (sie.Uint8);
//   - ubinary: one bit per dimension, x > 0, packed 8 to a byte most
//     significant bit first (numpy.packbits), as unsigned 0…255;
//   - binary: ubinary − 128, as signed −128…127 (Cohere's signed packing);
//   - base64: little-endian float32 bytes in standard base64.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/sie-project/sie"
)

// CohereEmbedRequest is the body of POST /v2/embed and /v1/embed.
type CohereEmbedRequest struct {
	Model string `json:"model,omitempty"`
	// InputType is search_query, search_document, classification,
	// clustering or image; "" means absent (no prompt).
	InputType string   `json:"input_type,omitempty"`
	Texts     []string `json:"texts"`
	// EmbeddingTypes lists float, int8, uint8, binary, ubinary, base64;
	// absent means float.
	EmbeddingTypes []string `json:"embedding_types,omitempty"`
	// Truncate is END (the default), START or NONE.
	Truncate string `json:"truncate,omitempty"`
	// OutputDimension cuts vectors to their first N values, re-normalised.
	OutputDimension *int `json:"output_dimension,omitempty"`
	// MaxTokens caps each input's tokens before Truncate applies.
	MaxTokens *int `json:"max_tokens,omitempty"`
}

type cohereEmbedBody struct {
	Model           string            `json:"model"`
	InputType       string            `json:"input_type"`
	Texts           []string          `json:"texts"`
	Images          []json.RawMessage `json:"images"`
	Inputs          []json.RawMessage `json:"inputs"`
	EmbeddingTypes  []string          `json:"embedding_types"`
	Truncate        string            `json:"truncate"`
	OutputDimension *int              `json:"output_dimension"`
	MaxTokens       *int              `json:"max_tokens"`
}

// CohereEmbeddings holds one array per requested embedding type.
type CohereEmbeddings struct {
	Float   [][]float32 `json:"float,omitempty"`
	Int8    [][]int     `json:"int8,omitempty"`
	Uint8   [][]int     `json:"uint8,omitempty"`
	Binary  [][]int     `json:"binary,omitempty"`
	Ubinary [][]int     `json:"ubinary,omitempty"`
	Base64  []string    `json:"base64,omitempty"`
}

// CohereEmbedResponse is the answer of /v2/embed (and /v1/embed with
// embedding_types): response_type "embeddings_by_type". /v1/embed without
// embedding_types answers "embeddings_floats" with Embeddings a [][]float.
type CohereEmbedResponse struct {
	ID           string     `json:"id"`
	ResponseType string     `json:"response_type"`
	Embeddings   any        `json:"embeddings"`
	Texts        []string   `json:"texts"`
	Meta         CohereMeta `json:"meta"`
}

// CohereMeta is the response's meta block.
type CohereMeta struct {
	APIVersion  map[string]string `json:"api_version"`
	BilledUnits map[string]int    `json:"billed_units"`
}

// CohereRerankRequest is the body of POST /v2/rerank and /v1/rerank.
type CohereRerankRequest struct {
	Model string `json:"model,omitempty"`
	Query string `json:"query"`
	// Documents are strings, or (v1) objects of string fields.
	Documents []any `json:"documents"`
	// TopN keeps the N best; absent keeps all.
	TopN *int `json:"top_n,omitempty"`
	// MaxTokensPerDoc is accepted (must be positive); documents are cut at
	// the model's maximum length.
	MaxTokensPerDoc *int `json:"max_tokens_per_doc,omitempty"`
	// RankFields (v1) are the object fields ranked on, in order.
	RankFields []string `json:"rank_fields,omitempty"`
	// ReturnDocuments (v1) copies each document into its result.
	ReturnDocuments bool `json:"return_documents,omitempty"`
}

// CohereRerankResult is one result, best first.
type CohereRerankResult struct {
	Index          int               `json:"index"`
	RelevanceScore float32           `json:"relevance_score"`
	Document       map[string]string `json:"document,omitempty"`
}

// CohereRerankResponse is the answer of the rerank routes.
type CohereRerankResponse struct {
	ID      string               `json:"id"`
	Results []CohereRerankResult `json:"results"`
	Meta    CohereMeta           `json:"meta"`
}

// cohereDoc is a rerank document: a string or an object of fields.
type cohereDoc struct {
	text   string
	fields map[string]string
}

func (d *cohereDoc) UnmarshalJSON(data []byte) error {
	if json.Unmarshal(data, &d.text) == nil {
		return nil
	}
	if err := json.Unmarshal(data, &d.fields); err == nil && d.fields != nil {
		return nil
	}
	return &fieldError{field: "documents", msg: "each document must be a string or an object of string fields"}
}

// rankText is what the model reads of d: the text, or rank_fields as
// "field: value" lines (all fields, sorted, without rank_fields and without
// a "text" field).
func (d cohereDoc) rankText(rankFields []string) string {
	if d.fields == nil {
		return d.text
	}
	if len(rankFields) == 0 {
		if t, ok := d.fields["text"]; ok {
			return t
		}
		for k := range d.fields {
			rankFields = append(rankFields, k)
		}
		sort.Strings(rankFields)
	}
	var b strings.Builder
	for _, f := range rankFields {
		fmt.Fprintf(&b, "%s: %s\n", f, d.fields[f])
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func (d cohereDoc) object() map[string]string {
	if d.fields != nil {
		return d.fields
	}
	return map[string]string{"text": d.text}
}

var cohereTypes = []string{"float", "int8", "uint8", "binary", "ubinary", "base64"}

func (s *Server) cohereRoutes() {
	s.handle("POST /v2/embed", apiCohere, false, func(w http.ResponseWriter, r *http.Request) error { return s.cohereEmbed(w, r, 2) })
	s.handle("POST /v1/embed", apiCohere, false, func(w http.ResponseWriter, r *http.Request) error { return s.cohereEmbed(w, r, 1) })
	s.handle("POST /v2/rerank", apiCohere, false, func(w http.ResponseWriter, r *http.Request) error { return s.cohereRerank(w, r, 2) })
	s.handle("POST /v1/rerank", apiCohere, false, func(w http.ResponseWriter, r *http.Request) error { return s.cohereRerank(w, r, 1) })
}

// cohereInputOpts maps input_type to prompt options.
func cohereInputOpts(inputType string, info sie.ModelInfo) ([]sie.Option, error) {
	switch inputType {
	case "":
		return []sie.Option{sie.NoPrompt()}, nil
	case "search_query":
		return []sie.Option{sie.Query()}, nil
	case "search_document", "image":
		return nil, nil
	case "classification", "clustering":
		if slices.Contains(info.Prompts, inputType) {
			return []sie.Option{sie.NoPrompt(), sie.Prompt(inputType)}, nil
		}
		return []sie.Option{sie.NoPrompt()}, nil
	}
	return nil, invalid("input_type", "invalid request: input_type %q is not one of search_document, search_query, classification, clustering, image", inputType)
}

func (s *Server) cohereEmbed(w http.ResponseWriter, r *http.Request, version int) error {
	var req cohereEmbedBody
	if err := s.decode(r, &req); err != nil {
		return err
	}
	if len(req.Images) > 0 || len(req.Inputs) > 0 {
		return invalid("texts", "invalid request: images and inputs are not served; send texts")
	}
	if err := s.checkTexts("texts", req.Texts, false); err != nil {
		return err
	}
	types := req.EmbeddingTypes
	if len(types) == 0 {
		types = []string{"float"}
	}
	for _, t := range types {
		if !slices.Contains(cohereTypes, t) {
			return invalid("embedding_types", "invalid request: embedding type %q is not one of %s", t, strings.Join(cohereTypes, ", "))
		}
	}
	var trunc truncation
	switch strings.ToUpper(req.Truncate) {
	case "", "END":
		trunc = truncRight
	case "START":
		trunc = truncLeft
	case "NONE":
		trunc = truncNone
	default:
		return invalid("truncate", "invalid request: truncate must be NONE, START or END, got %q", req.Truncate)
	}
	dims := 0
	if req.OutputDimension != nil {
		if *req.OutputDimension <= 0 {
			return invalid("output_dimension", "invalid request: output_dimension must be positive")
		}
		dims = *req.OutputDimension
	}
	limit := 0
	if req.MaxTokens != nil {
		if *req.MaxTokens <= 0 {
			return invalid("max_tokens", "invalid request: max_tokens must be positive")
		}
		limit = *req.MaxTokens
	}
	model, err := s.model(req.Model)
	if err != nil {
		return err
	}
	info, err := s.b.Info(r.Context(), model)
	if err != nil {
		return err
	}
	opts, err := cohereInputOpts(req.InputType, info)
	if err != nil {
		return err
	}
	res, err := s.embedDense(r.Context(), denseRequest{model: model, texts: req.Texts, opts: opts, trunc: trunc,
		dims: dims, renorm: dims > 0, limit: limit, param: "texts"})
	if err != nil {
		return err
	}
	meta := CohereMeta{APIVersion: map[string]string{"version": fmt.Sprint(version)}, BilledUnits: map[string]int{"input_tokens": res.tokens}}
	out := CohereEmbedResponse{ID: requestID(), ResponseType: "embeddings_by_type", Texts: req.Texts, Meta: meta}
	if version == 1 && len(req.EmbeddingTypes) == 0 {
		out.ResponseType, out.Embeddings = "embeddings_floats", res.vecs
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	emb, err := cohereEncode(res.vecs, types)
	if err != nil {
		return err
	}
	out.Embeddings = emb
	writeJSON(w, http.StatusOK, out)
	return nil
}

// cohereEncode renders vecs in every requested type.
func cohereEncode(vecs [][]float32, types []string) (*CohereEmbeddings, error) {
	e := &CohereEmbeddings{}
	for _, t := range types {
		for _, v := range vecs {
			switch t {
			case "float":
				e.Float = append(e.Float, v)
			case "base64":
				e.Base64 = append(e.Base64, base64Floats(v))
			case "int8":
				q, err := sie.Quantize(v, sie.Int8)
				if err != nil {
					return nil, err
				}
				row := make([]int, len(q.Data))
				for i, b := range q.Data {
					row[i] = int(int8(b))
				}
				e.Int8 = append(e.Int8, row)
			case "uint8", "ubinary", "binary":
				d := sie.Uint8
				if t != "uint8" {
					d = sie.Binary
				}
				q, err := sie.Quantize(v, d)
				if err != nil {
					return nil, err
				}
				row := make([]int, len(q.Data))
				for i, b := range q.Data {
					row[i] = int(b)
					if t == "binary" {
						row[i] -= 128
					}
				}
				switch t {
				case "uint8":
					e.Uint8 = append(e.Uint8, row)
				case "ubinary":
					e.Ubinary = append(e.Ubinary, row)
				default:
					e.Binary = append(e.Binary, row)
				}
			}
		}
	}
	return e, nil
}

func (s *Server) cohereRerank(w http.ResponseWriter, r *http.Request, version int) error {
	var b rerankBody
	if err := s.decode(r, &b); err != nil {
		return err
	}
	if b.Query == nil {
		return invalid("query", "invalid request: query is required")
	}
	var docs []cohereDoc
	if b.Documents != nil {
		docs = *b.Documents
	}
	texts := make([]string, len(docs))
	for i, d := range docs {
		texts[i] = d.rankText(b.RankFields)
	}
	if err := s.checkRerankDocs("documents", texts); err != nil {
		return err
	}
	topN := 0
	if b.TopN != nil {
		if *b.TopN <= 0 {
			return invalid("top_n", "invalid request: top_n must be positive")
		}
		topN = *b.TopN
	}
	if b.MaxTokensPerDoc != nil && *b.MaxTokensPerDoc <= 0 {
		return invalid("max_tokens_per_doc", "invalid request: max_tokens_per_doc must be positive")
	}
	model, err := s.model(b.Model)
	if err != nil {
		return err
	}
	ranked, err := s.rerank(r, model, *b.Query, texts, false, topN)
	if err != nil {
		return err
	}
	out := CohereRerankResponse{ID: requestID(), Results: make([]CohereRerankResult, len(ranked)),
		Meta: CohereMeta{APIVersion: map[string]string{"version": fmt.Sprint(version)}, BilledUnits: map[string]int{"search_units": 1}}}
	for i, h := range ranked {
		out.Results[i] = CohereRerankResult{Index: h.Index, RelevanceScore: h.Score}
		if version == 1 && b.ReturnDocuments {
			out.Results[i].Document = docs[h.Index].object()
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
