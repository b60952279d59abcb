// Command rerank orders documents by relevance to a query with a
// cross-encoder and prints the best ones.
//
//	go run ./rerank [-model BAAI/bge-reranker-v2-m3] [-top 3] [-query "..."]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/sie-project/sie"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "rerank:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("rerank", flag.ContinueOnError)
	model := fs.String("model", envOr("SIE_RERANK_MODEL", "BAAI/bge-reranker-v2-m3"), "catalog id or checkpoint directory of a reranker")
	query := fs.String("query", "What is the capital of France?", "the query")
	top := fs.Int("top", 3, "how many documents to keep (0: all)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	eng, err := sie.Open(sie.Options{})
	if err != nil {
		return err
	}
	defer eng.Close()

	// Scores are the checkpoint's own (sigmoid of the logit for one-label
	// heads), best first, each with its document's index in docs.
	hits, err := eng.Rerank(ctx, *model, *query, docs, sie.TopK(*top))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "query: %s\n", *query)
	for _, h := range hits {
		fmt.Fprintf(out, "%.4f  [%d] %s\n", h.Score, h.Index, docs[h.Index])
	}
	return nil
}

var docs = []string{
	"Paris is the capital and largest city of France.",
	"Berlin is the capital of Germany.",
	"France is famous for its cheese and wine.",
	"The Eiffel Tower was completed in 1889.",
	"Lyon is a city in France.",
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
