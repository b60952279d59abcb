// Command after embeds texts with sie, in process, the way fastembed-go
// did: one JSON string per line on stdin, one JSON array of numbers per
// line on stdout. fastembed-go prepends "passage: " to documents and
// "query: " to queries for every model, so an index it built holds
// prefixed texts: send the same literal prefixes with sie.NoPrompt(), not
// the checkpoint's own prompts, and the stored vectors stay valid. (A new
// index is better served by the model's own prompts: sie.Query().)
//
//	go run ./migrate/fastembed/after -model BAAI/bge-small-en-v1.5 [-query] < texts.jsonl
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
	model := flag.String("model", "BAAI/bge-small-en-v1.5", "the checkpoint fastembed ran")
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
	prefix := "passage: " // fastembed-go's PassageEmbed
	if query {
		prefix = "query: " // fastembed-go's QueryEmbed
	}
	prefixed := make([]string, len(texts))
	for i, t := range texts {
		prefixed[i] = prefix + t
	}
	eng, err := sie.Open(sie.Options{}) // one per process, shared by all goroutines
	if err != nil {
		return err
	}
	defer eng.Close()
	vecs, err := eng.Embed(ctx, model, prefixed, sie.NoPrompt())
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
