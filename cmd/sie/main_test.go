package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sie-project/sie"
	"github.com/sie-project/sie/internal/golden"
)

func TestEmbedCommand(t *testing.T) {
	t.Setenv("SIE_CACHE", t.TempDir())
	dir := golden.Dir("bert-cls")
	texts := []string{"hello world", "", "Café au lait", "Represent me"}
	var in bytes.Buffer
	for _, s := range texts {
		b, _ := json.Marshal(s)
		in.Write(b)
		in.WriteString("\n\n") // blank lines are skipped
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"embed", "--model", dir, "--query", "--batch", "3"}, &in, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(texts) {
		t.Fatalf("%d output lines, want %d", len(lines), len(texts))
	}
	eng, err := sie.Open(sie.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	want, err := eng.Embed(context.Background(), dir, texts, sie.Query())
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range lines {
		var got []float32
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if d := golden.MaxAbsDiff(got, want[i]); d > 1e-6 {
			t.Errorf("line %d differs from Embed by %.3g", i, d)
		}
	}
}

func TestEmbedCommandErrors(t *testing.T) {
	t.Setenv("SIE_CACHE", t.TempDir())
	dir := golden.Dir("bert-mean")
	for _, tc := range []struct {
		args  []string
		stdin string
		says  string
	}{
		{[]string{"embed"}, "", "--model is required"},
		{[]string{"embed", "--model", dir}, "not json\n", "line 1"},
		{[]string{"embed", "--model", dir}, "[1,2]\n", "JSON string"},
		{[]string{"frobnicate"}, "", "unknown command"},
		{nil, "", "usage"},
	} {
		err := run(context.Background(), tc.args, strings.NewReader(tc.stdin), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%v: got %v, want an error mentioning %q", tc.args, err, tc.says)
		}
	}
}

func TestRerankCommand(t *testing.T) {
	t.Setenv("SIE_CACHE", t.TempDir())
	dir := golden.Dir("bert-rerank")
	docs := []string{"Berlin has 3.7 million inhabitants.", "Paris is in France.", "", "berlin berlin berlin"}
	var in bytes.Buffer
	for _, d := range docs {
		b, _ := json.Marshal(d)
		in.Write(b)
		in.WriteByte('\n')
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"rerank", "--model", dir, "--query", "how many people live in berlin?", "--top-k", "3"}, &in, &out); err != nil {
		t.Fatal(err)
	}
	var hits []struct {
		Index int     `json:"index"`
		Score float32 `json:"score"`
	}
	if err := json.Unmarshal(out.Bytes(), &hits); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	eng, err := sie.Open(sie.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	want, err := eng.Rerank(context.Background(), dir, "how many people live in berlin?", docs, sie.TopK(3))
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 3 {
		t.Fatalf("%d hits, want 3", len(hits))
	}
	for i := range hits {
		if hits[i].Index != want[i].Index || hits[i].Score != want[i].Score {
			t.Errorf("hit %d: %+v, want %+v", i, hits[i], want[i])
		}
	}
	if err := run(context.Background(), []string{"rerank", "--model", dir}, strings.NewReader(""), &out); err == nil || !strings.Contains(err.Error(), "--query") {
		t.Errorf("missing --query: got %v", err)
	}
}
