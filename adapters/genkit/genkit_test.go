package siegenkit_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/firebase/genkit/go/ai"
	"github.com/firebase/genkit/go/genkit"

	"github.com/sie-project/sie"
	siegenkit "github.com/sie-project/sie/adapters/genkit"
)

// TestEmbedThroughGenkit drives the embedder through Genkit's own Embed
// (by value and by registered name) and checks each vector against
// Engine.Embed on the same checkpoint, for documents and for queries. The
// bert-cls fixture has a query prompt, so the two sides differ.
func TestEmbedThroughGenkit(t *testing.T) {
	ctx := context.Background()
	model, err := filepath.Abs("../../testdata/fixtures/bert-cls")
	if err != nil {
		t.Fatal(err)
	}
	eng, err := sie.Open(sie.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	g := genkit.Init(ctx)
	emb := siegenkit.Define(g, "sie/bert-cls", eng, model, siegenkit.Options{})

	texts := []string{"what is go?", "Go is an open source programming language."}
	wantDocs, err := eng.Embed(ctx, model, texts)
	if err != nil {
		t.Fatal(err)
	}
	wantQueries, err := eng.Embed(ctx, model, texts, sie.Query())
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(wantDocs[0], wantQueries[0]) {
		t.Fatal("the fixture's query prompt changes nothing; the test could not tell queries from documents")
	}

	check := func(name string, res *ai.EmbedResponse, err error, want [][]float32) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(res.Embeddings) != len(want) {
			t.Fatalf("%s: %d embeddings, want %d", name, len(res.Embeddings), len(want))
		}
		for i, e := range res.Embeddings {
			if !slices.Equal(e.Embedding, want[i]) {
				t.Errorf("%s: embedding %d differs from Engine.Embed", name, i)
			}
		}
	}
	res, err := genkit.Embed(ctx, g, ai.WithEmbedder(emb), ai.WithTextDocs(texts...))
	check("documents", res, err, wantDocs)
	res, err = genkit.Embed(ctx, g, ai.WithEmbedderName("sie/bert-cls"), ai.WithTextDocs(texts...),
		ai.WithConfig(&siegenkit.Config{IsQuery: true}))
	check("queries by name", res, err, wantQueries)
	res, err = genkit.Embed(ctx, g, ai.WithEmbedder(emb), ai.WithTextDocs(texts...),
		ai.WithConfig(map[string]any{"isQuery": true}))
	check("queries, JSON config", res, err, wantQueries)

	// A part sie cannot embed is a clear error, not a vector.
	img := ai.DocumentFromText("", nil)
	img.Content = []*ai.Part{ai.NewMediaPart("image/png", "data:image/png;base64,AAAA")}
	if _, err := genkit.Embed(ctx, g, ai.WithEmbedder(emb), ai.WithDocs(img)); !errors.Is(err, sie.ErrInvalidInput) {
		t.Errorf("media part: got %v, want sie.ErrInvalidInput", err)
	}
}
