// Command before embeds or reranks with Cohere's API through the official
// Go SDK (cohere-go v2). Embedding: one JSON string per line on stdin, one
// JSON array of numbers per line on stdout. With -rerank QUERY the lines on
// stdin are documents and stdout gets one JSON array of {"index", "score"},
// best first. The SDK reads CO_API_KEY; -base-url points it elsewhere.
//
//	go run ./migrate/cohere/before [-query] < texts.jsonl > old-vectors.jsonl
//	go run ./migrate/cohere/before -rerank "what is sie?" -top-n 3 < docs.jsonl
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	cohere "github.com/cohere-ai/cohere-go/v2"
	cohereclient "github.com/cohere-ai/cohere-go/v2/client"
	"github.com/cohere-ai/cohere-go/v2/option"
)

type options struct {
	baseURL, model, rerankModel, rerank string
	query                               bool
	topN                                int
}

func main() {
	var o options
	flag.StringVar(&o.baseURL, "base-url", "https://api.cohere.com", "API base URL")
	flag.StringVar(&o.model, "model", "embed-english-v3.0", "embedding model")
	flag.StringVar(&o.rerankModel, "rerank-model", "rerank-v3.5", "rerank model")
	flag.StringVar(&o.rerank, "rerank", "", "rerank the documents on stdin against this query")
	flag.BoolVar(&o.query, "query", false, "the texts are search queries (input_type search_query)")
	flag.IntVar(&o.topN, "top-n", 0, "rerank: keep the best n (0: all)")
	flag.Parse()
	if err := run(context.Background(), o, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "before:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, in io.Reader, out io.Writer) error {
	texts, err := readTexts(in)
	if err != nil {
		return err
	}
	co := cohereclient.NewClient(option.WithBaseURL(o.baseURL)) // token from CO_API_KEY; 2 attempts
	w := bufio.NewWriter(out)
	defer w.Flush()
	enc := json.NewEncoder(w)

	if o.rerank != "" {
		req := &cohere.V2RerankRequest{Model: o.rerankModel, Query: o.rerank, Documents: texts}
		if o.topN > 0 {
			req.TopN = &o.topN
		}
		resp, err := co.V2.Rerank(ctx, req)
		if err != nil {
			return err
		}
		type hit struct {
			Index int     `json:"index"`
			Score float64 `json:"score"`
		}
		hits := []hit{}
		for _, r := range resp.Results { // best first; scores calibrated to [0, 1]
			hits = append(hits, hit{r.Index, r.RelevanceScore})
		}
		return enc.Encode(hits)
	}

	inputType := cohere.EmbedInputTypeSearchDocument
	if o.query {
		inputType = cohere.EmbedInputTypeSearchQuery
	}
	const maxTexts = 96 // Cohere's limit per request
	for start := 0; start < len(texts); start += maxTexts {
		resp, err := co.V2.Embed(ctx, &cohere.V2EmbedRequest{
			Model:          o.model,
			Texts:          texts[start:min(start+maxTexts, len(texts))],
			InputType:      inputType,
			EmbeddingTypes: []cohere.EmbeddingType{cohere.EmbeddingTypeFloat},
		})
		if err != nil {
			return err
		}
		for _, v := range resp.Embeddings.Float {
			if err := enc.Encode(v); err != nil {
				return err
			}
		}
	}
	return nil
}

func readTexts(r io.Reader) ([]string, error) {
	var texts []string
	dec := json.NewDecoder(r)
	for dec.More() {
		var s string
		if err := dec.Decode(&s); err != nil {
			return nil, fmt.Errorf("stdin: want one JSON string per line: %w", err)
		}
		texts = append(texts, s)
	}
	return texts, nil
}
