// Command after embeds texts with sie, in process, instead of calling a
// sentence-transformers model on Modal: one JSON string per line on stdin,
// one JSON array of numbers per line on stdout. The checkpoint is the one
// the Modal function loaded; read that function for what it did with
// prompts, normalisation and precision, and match it here (sie follows the
// checkpoint's Normalize module and prompts; -query is
// prompt_name="query").
//
//	go run ./migrate/modal/after -model BAAI/bge-small-en-v1.5 [-query] < texts.jsonl > new-vectors.jsonl
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/sie-project/sie"
)

func main() {
	model := flag.String("model", "BAAI/bge-small-en-v1.5", "the checkpoint the Modal function loaded")
	query := flag.Bool("query", false, "the texts are search queries")
	flag.Parse()
	if err := run(context.Background(), *model, *query, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "after:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, model string, query bool, in io.Reader, out io.Writer) error {
	texts, err := readTexts(in)
	if err != nil {
		return err
	}
	// No cold start per call, no RPC: one Engine per process, shared by
	// all goroutines, loads the model once.
	eng, err := sie.Open(sie.Options{})
	if err != nil {
		return err
	}
	defer eng.Close()
	var opts []sie.Option
	if query {
		opts = append(opts, sie.Query())
	}
	vecs, err := eng.Embed(ctx, model, texts, opts...)
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
