// Command semantic-search embeds a corpus of a few thousand texts, with a
// progress bar, then answers queries by cosine top-k.
//
//	go run ./semantic-search [-model sentence-transformers/all-MiniLM-L6-v2] [-corpus texts.txt] [-k 5] [query ...]
//
// The corpus is one text per line; without -corpus a generated corpus of
// -n sentences is used.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/sie-project/sie"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "semantic-search:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out, progress io.Writer) error {
	fs := flag.NewFlagSet("semantic-search", flag.ContinueOnError)
	model := fs.String("model", envOr("SIE_MODEL", "sentence-transformers/all-MiniLM-L6-v2"), "catalog id or checkpoint directory")
	corpusFile := fs.String("corpus", "", "file with one text per line (default: a generated corpus)")
	n := fs.Int("n", 3000, "size of the generated corpus")
	k := fs.Int("k", 5, "results per query")
	if err := fs.Parse(args); err != nil {
		return err
	}
	queries := fs.Args()
	if len(queries) == 0 {
		queries = []string{"a child reads a story in the library", "musicians play at night in the park"}
	}
	corpus, err := loadCorpus(*corpusFile, *n)
	if err != nil {
		return err
	}

	eng, err := sie.Open(sie.Options{})
	if err != nil {
		return err
	}
	defer eng.Close()

	// Embed the corpus in chunks to draw progress; the Engine batches
	// within and across calls by itself.
	const chunk = 256
	index := make([][]float32, 0, len(corpus))
	for start := 0; start < len(corpus); start += chunk {
		vecs, err := eng.Embed(ctx, *model, corpus[start:min(start+chunk, len(corpus))])
		if err != nil {
			return err
		}
		index = append(index, vecs...)
		drawProgress(progress, len(index), len(corpus))
	}
	fmt.Fprintln(progress)

	qvecs, err := eng.Embed(ctx, *model, queries, sie.Query())
	if err != nil {
		return err
	}
	for qi, q := range queries {
		fmt.Fprintf(out, "query: %s\n", q)
		for _, hit := range topK(qvecs[qi], index, *k) {
			fmt.Fprintf(out, "  %.4f  [%d] %s\n", hit.score, hit.doc, corpus[hit.doc])
		}
	}
	return nil
}

type hit struct {
	doc   int
	score float64
}

// topK is a brute-force cosine search; a vector database does this at scale.
func topK(q []float32, index [][]float32, k int) []hit {
	hits := make([]hit, len(index))
	for i, v := range index {
		hits[i] = hit{i, cosine(q, v)}
	}
	sort.SliceStable(hits, func(a, b int) bool { return hits[a].score > hits[b].score })
	return hits[:min(k, len(hits))]
}

func drawProgress(w io.Writer, done, total int) {
	const width = 30
	fill := done * width / total
	fmt.Fprintf(w, "\rembedding [%s%s] %d/%d", strings.Repeat("=", fill), strings.Repeat(" ", width-fill), done, total)
}

func loadCorpus(path string, n int) ([]string, error) {
	if path == "" {
		return generate(n), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var texts []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			texts = append(texts, s)
		}
	}
	return texts, sc.Err()
}

// generate builds n distinct sentences (at most 5000) from a few word lists.
func generate(n int) []string {
	who := []string{"A child", "An old man", "The teacher", "A young woman", "The chef", "A farmer", "The doctor", "A student", "The pilot", "A musician"}
	what := []string{"reads a story", "cooks dinner", "plays the guitar", "paints a picture", "repairs a bicycle", "writes a letter", "feeds the birds", "sings a song", "plants a tree", "studies maths"}
	where := []string{"in the library", "in the kitchen", "in the park", "at the station", "on the beach", "in the garden", "at school", "in the hospital", "on a boat", "in the city"}
	when := []string{"in the morning", "at night", "on Sunday", "after lunch", "in winter"}
	total := len(who) * len(what) * len(where) * len(when)
	var out []string
	for c := range min(n, total) {
		out = append(out, fmt.Sprintf("%s %s %s %s.", who[c%10], what[c/10%10], where[c/100%10], when[c/1000%5]))
	}
	return out
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
