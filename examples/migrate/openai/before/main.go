// Command before embeds texts with OpenAI's embeddings API through the
// official Go SDK (openai-go): one JSON string per line on stdin, one JSON
// array of numbers per line on stdout, in input order. The SDK reads
// OPENAI_API_KEY and OPENAI_BASE_URL.
//
//	go run ./migrate/openai/before < texts.jsonl > old-vectors.jsonl
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/openai/openai-go/v3"
)

func main() {
	model := flag.String("model", "text-embedding-3-small", "embedding model")
	flag.Parse()
	if err := run(context.Background(), *model, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "before:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, model string, in io.Reader, out io.Writer) error {
	texts, err := readTexts(in)
	if err != nil {
		return err
	}
	client := openai.NewClient() // retries twice on 429 and 5xx
	w := bufio.NewWriter(out)
	defer w.Flush()
	enc := json.NewEncoder(w)
	const maxInputs = 2048 // OpenAI's limit per request
	for start := 0; start < len(texts); start += maxInputs {
		batch := texts[start:min(start+maxInputs, len(texts))]
		resp, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
			Model: model,
			Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: batch},
		})
		if err != nil {
			return err
		}
		vecs := make([][]float64, len(batch))
		for _, d := range resp.Data {
			vecs[d.Index] = d.Embedding
		}
		for _, v := range vecs {
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
