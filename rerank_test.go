package sie

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/sie-project/sie/internal/golden"
)

// rerankFixture loads a cross-encoder fixture: its (query, passage) pairs
// and upstream's raw and sigmoid scores.
func rerankFixture(t *testing.T, name string) (c *golden.Case, raw, sig []float32) {
	t.Helper()
	c, err := golden.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Output("scores_raw", &raw); err != nil {
		t.Fatal(err)
	}
	if err := c.Output("scores_sigmoid", &sig); err != nil {
		t.Fatal(err)
	}
	return c, raw, sig
}

func TestRerankFixtures(t *testing.T) {
	e := openEngine(t, Options{})
	ctx := context.Background()
	for _, tc := range []struct {
		name        string
		defaultsRaw bool // the checkpoint declares Identity
	}{{"bert-rerank", true}, {"xlmr-rerank", false}} {
		t.Run(tc.name, func(t *testing.T) {
			c, raw, sig := rerankFixture(t, tc.name)
			worst := 0.0
			for i, in := range c.Inputs {
				// Token ids and type ids of the pair, exactly as upstream.
				l, err := e.model(ctx, c.Dir)
				if err != nil {
					t.Fatal(err)
				}
				seq, err := l.m.tokenizePairs(in.Pair[0], in.Pair[1:], &callConfig{})
				if err != nil {
					t.Fatal(err)
				}
				n := len(seq[0].ids)
				if fmt.Sprint(seq[0].ids) != fmt.Sprint(in.InputIDs[:n]) || (n < len(in.InputIDs) && in.AttentionMask[n] != 0) {
					t.Fatalf("pair %d ids:\n got %v\nwant %v", i, seq[0].ids, in.InputIDs)
				}
				if in.TokenTypeIDs != nil && fmt.Sprint(seq[0].types) != fmt.Sprint(in.TokenTypeIDs[:n]) {
					t.Fatalf("pair %d type ids:\n got %v\nwant %v", i, seq[0].types, in.TokenTypeIDs[:n])
				}
				for _, act := range []string{"", ScoreRaw, ScoreSigmoid} {
					got, err := e.Rerank(ctx, c.Dir, in.Pair[0], in.Pair[1:], ScoreActivation(act))
					if err != nil {
						t.Fatal(err)
					}
					want := sig[i]
					if act == ScoreRaw || (act == "" && tc.defaultsRaw) {
						want = raw[i]
					}
					d := math.Abs(float64(got[0].Score - want))
					worst = max(worst, d)
					if d > 1e-4 {
						t.Errorf("pair %d activation %q: score %v, upstream %v", i, act, got[0].Score, want)
					}
				}
			}
			t.Logf("%d pairs: max abs score diff %.3g", len(c.Inputs), worst)
		})
	}
}

// TestRerankOrderAndBatches: scores do not depend on how documents are
// batched, results are sorted with the right indices, TopK keeps the best.
func TestRerankOrderAndBatches(t *testing.T) {
	e := openEngine(t, Options{})
	ctx := context.Background()
	dir := golden.Dir("bert-rerank")
	query := "how many people live in berlin?"
	docs := mixedTexts(64, 5)
	alone := make([]float32, len(docs))
	for i, d := range docs {
		r, err := e.Rerank(ctx, dir, query, []string{d})
		if err != nil {
			t.Fatal(err)
		}
		if len(r) != 1 || r[0].Index != 0 {
			t.Fatalf("single document: got %+v", r)
		}
		alone[i] = r[0].Score
	}
	worst := 0.0
	for _, size := range []int{1, 2, 7, 16, 33, 64} {
		for lo := 0; lo < len(docs); lo += size {
			hi := min(len(docs), lo+size)
			r, err := e.Rerank(ctx, dir, query, docs[lo:hi])
			if err != nil {
				t.Fatal(err)
			}
			if len(r) != hi-lo {
				t.Fatalf("%d results for %d documents", len(r), hi-lo)
			}
			seen := map[int]bool{}
			for k, x := range r {
				if seen[x.Index] || x.Index < 0 || x.Index >= hi-lo {
					t.Fatalf("bad or repeated index %d", x.Index)
				}
				seen[x.Index] = true
				if k > 0 && r[k-1].Score < x.Score {
					t.Fatalf("not sorted: %v before %v", r[k-1].Score, x.Score)
				}
				d := math.Abs(float64(x.Score - alone[lo+x.Index]))
				worst = max(worst, d)
				if d > 1e-5 {
					t.Fatalf("batch size %d: document %d scores %v, alone %v", size, lo+x.Index, x.Score, alone[lo+x.Index])
				}
			}
		}
	}
	t.Logf("max abs diff alone vs batches of 1..64: %.3g", worst)

	top, err := e.Rerank(ctx, dir, query, docs, TopK(5))
	if err != nil {
		t.Fatal(err)
	}
	order := make([]int, len(docs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if alone[a] > alone[b] {
			return -1
		} else if alone[a] < alone[b] {
			return 1
		}
		return 0
	})
	if len(top) != 5 {
		t.Fatalf("TopK(5) gave %d", len(top))
	}
	for k := range top {
		if top[k].Index != order[k] {
			t.Fatalf("TopK rank %d: index %d, want %d", k, top[k].Index, order[k])
		}
	}
}

func TestRerankBadInput(t *testing.T) {
	e := openEngine(t, Options{})
	ctx := context.Background()
	ce := golden.Dir("bert-rerank")
	emb := golden.Dir("bert-mean")
	if r, err := e.Rerank(ctx, ce, "q", nil); err != nil || len(r) != 0 {
		t.Fatalf("empty documents: %v, %v", r, err)
	}
	for name, call := range map[string]func() error{
		"embedding model":        func() error { _, err := e.Rerank(ctx, emb, "q", []string{"d"}); return err },
		"cross-encoder in Embed": func() error { _, err := e.Embed(ctx, ce, []string{"d"}); return err },
		"TopK in Embed":          func() error { _, err := e.Embed(ctx, emb, []string{"d"}, TopK(3)); return err },
		"unknown activation": func() error {
			_, err := e.Rerank(ctx, ce, "q", []string{"d"}, ScoreActivation("softmax"))
			return err
		},
		"invalid UTF-8 query":    func() error { _, err := e.Rerank(ctx, ce, "\xff", []string{"d"}); return err },
		"invalid UTF-8 document": func() error { _, err := e.Rerank(ctx, ce, "q", []string{"d", "\xc3"}); return err },
	} {
		if err := call(); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: got %v, want ErrInvalidInput", name, err)
		}
	}
}
