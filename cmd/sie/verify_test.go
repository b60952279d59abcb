package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sie-project/sie"
	"github.com/sie-project/sie/internal/golden"
	"github.com/sie-project/sie/server"
)

var verifyTexts = []string{
	"A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby.",
	"A man is riding a horse.", "A woman is playing violin.", "Two men pushed carts through the woods.",
	"A monkey is playing drums.", "The cat sat on the mat.",
}

// writeLines writes one JSON value per line.
func writeLines[T any](t *testing.T, path string, vals []T) string {
	t.Helper()
	var b bytes.Buffer
	for _, v := range vals {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(raw)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVerifyCommandAgainstFile(t *testing.T) {
	t.Setenv("SIE_CACHE", t.TempDir())
	dir := golden.Dir("bert-mean")
	tmp := t.TempDir()
	corpus := writeLines(t, filepath.Join(tmp, "corpus.jsonl"), verifyTexts)
	eng, err := sie.Open(sie.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ctx := context.Background()
	vecs, err := eng.Embed(ctx, dir, verifyTexts)
	if err != nil {
		t.Fatal(err)
	}
	// An export as arrays and one as objects with "embedding".
	arrays := writeLines(t, filepath.Join(tmp, "arrays.jsonl"), vecs)
	objs := make([]map[string]any, len(vecs))
	scaled := make([][]float32, len(vecs))
	for i, v := range vecs {
		objs[i] = map[string]any{"id": i, "embedding": v}
		scaled[i] = make([]float32, len(v))
		for j := range v {
			scaled[i][j] = v[j] * 4
		}
	}
	objects := writeLines(t, filepath.Join(tmp, "objects.jsonl"), objs)
	unnormalised := writeLines(t, filepath.Join(tmp, "scaled.jsonl"), scaled)

	for _, f := range []string{arrays, objects} {
		var out bytes.Buffer
		err := run(ctx, []string{"verify", "--model", dir, "--against", f, "--corpus", corpus}, nil, &out)
		if err != nil {
			t.Fatalf("%s: %v\n%s", f, err, out.String())
		}
		if !strings.HasPrefix(out.String(), "PASS: 8 of 8 items agree at cosine >= 0.999") || !strings.Contains(out.String(), "worst items") {
			t.Errorf("table:\n%s", out.String())
		}
	}

	// Unnormalised vectors fail with status 1, a hint, and a JSON report.
	var out bytes.Buffer
	err = run(ctx, []string{"verify", "--model", dir, "--against", unnormalised, "--corpus", corpus, "--json"}, nil, &out)
	if !errors.Is(err, errVerifyFailed) || exitCode(err) != 1 {
		t.Fatalf("error %v (status %d), want a failure with status 1", err, exitCode(err))
	}
	var rep struct {
		Count      int        `json:"count"`
		Min        float64    `json:"min"`
		Pass       bool       `json:"pass"`
		OtherNorms [2]float64 `json:"other_norms"`
		Hints      []string   `json:"hints"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if rep.Count != 8 || rep.Pass || rep.Min < 0.99999 || math.Abs(rep.OtherNorms[0]-4) > 1e-3 ||
		len(rep.Hints) != 1 || !strings.HasPrefix(rep.Hints[0], "normalisation:") {
		t.Errorf("report %+v", rep)
	}

	// Errors exit with status 2.
	for _, args := range [][]string{
		{"verify", "--model", dir, "--corpus", corpus},
		{"verify", "--model", dir, "--against", filepath.Join(tmp, "missing.jsonl"), "--corpus", corpus},
		{"verify", "--model", dir, "--against", arrays, "--corpus", arrays},
		{"verify", "--model", dir, "--against", "http://127.0.0.1:1", "--corpus", corpus, "--api", "grpc"},
		{"verify", "--model", dir, "--against", writeLines(t, filepath.Join(tmp, "short.jsonl"), vecs[:3]), "--corpus", corpus},
	} {
		err := run(ctx, args, nil, &bytes.Buffer{})
		if err == nil || exitCode(err) != 2 {
			t.Errorf("%q: error %v, status %d; want status 2", args, err, exitCode(err))
		}
	}
}

func TestVerifyCommandRecall(t *testing.T) {
	t.Setenv("SIE_CACHE", t.TempDir())
	dir := golden.Dir("bert-mean")
	tmp := t.TempDir()
	type doc struct {
		ID   string `json:"_id"`
		Text string `json:"text"`
	}
	queries := []doc{{"q1", "someone eats"}, {"q2", "music"}}
	var corpus []doc
	for i, s := range verifyTexts {
		corpus = append(corpus, doc{string(rune('a' + i)), s})
	}
	qf := writeLines(t, filepath.Join(tmp, "queries.jsonl"), queries)
	cf := writeLines(t, filepath.Join(tmp, "corpus.jsonl"), corpus)
	qrels := filepath.Join(tmp, "qrels.tsv")
	// q1: a (grade 1) and b (grade 2); q2: e and g.
	if err := os.WriteFile(qrels, []byte("query-id\tcorpus-id\tscore\nq1\ta\t1\nq1\tb\t2\nq2\te\t1\nq2\tg\t1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A hand-made baseline: 2-d vectors, each query pointing straight at
	// documents so its ranking is known. q1 ranks b first then a (exact
	// 45° and 50°); q2 ranks c first, e second, g last.
	at := func(deg float64) []float32 {
		r := deg * math.Pi / 180
		return []float32{float32(math.Cos(r)), float32(math.Sin(r))}
	}
	base := [][]float32{at(40), at(200), // queries
		at(50), at(40), at(190), at(-60), at(220), at(-70), at(10), at(-80)} // corpus a..h
	bf := writeLines(t, filepath.Join(tmp, "baseline.jsonl"), base)
	var out bytes.Buffer
	err := run(context.Background(), []string{"verify", "--model", dir, "--baseline", bf, "--queries", qf,
		"--corpus", cf, "--qrels", qrels, "--k", "2", "--json"}, nil, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	var rep struct {
		K        int
		Sie      map[string]float64
		Baseline map[string]float64
		Diff     map[string]float64
		PerQuery []struct {
			ID       string
			Baseline map[string]float64
		} `json:"per_query"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	// Baseline by hand. q1: b, a, then the rest: recall@2 = 1, nDCG =
	// (2 + 1/log2 3)/(2 + 1/log2 3) = 1, MRR = 1. q2 (at 200°): c (190°,
	// 10° off), e (220°, 20°), ... g (10°, 170° off) last of 8: recall@2 = 1/2,
	// DCG = 1/log2 3 + 1/log2 9, IDCG = 1 + 1/log2 3, MRR = 1/2.
	q2ndcg := (1/math.Log2(3) + 1/math.Log2(9)) / (1 + 1/math.Log2(3))
	want := map[string]float64{"recall": 0.75, "ndcg@10": (1 + q2ndcg) / 2, "mrr@10": 0.75}
	for k, v := range want {
		if math.Abs(rep.Baseline[k]-v) > 1e-6 {
			t.Errorf("baseline %s = %.7f, want %.7f", k, rep.Baseline[k], v)
		}
		if math.Abs(rep.Diff[k]-(rep.Sie[k]-rep.Baseline[k])) > 1e-9 || rep.Sie[k] < 0 || rep.Sie[k] > 1 {
			t.Errorf("%s: sie %.4f, diff %.4f", k, rep.Sie[k], rep.Diff[k])
		}
	}
	if rep.K != 2 || len(rep.PerQuery) != 2 {
		t.Errorf("k %d, %d query rows", rep.K, len(rep.PerQuery))
	}

	// The same legs on both sides agree exactly: export sie's own vectors.
	eng, err := sie.Open(sie.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	qv, err := eng.Embed(context.Background(), dir, []string{"someone eats", "music"}, sie.Query())
	if err != nil {
		t.Fatal(err)
	}
	cv, err := eng.Embed(context.Background(), dir, verifyTexts)
	if err != nil {
		t.Fatal(err)
	}
	same := writeLines(t, filepath.Join(tmp, "same.jsonl"), append(qv, cv...))
	out.Reset()
	if err := run(context.Background(), []string{"verify", "--model", dir, "--baseline", same, "--queries", qf,
		"--corpus", cf, "--qrels", qrels}, nil, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	overall := strings.Fields(lines[len(lines)-1])
	if overall[0] != "overall" || overall[3] != "+0.0000" || overall[6] != "+0.0000" || overall[9] != "+0.0000" {
		t.Errorf("identical legs differ:\n%s", out.String())
	}
}

// TestVerifyAgainstSieServer runs sie verify against sie's own compatible
// server on loopback: the same checkpoint passes on every API; a checkpoint
// with a document template fails against the routes that apply no prompt
// (a prefix, with the hint saying so) and passes with --no-prompt.
func TestVerifyAgainstSieServer(t *testing.T) {
	t.Setenv("SIE_CACHE", t.TempDir())
	eng, err := sie.Open(sie.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	plain, prompted := golden.Dir("bert-mean"), golden.Dir("modernbert")
	s := server.New(eng, server.Options{Aliases: map[string]string{"plain": plain, "prompted": prompted}, DefaultModel: "plain"})
	ready, loadErr := s.Ready()
	<-ready
	if err := loadErr(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	corpus := writeLines(t, filepath.Join(t.TempDir(), "corpus.jsonl"), verifyTexts)
	ctx := context.Background()
	for _, api := range []string{"openai", "tei", "cohere", "infinity"} {
		var out bytes.Buffer
		err := run(ctx, []string{"verify", "--model", plain, "--against", srv.URL, "--api", api, "--against-model", "plain", "--corpus", corpus}, nil, &out)
		if err != nil || !strings.HasPrefix(out.String(), "PASS: 8 of 8") {
			t.Errorf("%s: %v\n%s", api, err, out.String())
		}
	}
	var out bytes.Buffer
	err = run(ctx, []string{"verify", "--model", prompted, "--against", srv.URL + "/v1", "--against-model", "prompted", "--corpus", corpus}, nil, &out)
	if exitCode(err) != 1 || !strings.Contains(out.String(), "hint: prefix:") {
		t.Errorf("document template against the OpenAI route: status %d (%v)\n%s", exitCode(err), err, out.String())
	}
	t.Logf("the report a user sees:\n%s", out.String())
	// TEI requests name no model: a server whose default is the prompted one.
	s2 := server.New(eng, server.Options{Models: []string{prompted}})
	ready, _ = s2.Ready()
	<-ready
	srv2 := httptest.NewServer(s2)
	defer srv2.Close()
	out.Reset()
	err = run(ctx, []string{"verify", "--model", prompted, "--no-prompt", "--against", srv2.URL, "--api", "tei", "--against-model", "prompted", "--corpus", corpus, "--min-cosine", "0.99999"}, nil, &out)
	if err != nil || !strings.HasPrefix(out.String(), "PASS") {
		t.Errorf("--no-prompt against TEI: %v\n%s", err, out.String())
	}
}
