package main

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/sie-project/sie"
	"github.com/sie-project/sie/internal/golden"
)

func TestServeEmbedded(t *testing.T) {
	model := golden.Dir("bert-mean")
	eng, err := sie.Open(sie.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	srv := httptest.NewServer(newMux(eng, model))
	defer srv.Close()
	ctx := context.Background()

	// An OpenAI client reaches the Engine under /ml/.
	client := openai.NewClient(option.WithBaseURL(srv.URL+"/ml/v1/"), option.WithAPIKey("unused"))
	resp, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model: "minilm", Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"cats", "dogs"}}})
	if err != nil {
		t.Fatal(err)
	}
	want, err := eng.Embed(ctx, model, []string{"cats", "dogs"}, sie.NoPrompt())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range resp.Data {
		for j, x := range d.Embedding {
			if math.Abs(x-float64(want[d.Index][j])) > 1e-6 {
				t.Fatalf("vector %d differs from Embed at %d: %g vs %g", d.Index, j, x, want[d.Index][j])
			}
		}
	}

	// The service's own route uses the same Engine.
	r, err := http.Get(srv.URL + "/similar?" + url.Values{"a": {"cats"}, "b": {"dogs"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var sim struct{ Cosine float64 }
	if err := json.NewDecoder(r.Body).Decode(&sim); err != nil || r.StatusCode != 200 {
		t.Fatalf("status %d, %v", r.StatusCode, err)
	}
	if math.Abs(sim.Cosine-cosine(want[0], want[1])) > 1e-6 {
		t.Errorf("cosine %g, want %g", sim.Cosine, cosine(want[0], want[1]))
	}
	// Routes outside /ml/ and the service's own are the service's 404s.
	if r, _ := http.Get(srv.URL + "/v1/models"); r.StatusCode != http.StatusNotFound {
		t.Errorf("/v1/models outside /ml/: status %d", r.StatusCode)
	}
}
