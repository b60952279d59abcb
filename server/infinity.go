package server

// Infinity: POST /embeddings (served by the OpenAI handler, which adds
// Infinity's id and created), POST /rerank with "documents" (with "texts" it
// is TEI's), GET /models, GET /health.

import (
	"net/http"
	"time"
)

// InfinityRerankRequest is the body of POST /rerank in Infinity's form.
type InfinityRerankRequest struct {
	Query     string   `json:"query"`
	Documents []string `json:"documents"`
	// ReturnDocuments copies each document into its result.
	ReturnDocuments bool `json:"return_documents,omitempty"`
	// RawScores gives logits instead of sigmoid scores.
	RawScores bool `json:"raw_scores,omitempty"`
	// TopN keeps the N best; absent keeps all.
	TopN  *int   `json:"top_n,omitempty"`
	Model string `json:"model,omitempty"`
}

// InfinityRerankResult is one result, best first.
type InfinityRerankResult struct {
	RelevanceScore float32 `json:"relevance_score"`
	Index          int     `json:"index"`
	Document       *string `json:"document,omitempty"`
}

// InfinityRerankResponse is the answer of Infinity's /rerank.
type InfinityRerankResponse struct {
	Object  string                 `json:"object"` // "rerank"
	Results []InfinityRerankResult `json:"results"`
	Model   string                 `json:"model"`
	Usage   OpenAIUsage            `json:"usage"`
	ID      string                 `json:"id"`
	Created int64                  `json:"created"`
}

// InfinityModel is one entry of GET /models.
type InfinityModel struct {
	OpenAIModel
	Backend      string   `json:"backend"`
	Capabilities []string `json:"capabilities"`
}

// dialectErr makes an error answer in another dialect's envelope than the
// route's (POST /rerank serves TEI and Infinity).
type dialectErr struct {
	api api
	err error
}

func (e *dialectErr) Error() string { return e.err.Error() }
func (e *dialectErr) Unwrap() error { return e.err }

func (s *Server) infinityRoutes() {
	s.handle("GET /models", apiInfinity, false, s.infinityModels)
}

func (s *Server) infinityRerank(w http.ResponseWriter, r *http.Request, b *rerankBody) error {
	if err := s.infinityRerankErr(w, r, b); err != nil {
		return &dialectErr{api: apiInfinity, err: err}
	}
	return nil
}

func (s *Server) infinityRerankErr(w http.ResponseWriter, r *http.Request, b *rerankBody) error {
	if b.Query == nil {
		return invalid("query", "query is required")
	}
	docs := make([]string, len(*b.Documents))
	for i, d := range *b.Documents {
		if d.fields != nil {
			return invalid("documents", "documents must be strings")
		}
		docs[i] = d.text
	}
	if err := s.checkRerankDocs("documents", docs); err != nil {
		return err
	}
	topN := 0
	if b.TopN != nil {
		if *b.TopN <= 0 {
			return invalid("top_n", "top_n must be positive")
		}
		topN = *b.TopN
	}
	name := b.Model
	if name == "" {
		name = s.defaultModel
	}
	model, err := s.model(b.Model)
	if err != nil {
		return err
	}
	ranked, err := s.rerank(r, model, *b.Query, docs, b.RawScores, topN)
	if err != nil {
		return err
	}
	out := InfinityRerankResponse{Object: "rerank", Results: make([]InfinityRerankResult, len(ranked)), Model: name,
		ID: requestID(), Created: time.Now().Unix()}
	for i, h := range ranked {
		out.Results[i] = InfinityRerankResult{RelevanceScore: h.Score, Index: h.Index}
		if b.ReturnDocuments {
			d := docs[h.Index]
			out.Results[i].Document = &d
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) infinityModels(w http.ResponseWriter, r *http.Request) error {
	list := s.modelList()
	out := struct {
		Object string          `json:"object"`
		Data   []InfinityModel `json:"data"`
	}{Object: "list", Data: make([]InfinityModel, len(list))}
	for i, m := range list {
		out.Data[i] = InfinityModel{OpenAIModel: m, Backend: "sie", Capabilities: []string{"embed", "rerank"}}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
