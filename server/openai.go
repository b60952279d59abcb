package server

// OpenAI: POST /v1/embeddings (also /embeddings, which Infinity and TEI
// users call), GET /v1/models, GET /v1/models/{id}.

import (
	"net/http"
	"time"
)

// OpenAIEmbeddingRequest is the body of POST /v1/embeddings.
type OpenAIEmbeddingRequest struct {
	// Input is a string, an array of strings, an array of token ids or an
	// array of arrays of token ids. Token ids must come from the model's
	// own tokenizer (ids from another vocabulary are refused when they are
	// out of range, and embed meaningless text otherwise).
	Input any `json:"input"`
	// Model is a served name, alias or catalog id; "" means the default.
	Model string `json:"model,omitempty"`
	// EncodingFormat is "float" (the default) or "base64" (little-endian
	// float32 bytes).
	EncodingFormat string `json:"encoding_format,omitempty"`
	// Dimensions cuts vectors to their first N values and re-normalises
	// them (Matryoshka).
	Dimensions *int `json:"dimensions,omitempty"`
	// User is accepted and ignored.
	User string `json:"user,omitempty"`
	// Modality is Infinity's; only "text" is served.
	Modality string `json:"modality,omitempty"`
}

// openaiEmbedBody is what the handler decodes (Input typed).
type openaiEmbedBody struct {
	Input          inputs `json:"input"`
	Model          string `json:"model"`
	EncodingFormat string `json:"encoding_format"`
	Dimensions     *int   `json:"dimensions"`
	User           string `json:"user"`
	Modality       string `json:"modality"`
}

// OpenAIEmbeddingResponse is the answer of POST /v1/embeddings.
type OpenAIEmbeddingResponse struct {
	Object string            `json:"object"` // "list"
	Data   []OpenAIEmbedding `json:"data"`
	Model  string            `json:"model"`
	Usage  OpenAIUsage       `json:"usage"`
	// ID and Created are Infinity's additions.
	ID      string `json:"id"`
	Created int64  `json:"created"`
}

// OpenAIEmbedding is one vector, in input order.
type OpenAIEmbedding struct {
	Object string `json:"object"` // "embedding"
	Index  int    `json:"index"`
	// Embedding is an array of numbers, or a base64 string with
	// encoding_format "base64".
	Embedding any `json:"embedding"`
}

// OpenAIUsage counts the tokens embedded.
type OpenAIUsage struct {
	PromptTokens int `json:"prompt_tokens"`
	TotalTokens  int `json:"total_tokens"`
}

// OpenAIModel is one entry of GET /v1/models.
type OpenAIModel struct {
	ID      string `json:"id"`
	Object  string `json:"object"` // "model"
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// OpenAIModelList is the answer of GET /v1/models.
type OpenAIModelList struct {
	Object string        `json:"object"` // "list"
	Data   []OpenAIModel `json:"data"`
}

func (s *Server) openaiRoutes() {
	s.handle("POST /v1/embeddings", apiOpenAI, false, s.openaiEmbeddings)
	s.handle("POST /embeddings", apiOpenAI, false, s.openaiEmbeddings)
	s.handle("GET /v1/models", apiOpenAI, false, s.openaiModels)
	s.handle("GET /v1/models/{id...}", apiOpenAI, false, s.openaiModel)
}

func (s *Server) openaiEmbeddings(w http.ResponseWriter, r *http.Request) error {
	var req openaiEmbedBody
	if err := s.decode(r, &req); err != nil {
		return err
	}
	switch req.EncodingFormat {
	case "", "float", "base64":
	default:
		return invalid("encoding_format", "Invalid value for 'encoding_format' = %s. Supported values: ['float', 'base64'].", req.EncodingFormat)
	}
	switch req.Modality {
	case "", "text":
	default:
		return invalid("modality", "modality %q is not served; only text", req.Modality)
	}
	if !req.Input.set {
		return invalid("input", "'input' is required")
	}
	dims := 0
	if req.Dimensions != nil {
		if *req.Dimensions <= 0 {
			return invalid("dimensions", "dimensions must be a positive integer, got %d", *req.Dimensions)
		}
		dims = *req.Dimensions
	}
	name := req.Model
	if name == "" {
		name = s.defaultModel
	}
	model, err := s.model(req.Model)
	if err != nil {
		return err
	}
	dr := denseRequest{model: model, opts: promptOpts(""), trunc: truncNone, dims: dims, renorm: dims > 0, param: "input",
		tooLongF: func(i, n, max int) string {
			return "Invalid 'input': maximum context length is " + itoa(max) + " tokens; input " + itoa(i) + " has " + itoa(n) + "."
		}}
	if req.Input.ids != nil {
		if len(req.Input.ids) == 0 {
			return empty("input", "'input' must not be empty")
		}
		if len(req.Input.ids) > s.opts.MaxInputs {
			return invalid("input", "'input' has %d items; at most %d are allowed per request", len(req.Input.ids), s.opts.MaxInputs)
		}
		dr.ids = req.Input.ids
	} else {
		if err := s.checkTexts("input", req.Input.texts, false); err != nil {
			return err
		}
		dr.texts = req.Input.texts
	}
	res, err := s.embedDense(r.Context(), dr)
	if err != nil {
		return err
	}
	out := OpenAIEmbeddingResponse{Object: "list", Data: make([]OpenAIEmbedding, len(res.vecs)), Model: name,
		Usage: OpenAIUsage{PromptTokens: res.tokens, TotalTokens: res.tokens}, ID: requestID(), Created: time.Now().Unix()}
	for i, v := range res.vecs {
		var e any = v
		if req.EncodingFormat == "base64" {
			e = base64Floats(v)
		}
		out.Data[i] = OpenAIEmbedding{Object: "embedding", Index: i, Embedding: e}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) modelList() []OpenAIModel {
	names := s.served()
	out := make([]OpenAIModel, len(names))
	for i, n := range names {
		out[i] = OpenAIModel{ID: n, Object: "model", Created: s.started.Unix(), OwnedBy: "sie"}
	}
	return out
}

func (s *Server) openaiModels(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, OpenAIModelList{Object: "list", Data: s.modelList()})
	return nil
}

func (s *Server) openaiModel(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, ok := s.configured[id]; !ok {
		if _, err := s.model(id); err != nil {
			if ae := classify(err); ae.kind == kindNotFound {
				return err
			}
		}
	}
	writeJSON(w, http.StatusOK, OpenAIModel{ID: id, Object: "model", Created: s.started.Unix(), OwnedBy: "sie"})
	return nil
}
