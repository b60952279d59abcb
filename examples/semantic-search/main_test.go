package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sie-project/sie"
	"github.com/sie-project/sie/internal/golden"
)

func TestSemanticSearch(t *testing.T) {
	model := golden.Dir("bert-mean")
	var out, progress bytes.Buffer
	q := "a chef cooks dinner in the kitchen"
	if err := run(context.Background(), []string{"-model", model, "-n", "600", "-k", "3", q}, &out, &progress); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(progress.String(), "512/600") || !strings.HasSuffix(strings.TrimSpace(progress.String()), "] 600/600") {
		t.Errorf("progress: %q", progress.String())
	}
	corpus := generate(600)
	if len(corpus) != 600 || corpus[0] == corpus[599] {
		t.Fatalf("generated corpus: %d texts", len(corpus))
	}
	// The same search, done independently: embed everything at once.
	eng, err := sie.Open(sie.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	dv, err := eng.Embed(context.Background(), model, corpus)
	if err != nil {
		t.Fatal(err)
	}
	qv, err := eng.Embed(context.Background(), model, []string{q}, sie.Query())
	if err != nil {
		t.Fatal(err)
	}
	best, second := -1, -1
	for i := range dv {
		switch c := cosine(qv[0], dv[i]); {
		case best < 0 || c > cosine(qv[0], dv[best]):
			best, second = i, best
		case second < 0 || c > cosine(qv[0], dv[second]):
			second = i
		}
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || lines[0] != "query: "+q {
		t.Fatalf("output:\n%s", out.String())
	}
	for i, d := range []int{best, second} {
		if want := fmt.Sprintf("[%d] %s", d, corpus[d]); !strings.HasSuffix(lines[i+1], want) {
			t.Errorf("hit %d: %q, want %q", i, lines[i+1], want)
		}
	}
}
