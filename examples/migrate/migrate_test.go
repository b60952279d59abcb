// Package migrate_test runs every migration pair: the "before" program with
// the provider's own Go client against sie's compatible server (standing in
// for the provider, on the same checkpoint), the "after" program with sie in
// process, and checks that their vectors agree at cosine ≥ 0.99999 (and
// their rerank results match). The programs are built once and run as a
// user would run them: texts on stdin, vectors on stdout.
package migrate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sie-project/sie"
	"github.com/sie-project/sie/internal/golden"
	"github.com/sie-project/sie/server"
	"github.com/sie-project/sie/verify"
)

// programs are the runnable before/after pairs (fastembed's before leg needs
// cgo and ONNX Runtime, modal's a Modal account: see their tests).
var programs = []string{
	"openai/before", "openai/after", "cohere/before", "cohere/after", "tei/before", "tei/after",
	"infinity/before", "infinity/after", "fastembed/after", "modal/after",
}

// tagged are programs built with build tags, added by tagged test files.
var tagged = map[string]string{}

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sie-migrate")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	all := map[string]string{}
	for _, p := range programs {
		all[p] = ""
	}
	for p, tags := range tagged {
		all[p] = tags
	}
	for p, tags := range all {
		cmd := exec.Command("go", "build", "-tags", tags, "-o", filepath.Join(dir, strings.ReplaceAll(p, "/", "-")), "./"+p)
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build ./%s: %v\n%s", p, err, out)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// texts are what every pair embeds: short and long, accents, scripts, emoji.
var texts = []string{
	"The quick brown fox jumps over the lazy dog.",
	"A man is eating a piece of bread.",
	"Café, naïve façade: Zürich's Öl, São Paulo, résumé and déjà vu.",
	"東京は日本の首都です。",
	"I love pizza 🍕 and sushi 🍣!",
	"Paris is the capital and largest city of France.",
	"Gutenberg combined movable metal type, oil-based ink and a wooden screw press around 1440, and within fifty years presses were running in more than two hundred cities across Europe.",
	"Hi",
}

// run runs a built program with texts as JSON lines on stdin.
func run(t *testing.T, prog string, env []string, input []string, args ...string) []byte {
	t.Helper()
	var in bytes.Buffer
	for _, s := range input {
		raw, _ := json.Marshal(s)
		in.Write(raw)
		in.WriteByte('\n')
	}
	cmd := exec.Command(filepath.Join(binDir, strings.ReplaceAll(prog, "/", "-")), args...)
	cmd.Stdin = &in
	cmd.Env = append(append(os.Environ(), "SIE_CACHE="+t.TempDir()), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", prog, args, err, stderr.String())
	}
	return out
}

func vectors(t *testing.T, out []byte) [][]float32 {
	t.Helper()
	v, err := verify.ReadVectors(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// agree checks two legs' vectors item by item with sie verify's own check.
func agree(t *testing.T, before, after [][]float32) {
	t.Helper()
	agreeOn(t, texts, before, after)
}

func agreeOn(t *testing.T, texts []string, before, after [][]float32) {
	t.Helper()
	if len(before) != len(texts) || len(after) != len(texts) {
		t.Fatalf("%d and %d vectors for %d texts", len(before), len(after), len(texts))
	}
	rep, err := verify.Compare(context.Background(), texts, &verify.FileLeg{Vectors: before}, &verify.FileLeg{Vectors: after},
		verify.CompareOptions{MinCosine: 0.99999, MaxNormDiff: 1e-4})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d items: min cosine %.7f, mean %.7f", rep.Count, rep.Min, rep.Mean)
	if !rep.Pass {
		var b strings.Builder
		rep.WriteTable(&b)
		t.Errorf("before and after disagree:\n%s", b.String())
	}
}

type hit struct {
	Index int     `json:"index"`
	Score float64 `json:"score"`
}

func sameRanking(t *testing.T, beforeOut, afterOut []byte) {
	t.Helper()
	var b, a []hit
	if err := json.Unmarshal(beforeOut, &b); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(afterOut, &a); err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 || len(a) != len(b) {
		t.Fatalf("before %v, after %v", b, a)
	}
	for i := range a {
		if a[i].Index != b[i].Index || math.Abs(a[i].Score-b[i].Score) > 1e-5 {
			t.Errorf("rank %d: before %+v, after %+v", i, b[i], a[i])
		}
	}
}

var (
	engOnce sync.Once
	eng     *sie.Engine
	engErr  error
)

// serve starts sie's compatible server on loopback over one shared Engine.
func serve(t *testing.T, opts server.Options) string {
	t.Helper()
	engOnce.Do(func() { eng, engErr = sie.Open(sie.Options{}) })
	if engErr != nil {
		t.Fatal(engErr)
	}
	s := server.New(eng, opts)
	ready, loadErr := s.Ready()
	select {
	case <-ready:
	case <-time.After(5 * time.Minute):
		t.Fatal("models did not load")
	}
	if err := loadErr(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv.URL
}

var (
	plain    = golden.Dir("bert-mean")   // no prompts
	prompted = golden.Dir("modernbert")  // query and document templates
	reranker = golden.Dir("bert-rerank") // cross-encoder
)

func TestOpenAI(t *testing.T) {
	url := serve(t, server.Options{Aliases: map[string]string{"text-embedding-3-small": plain}})
	before := run(t, "openai/before", []string{"OPENAI_BASE_URL=" + url + "/v1", "OPENAI_API_KEY=unused"}, texts)
	after := run(t, "openai/after", nil, texts, "-model", plain)
	agree(t, vectors(t, before), vectors(t, after))
}

func TestCohere(t *testing.T) {
	url := serve(t, server.Options{Aliases: map[string]string{"embed-english-v3.0": prompted, "rerank-v3.5": reranker}})
	env := []string{"CO_API_KEY=unused"}
	// input_type selects the template on Cohere's routes, as sie.Query() does.
	for _, q := range [][]string{nil, {"-query"}} {
		before := run(t, "cohere/before", env, texts, append([]string{"-base-url", url}, q...)...)
		after := run(t, "cohere/after", nil, texts, append([]string{"-model", prompted}, q...)...)
		agree(t, vectors(t, before), vectors(t, after))
	}
	before := run(t, "cohere/before", env, texts, "-base-url", url, "-rerank", "What is the capital of France?", "-top-n", "3")
	after := run(t, "cohere/after", nil, texts, "-rerank-model", reranker, "-rerank", "What is the capital of France?", "-top-n", "3")
	sameRanking(t, before, after)
}

func TestTEI(t *testing.T) {
	// TEI applies no prompt; the after leg turns sie's off (the model has
	// a document template, so leaving it on would fail this test).
	url := serve(t, server.Options{Models: []string{prompted}})
	agree(t, vectors(t, run(t, "tei/before", nil, texts, "-url", url)), vectors(t, run(t, "tei/after", nil, texts, "-model", prompted)))

	rr := serve(t, server.Options{Models: []string{reranker}})
	sameRanking(t, run(t, "tei/before", nil, texts, "-url", rr, "-rerank", "What is the capital of France?"),
		run(t, "tei/after", nil, texts, "-model", reranker, "-rerank", "What is the capital of France?"))
}

func TestInfinity(t *testing.T) {
	url := serve(t, server.Options{Aliases: map[string]string{"BAAI/bge-small-en-v1.5": prompted, "mixedbread-ai/mxbai-rerank-xsmall-v1": reranker}})
	agree(t, vectors(t, run(t, "infinity/before", nil, texts, "-url", url)), vectors(t, run(t, "infinity/after", nil, texts, "-model", prompted)))
	sameRanking(t, run(t, "infinity/before", nil, texts, "-url", url, "-model", "mixedbread-ai/mxbai-rerank-xsmall-v1", "-rerank", "What is the capital of France?"),
		run(t, "infinity/after", nil, texts, "-model", reranker, "-rerank", "What is the capital of France?"))
}

// TestModal checks the after leg against what the Modal function returns:
// sentence-transformers' encode on the same checkpoint, recorded upstream in
// the fixture (with prompt_name="query" for queries).
func TestModal(t *testing.T) {
	c, err := golden.Load("modernbert")
	if err != nil {
		t.Fatal(err)
	}
	var want [][]float32
	if err := c.Output("embedding", &want); err != nil {
		t.Fatal(err)
	}
	for _, prompt := range []string{"query", "document"} {
		var in []string
		var st [][]float32
		for i, x := range c.Inputs {
			if x.Prompt != nil && *x.Prompt == prompt && x.RawText != nil {
				in = append(in, *x.RawText)
				st = append(st, want[i])
			}
		}
		args := []string{"-model", prompted}
		if prompt == "query" {
			args = append(args, "-query")
		}
		got := vectors(t, run(t, "modal/after", nil, in, args...))
		rep, err := verify.Compare(context.Background(), in, &verify.FileLeg{Vectors: st}, &verify.FileLeg{Vectors: got},
			verify.CompareOptions{MinCosine: 0.99999, MaxNormDiff: 1e-4})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d items, min cosine %.7f", prompt, rep.Count, rep.Min)
		if !rep.Pass || rep.Count < 3 {
			t.Errorf("%s: %d items, min cosine %.7f, hints %q", prompt, rep.Count, rep.Min, rep.Hints)
		}
	}
}

// TestFastembedAfter checks the after leg reproduces fastembed-go's input
// convention: literal "passage: " / "query: " prefixes and no template. The
// prefixed texts through sie's OpenAI-compatible route (which applies no
// prompt) must give the same vectors.
func TestFastembedAfter(t *testing.T) {
	url := serve(t, server.Options{Aliases: map[string]string{"m": prompted}})
	for _, prefix := range []string{"passage: ", "query: "} {
		var prefixed []string
		for _, s := range texts {
			prefixed = append(prefixed, prefix+s)
		}
		var args []string
		if prefix == "query: " {
			args = append(args, "-query")
		}
		before := run(t, "openai/before", []string{"OPENAI_BASE_URL=" + url + "/v1", "OPENAI_API_KEY=unused"}, prefixed, "-model", "m")
		after := run(t, "fastembed/after", nil, texts, append([]string{"-model", prompted}, args...)...)
		agree(t, vectors(t, before), vectors(t, after))
	}
}
