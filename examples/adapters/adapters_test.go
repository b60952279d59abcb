// Package adapters_test runs sie's ecosystem adapters through the
// ecosystems' own code: langchaingo's Qdrant vector store (against a small
// in-memory fake of Qdrant's REST API) and a chromem-go collection.
package adapters_test

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"sync"
	"testing"

	"github.com/philippgille/chromem-go"
	"github.com/sie-project/sie"
	"github.com/sie-project/sie/adapters"
	"github.com/sie-project/sie/internal/golden"
	"github.com/tmc/langchaingo/embeddings"
	"github.com/tmc/langchaingo/schema"
	"github.com/tmc/langchaingo/vectorstores/qdrant"
)

// The adapters satisfy the ecosystems' interfaces without importing them.
var (
	_ embeddings.Embedder   = adapters.LangChain{}
	_ chromem.EmbeddingFunc = adapters.EmbeddingFunc(nil, "")
	_ chromem.EmbeddingFunc = adapters.QueryEmbeddingFunc(nil, "")
)

// model has a query prompt, so queries and documents embed differently.
var model = golden.Dir("bert-cls")

var docs = []string{
	"A man is eating food.", "A man is riding a horse.", "A woman is playing violin.",
	"Two men pushed carts through the woods.", "A monkey is playing drums.", "The cat sat on the mat.",
}

func open(t *testing.T) *sie.Engine {
	t.Helper()
	eng, err := sie.Open(sie.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	return eng
}

func cosine(a, b []float32) float64 {
	var d, na, nb float64
	for i := range a {
		d += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return d / math.Sqrt(na*nb)
}

func maxDiff(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		m = max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}

// fakeQdrant keeps upserted points in memory and answers searches by
// cosine, as a Qdrant collection with the Cosine distance does.
type fakeQdrant struct {
	mu       sync.Mutex
	vectors  [][]float32
	payloads []map[string]any
	queries  [][]float32
}

func (f *fakeQdrant) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodPut && r.URL.Path == "/collections/docs/points":
		var body struct {
			Batch struct {
				Vectors  [][]float32      `json:"vectors"`
				Payloads []map[string]any `json:"payloads"`
			} `json:"batch"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.vectors = append(f.vectors, body.Batch.Vectors...)
		f.payloads = append(f.payloads, body.Batch.Payloads...)
		json.NewEncoder(w).Encode(map[string]any{"status": "ok"})
	case r.Method == http.MethodPost && r.URL.Path == "/collections/docs/points/search":
		var body struct {
			Vector []float32 `json:"vector"`
			Limit  int       `json:"limit"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.queries = append(f.queries, body.Vector)
		type hit struct {
			Score   float32        `json:"score"`
			Payload map[string]any `json:"payload"`
		}
		var hits []hit
		for i, v := range f.vectors {
			hits = append(hits, hit{float32(cosine(body.Vector, v)), f.payloads[i]})
		}
		sort.SliceStable(hits, func(i, j int) bool { return hits[i].Score > hits[j].Score })
		json.NewEncoder(w).Encode(map[string]any{"result": hits[:min(body.Limit, len(hits))]})
	default:
		http.Error(w, "not found", http.StatusNotFound)
	}
}

func TestLangChainQdrantStore(t *testing.T) {
	ctx := context.Background()
	eng := open(t)
	fake := &fakeQdrant{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	store, err := qdrant.New(qdrant.WithURL(*u), qdrant.WithCollectionName("docs"),
		qdrant.WithEmbedder(adapters.LangChain{Service: eng, Model: model}))
	if err != nil {
		t.Fatal(err)
	}
	var in []schema.Document
	for _, d := range docs {
		in = append(in, schema.Document{PageContent: d})
	}
	if _, err := store.AddDocuments(ctx, in); err != nil {
		t.Fatal(err)
	}
	const q = "someone plays an instrument"
	found, err := store.SimilaritySearch(ctx, q, 3)
	if err != nil {
		t.Fatal(err)
	}

	// What langchaingo stored and searched with is what sie gives for
	// documents and for the query (with the query prompt).
	wantDocs, err := eng.Embed(ctx, model, docs)
	if err != nil {
		t.Fatal(err)
	}
	wantQ, err := eng.Embed(ctx, model, []string{q}, sie.Query())
	if err != nil {
		t.Fatal(err)
	}
	if len(fake.vectors) != len(docs) || len(fake.queries) != 1 {
		t.Fatalf("%d vectors stored, %d searches", len(fake.vectors), len(fake.queries))
	}
	for i := range docs {
		if d := maxDiff(fake.vectors[i], wantDocs[i]); d > 1e-6 {
			t.Errorf("document %d stored with a vector %.3g off sie's", i, d)
		}
	}
	if d := maxDiff(fake.queries[0], wantQ[0]); d > 1e-6 {
		t.Errorf("query vector %.3g off sie's query embedding", d)
	}
	docOnly, _ := eng.Embed(ctx, model, []string{q})
	if maxDiff(docOnly[0], wantQ[0]) == 0 {
		t.Fatal("the fixture embeds queries and documents alike: the query path is untested")
	}
	if len(found) != 3 {
		t.Fatalf("%d results", len(found))
	}
	best := 0
	for i := range docs {
		if cosine(wantQ[0], wantDocs[i]) > cosine(wantQ[0], wantDocs[best]) {
			best = i
		}
	}
	if found[0].PageContent != docs[best] {
		t.Errorf("top result %q, want %q", found[0].PageContent, docs[best])
	}
}

func TestChromemCollection(t *testing.T) {
	ctx := context.Background()
	eng := open(t)
	db := chromem.NewDB()
	col, err := db.CreateCollection("docs", nil, adapters.EmbeddingFunc(eng, model))
	if err != nil {
		t.Fatal(err)
	}
	var in []chromem.Document
	for i, d := range docs {
		in = append(in, chromem.Document{ID: string(rune('a' + i)), Content: d})
	}
	// chromem embeds the documents itself, from several goroutines.
	if err := col.AddDocuments(ctx, in, 3); err != nil {
		t.Fatal(err)
	}
	wantDocs, err := eng.Embed(ctx, model, docs)
	if err != nil {
		t.Fatal(err)
	}
	const q = "someone plays an instrument"
	qvec, err := adapters.QueryEmbeddingFunc(eng, model)(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	res, err := col.QueryEmbedding(ctx, qvec, len(docs), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(docs) {
		t.Fatalf("%d results", len(res))
	}
	for _, r := range res {
		i := int(r.ID[0] - 'a')
		if d := maxDiff(r.Embedding, wantDocs[i]); d > 1e-6 {
			t.Errorf("%s: chromem holds a vector %.3g off sie's", r.ID, d)
		}
		if d := math.Abs(float64(r.Similarity) - cosine(qvec, wantDocs[i])); d > 1e-5 {
			t.Errorf("%s: similarity %.6f, want %.6f", r.ID, r.Similarity, cosine(qvec, wantDocs[i]))
		}
	}
	// Query with text goes through the collection's (document) function.
	res2, err := col.Query(ctx, q, 1, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	dq, _ := eng.Embed(ctx, model, []string{q})
	best := 0
	for i := range docs {
		if cosine(dq[0], wantDocs[i]) > cosine(dq[0], wantDocs[best]) {
			best = i
		}
	}
	if res2[0].Content != docs[best] {
		t.Errorf("Query's top result %q, want %q", res2[0].Content, docs[best])
	}
}
