// Command after embeds texts with sie, in process: one JSON string per line
// on stdin, one JSON array of numbers per line on stdout, in input order.
// OpenAI has no query/document switch; sie's asymmetric models (e5, bge)
// want one, so queries are embedded with -query.
//
//	go run ./migrate/openai/after -model intfloat/e5-base-v2 < texts.jsonl > new-vectors.jsonl
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
	model := flag.String("model", "intfloat/e5-base-v2", "catalog id or checkpoint directory")
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
	// One Engine per process, shared by every goroutine; no API key, no
	// request limits, no retries: errors are sie's sentinels (errors.Is).
	eng, err := sie.Open(sie.Options{})
	if err != nil {
		return err
	}
	defer eng.Close()
	var opts []sie.Option
	if query {
		opts = append(opts, sie.Query()) // the model's query prompt ("query: " for e5)
	}
	vecs, err := eng.Embed(ctx, model, texts, opts...) // [][]float32, unit length
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
