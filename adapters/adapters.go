// Package adapters lets Go ecosystem libraries embed with sie. Each adapter
// meets the other library's interface structurally, so this package imports
// none of them and `go get` of sie pulls none of their dependencies:
//
//   - LangChain satisfies langchaingo's embeddings.Embedder
//     (github.com/tmc/langchaingo/embeddings): EmbedDocuments and EmbedQuery.
//   - EmbeddingFunc and QueryEmbeddingFunc have the type of chromem-go's
//     EmbeddingFunc (github.com/philippgille/chromem-go).
//
// Genkit's embedder needs Genkit's own types; it lives in the module
// github.com/sie-project/sie/adapters/genkit (package siegenkit).
//
// Every adapter works over a sie.Service: an in-process *sie.Engine or a
// client of a shared sie server.
package adapters

import (
	"context"

	"github.com/sie-project/sie"
)

// LangChain is a langchaingo embeddings.Embedder. Documents are embedded
// with the model's document prompt and queries with sie.Query(), so
// asymmetric models (e5, bge, nomic) get the right template on each side,
// which langchaingo's EmbedderClient interface cannot express.
type LangChain struct {
	Service sie.Service
	Model   string
	// Options are added to every call (for example sie.Instruction).
	Options []sie.Option
}

// EmbedDocuments embeds texts as documents.
func (l LangChain) EmbedDocuments(ctx context.Context, texts []string) ([][]float32, error) {
	return l.Service.Embed(ctx, l.Model, texts, l.Options...)
}

// EmbedQuery embeds text as a search query.
func (l LangChain) EmbedQuery(ctx context.Context, text string) ([]float32, error) {
	opts := append(append([]sie.Option(nil), l.Options...), sie.Query())
	vecs, err := l.Service.Embed(ctx, l.Model, []string{text}, opts...)
	if err != nil {
		return nil, err
	}
	return vecs[0], nil
}

// EmbeddingFunc returns a chromem-go EmbeddingFunc that embeds each text as
// a document. chromem calls one function for documents and query texts
// alike; for asymmetric models give queries their own vector with
// QueryEmbeddingFunc and Collection.QueryEmbedding. chromem expects unit
// vectors and normalises others itself: models with a Normalize module
// (most sentence-transformers checkpoints) already return them.
func EmbeddingFunc(svc sie.Service, model string, opts ...sie.Option) func(ctx context.Context, text string) ([]float32, error) {
	return func(ctx context.Context, text string) ([]float32, error) {
		vecs, err := svc.Embed(ctx, model, []string{text}, opts...)
		if err != nil {
			return nil, err
		}
		return vecs[0], nil
	}
}

// QueryEmbeddingFunc is EmbeddingFunc for search queries (sie.Query()).
func QueryEmbeddingFunc(svc sie.Service, model string, opts ...sie.Option) func(ctx context.Context, text string) ([]float32, error) {
	return EmbeddingFunc(svc, model, append(append([]sie.Option(nil), opts...), sie.Query())...)
}
