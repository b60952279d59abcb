package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/sie-project/sie"
	"github.com/sie-project/sie/internal/golden"
)

// TestHybridSearch runs the example on the BGE-M3-shaped fixture (XLM-R
// with sparse and ColBERT heads) and checks its hybrid scores against the
// Engine's own hybrid Rerank, a separate code path.
func TestHybridSearch(t *testing.T) {
	model := golden.Dir("xlmr")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-model", model, "-weights", "0.5,0.2,0.3"}, &out); err != nil {
		t.Fatal(err)
	}
	eng, err := sie.Open(sie.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	docs := []string{
		"BGE M3 is an embedding model supporting dense retrieval, lexical matching and multi-vector interaction.",
		"BM25 is a bag-of-words retrieval function that ranks a set of documents based on the query terms appearing in each document.",
		"Paris is the capital of France.",
		"Multi-vector retrieval compares every query token with every document token (late interaction).",
	}
	want, err := eng.Rerank(context.Background(), model, "What is BGE M3?", docs,
		sie.ScoreBy(sie.ScoreHybrid), sie.HybridWeights(0.5, 0.2, 0.3))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2+len(docs) {
		t.Fatalf("output:\n%s", out.String())
	}
	for i, w := range want {
		var score, d, s, m float64
		var idx int
		if _, err := fmt.Sscanf(lines[2+i], "%g %g %g %g [%d]", &score, &d, &s, &m, &idx); err != nil {
			t.Fatalf("line %q: %v", lines[2+i], err)
		}
		if idx != w.Index || math.Abs(score-float64(w.Score)) > 1e-4 || math.Abs(score-(0.5*d+0.2*s+0.3*m)) > 2e-4 {
			t.Errorf("rank %d: [%d] %.4f (dense %.4f sparse %.4f multivector %.4f), want [%d] %.4f", i, idx, score, d, s, m, w.Index, w.Score)
		}
	}
	if err := run(context.Background(), []string{"-model", model, "-weights", "1,2"}, &out); err == nil {
		t.Error("bad -weights accepted")
	}
}
