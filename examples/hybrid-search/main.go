// Command hybrid-search indexes documents with the three outputs of a
// BGE-M3-style model (dense, sparse lexical weights and multivector) in one
// Encode call, then ranks them for a query by a weighted mix of the three
// scores, as BGE-M3's authors recommend.
//
//	go run ./hybrid-search [-model BAAI/bge-m3] [-weights 0.4,0.2,0.4] [-query "..."]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/sie-project/sie"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "hybrid-search:", err)
		os.Exit(1)
	}
}

// result is one document's scores.
type result struct {
	Doc                               int
	Dense, Sparse, Multivector, Score float64
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("hybrid-search", flag.ContinueOnError)
	model := fs.String("model", envOr("SIE_HYBRID_MODEL", "BAAI/bge-m3"), "catalog id or checkpoint directory of a dense+sparse+multivector model")
	query := fs.String("query", "What is BGE M3?", "the query")
	var w [3]float64
	weights := fs.String("weights", "0.4,0.2,0.4", "weights of the dense, sparse and multivector scores")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, err := fmt.Sscanf(*weights, "%g,%g,%g", &w[0], &w[1], &w[2]); err != nil {
		return fmt.Errorf("-weights %q: want three comma-separated numbers", *weights)
	}
	docs := []string{
		"BGE M3 is an embedding model supporting dense retrieval, lexical matching and multi-vector interaction.",
		"BM25 is a bag-of-words retrieval function that ranks a set of documents based on the query terms appearing in each document.",
		"Paris is the capital of France.",
		"Multi-vector retrieval compares every query token with every document token (late interaction).",
	}
	eng, err := sie.Open(sie.Options{})
	if err != nil {
		return err
	}
	defer eng.Close()

	all := sie.Dense | sie.Sparse | sie.Multivector
	index, err := eng.Encode(ctx, *model, docs, sie.EncodeOptions{Outputs: all})
	if err != nil {
		return err
	}
	q, err := eng.Encode(ctx, *model, []string{*query}, sie.EncodeOptions{Outputs: all, IsQuery: true})
	if err != nil {
		return err
	}
	results := score(q[0], index, w)
	fmt.Fprintf(out, "query: %s\n", *query)
	fmt.Fprintf(out, "%-8s %-8s %-8s %-8s %s\n", "hybrid", "dense", "sparse", "multivec", "document")
	for _, r := range results {
		fmt.Fprintf(out, "%.4f   %.4f   %.4f   %.4f   [%d] %.60s\n", r.Score, r.Dense, r.Sparse, r.Multivector, r.Doc, docs[r.Doc])
	}
	return nil
}

// score ranks the indexed documents for query q: the inner product of the
// dense vectors, of the sparse vectors (shared token ids), and late
// interaction over the multivectors (MaxSim averaged over query tokens, as
// BGE-M3 does), mixed by the weights w.
func score(q sie.Encoding, index []sie.Encoding, w [3]float64) []result {
	results := make([]result, len(index))
	for i, d := range index {
		r := result{Doc: i}
		for j := range q.Dense {
			r.Dense += float64(q.Dense[j]) * float64(d.Dense[j])
		}
		r.Sparse = float64(q.Sparse.Dot(*d.Sparse))
		r.Multivector = float64(sie.MaxSim(q.Multivector, d.Multivector)) / float64(len(q.Multivector))
		r.Score = (w[0]*r.Dense + w[1]*r.Sparse + w[2]*r.Multivector) / (w[0] + w[1] + w[2])
		results[i] = r
	}
	sort.SliceStable(results, func(a, b int) bool { return results[a].Score > results[b].Score })
	return results
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
