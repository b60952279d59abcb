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

func TestQuickstart(t *testing.T) {
	model := golden.Dir("bert-cls") // has a query prompt
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-model", model}, &out); err != nil {
		t.Fatal(err)
	}
	eng, err := sie.Open(sie.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	docs := []string{"A man is eating food.", "A man is riding a horse.", "A woman is playing violin.", "The new movie is awesome."}
	q, _ := eng.Embed(context.Background(), model, []string{"Represent this sentence for searching relevant passages: Someone is playing an instrument."}, sie.NoPrompt())
	d, _ := eng.Embed(context.Background(), model, docs)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "query: Someone is playing an instrument.") {
		t.Fatalf("output:\n%s", out.String())
	}
	for i, doc := range docs {
		if want := fmt.Sprintf("%.4f  %s", cosine(q[0], d[i]), doc); lines[i+1] != want {
			t.Errorf("line %q, want %q", lines[i+1], want)
		}
	}
}
