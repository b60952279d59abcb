// Command before embeds texts by calling a sentence-transformers model
// deployed on Modal, through Modal's Go SDK: one JSON string per line on
// stdin, one JSON array of numbers per line on stdout. It calls
// Embedder.embed(texts, is_query=...) of the deployed app "embedder", a
// Python class along the lines of
//
//	@app.cls(gpu="L4")
//	class Embedder:
//	    @modal.enter()
//	    def load(self):
//	        self.model = SentenceTransformer("BAAI/bge-small-en-v1.5")
//	    @modal.method()
//	    def embed(self, texts, is_query=False):
//	        return self.model.encode(texts, normalize_embeddings=True,
//	            prompt_name="query" if is_query else None).tolist()
//
// The SDK reads MODAL_TOKEN_ID and MODAL_TOKEN_SECRET (or ~/.modal.toml).
//
//	go run ./migrate/modal/before [-query] < texts.jsonl > old-vectors.jsonl
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/modal-labs/libmodal/modal-go"
)

func main() {
	app := flag.String("app", "embedder", "deployed Modal app")
	query := flag.Bool("query", false, "the texts are search queries")
	flag.Parse()
	if err := run(context.Background(), *app, *query, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "before:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, app string, query bool, in io.Reader, out io.Writer) error {
	texts, err := readTexts(in)
	if err != nil {
		return err
	}
	mc, err := modal.NewClient()
	if err != nil {
		return err
	}
	defer mc.Close()
	cls, err := mc.Cls.FromName(ctx, app, "Embedder", nil)
	if err != nil {
		return err
	}
	inst, err := cls.Instance(ctx, nil)
	if err != nil {
		return err
	}
	embed, err := inst.Method("embed")
	if err != nil {
		return err
	}
	// Arguments and the result travel as CBOR: the result is a []any of
	// []any of float64. Cold starts make the first call slow.
	ret, err := embed.Remote(ctx, []any{texts}, map[string]any{"is_query": query})
	if err != nil {
		return err
	}
	vecs, err := toVectors(ret)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(out)
	defer w.Flush()
	enc := json.NewEncoder(w)
	for _, v := range vecs {
		if err := enc.Encode(v); err != nil {
			return err
		}
	}
	return nil
}

// toVectors converts the CBOR-decoded result (a list of lists of numbers).
func toVectors(ret any) ([][]float32, error) {
	rows, ok := ret.([]any)
	if !ok {
		return nil, fmt.Errorf("embed returned %T, want a list of vectors", ret)
	}
	vecs := make([][]float32, len(rows))
	for i, row := range rows {
		vals, ok := row.([]any)
		if !ok {
			return nil, fmt.Errorf("vector %d is %T, want a list of numbers", i, row)
		}
		vecs[i] = make([]float32, len(vals))
		for j, x := range vals {
			switch x := x.(type) {
			case float64:
				vecs[i][j] = float32(x)
			case float32:
				vecs[i][j] = x
			case int64:
				vecs[i][j] = float32(x)
			case uint64:
				vecs[i][j] = float32(x)
			default:
				return nil, fmt.Errorf("vector %d value %d is %T, want a number", i, j, x)
			}
		}
	}
	return vecs, nil
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
