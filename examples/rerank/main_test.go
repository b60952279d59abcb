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

func TestRerank(t *testing.T) {
	eng, err := sie.Open(sie.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	for _, name := range []string{"bert-rerank", "xlmr-rerank"} {
		t.Run(name, func(t *testing.T) {
			model := golden.Dir(name)
			var out bytes.Buffer
			if err := run(context.Background(), []string{"-model", model, "-top", "2"}, &out); err != nil {
				t.Fatal(err)
			}
			const q = "What is the capital of France?"
			all, err := eng.Rerank(context.Background(), model, q, docs)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"query: " + q}
			for _, h := range all[:2] {
				want = append(want, fmt.Sprintf("%.4f  [%d] %s", h.Score, h.Index, docs[h.Index]))
			}
			if got := strings.TrimSpace(out.String()); got != strings.Join(want, "\n") {
				t.Errorf("output:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
			}
		})
	}
	if err := run(context.Background(), []string{"-model", t.TempDir()}, &bytes.Buffer{}); err == nil {
		t.Error("a folder with no checkpoint gave no error")
	}
}
