// Command quickstart embeds a query and a few documents with sie and ranks
// the documents by cosine similarity.
//
//	go run ./quickstart [-model sentence-transformers/all-MiniLM-L6-v2]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/sie-project/sie"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	model := fs.String("model", envOr("SIE_MODEL", "sentence-transformers/all-MiniLM-L6-v2"), "catalog id or checkpoint directory")
	if err := fs.Parse(args); err != nil {
		return err
	}

	// One Engine per process: safe for concurrent use, it batches the calls
	// of all goroutines and loads each model once, on first use.
	eng, err := sie.Open(sie.Options{})
	if err != nil {
		return err
	}
	defer eng.Close()

	docs := []string{
		"A man is eating food.",
		"A man is riding a horse.",
		"A woman is playing violin.",
		"The new movie is awesome.",
	}
	query := "Someone is playing an instrument."

	// Documents get the model's document prompt, queries its query prompt
	// (for asymmetric models such as e5 or bge; none for MiniLM).
	docVecs, err := eng.Embed(ctx, *model, docs)
	if err != nil {
		return err
	}
	queryVecs, err := eng.Embed(ctx, *model, []string{query}, sie.Query())
	if err != nil {
		return err
	}

	fmt.Fprintf(out, "query: %s (%d dimensions)\n", query, len(queryVecs[0]))
	for i, d := range docs {
		fmt.Fprintf(out, "%.4f  %s\n", cosine(queryVecs[0], docVecs[i]), d)
	}
	return nil
}

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return dot / math.Sqrt(na*nb)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
