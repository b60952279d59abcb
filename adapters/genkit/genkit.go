// Package siegenkit lets Genkit (github.com/firebase/genkit/go) embed with
// sie. Genkit's ai.Embedder needs Genkit's own types, so this package is a
// module of its own: `go get` of sie never pulls Genkit.
//
//	g := genkit.Init(ctx)
//	emb := siegenkit.Define(g, "sie/e5-base", eng, "intfloat/e5-base-v2", siegenkit.Options{})
//	res, err := genkit.Embed(ctx, g, ai.WithEmbedder(emb), ai.WithTextDocs("a document"))
//	res, err = genkit.Embed(ctx, g, ai.WithEmbedder(emb), ai.WithTextDocs("a query"),
//		ai.WithConfig(&siegenkit.Config{IsQuery: true}))
package siegenkit

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/firebase/genkit/go/ai"
	"github.com/firebase/genkit/go/genkit"

	"github.com/sie-project/sie"
)

// Config is the per-request configuration (ai.WithConfig).
type Config struct {
	// IsQuery embeds the documents as search queries (sie.Query()): the
	// model's query template or default instruction applies. False means
	// documents.
	IsQuery bool `json:"isQuery,omitempty"`
}

// Options configure an embedder. The zero value is the default.
type Options struct {
	// Label is the embedder's display name in Genkit; "" means the model.
	Label string
	// Dimensions is reported to Genkit; 0 means unknown.
	Dimensions int
	// CallOptions are added to every call (for example sie.NoPrompt()).
	CallOptions []sie.Option
}

// Define registers an embedder named name that embeds with model on svc
// (an in-process *sie.Engine or a client of a shared sie server).
func Define(g *genkit.Genkit, name string, svc sie.Service, model string, opts Options) ai.Embedder {
	label := opts.Label
	if label == "" {
		label = model
	}
	return genkit.DefineEmbedder(g, name, &ai.EmbedderOptions{Label: label, Dimensions: opts.Dimensions}, Func(svc, model, opts.CallOptions...))
}

// Func is the embedder function behind Define, for ai.NewEmbedder.
func Func(svc sie.Service, model string, callOpts ...sie.Option) ai.EmbedderFunc {
	return func(ctx context.Context, req *ai.EmbedRequest) (*ai.EmbedResponse, error) {
		cfg, err := readConfig(req.Options)
		if err != nil {
			return nil, err
		}
		texts := make([]string, len(req.Input))
		for i, d := range req.Input {
			if texts[i], err = documentText(d); err != nil {
				return nil, fmt.Errorf("siegenkit: document %d: %w", i, err)
			}
		}
		opts := append([]sie.Option(nil), callOpts...)
		if cfg.IsQuery {
			opts = append(opts, sie.Query())
		}
		vecs, err := svc.Embed(ctx, model, texts, opts...)
		if err != nil {
			return nil, err
		}
		res := &ai.EmbedResponse{Embeddings: make([]*ai.Embedding, len(vecs))}
		for i, v := range vecs {
			res.Embeddings[i] = &ai.Embedding{Embedding: v}
		}
		return res, nil
	}
}

// readConfig accepts a Config, a *Config, or its JSON form (a map), which
// is what arrives when the request crossed a Genkit action boundary.
func readConfig(v any) (Config, error) {
	switch c := v.(type) {
	case nil:
		return Config{}, nil
	case Config:
		return c, nil
	case *Config:
		if c == nil {
			return Config{}, nil
		}
		return *c, nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return Config{}, fmt.Errorf("siegenkit: config %T: %w", v, err)
	}
	var c Config
	if err := json.Unmarshal(raw, &c); err != nil {
		return Config{}, fmt.Errorf("siegenkit: config %T: %w", v, err)
	}
	return c, nil
}

// documentText joins a document's text parts; other parts are an error,
// since sie embeds text.
func documentText(d *ai.Document) (string, error) {
	if d == nil {
		return "", fmt.Errorf("%w: nil document", sie.ErrInvalidInput)
	}
	var b strings.Builder
	for _, p := range d.Content {
		if !p.IsText() {
			return "", fmt.Errorf("%w: a part of kind %d; sie embeds text only", sie.ErrInvalidInput, p.Kind)
		}
		b.WriteString(p.Text)
	}
	return b.String(), nil
}
