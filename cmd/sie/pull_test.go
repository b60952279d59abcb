package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sie-project/sie"
	"github.com/sie-project/sie/internal/golden"
	"github.com/sie-project/sie/internal/hub/hubtest"
)

func fixtureRepo(t *testing.T, name string) map[string][]byte {
	t.Helper()
	dir := golden.Dir(name)
	files := map[string][]byte{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() != "golden.json" {
			data, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(dir, p)
			files[filepath.ToSlash(rel)] = data
		}
		return err
	})
	return files
}

func TestPullCommand(t *testing.T) {
	s := hubtest.New(t)
	commit := s.Serve("org/tiny-bert", fixtureRepo(t, "bert-cls"))
	cache := t.TempDir()
	t.Setenv("SIE_CACHE", "")
	t.Setenv("HF_HOME", t.TempDir())
	t.Setenv("HF_HUB_CACHE", cache)
	t.Setenv("HF_ENDPOINT", s.URL)
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HF_HUB_OFFLINE", "")
	var errBuf bytes.Buffer
	stderr = &errBuf
	t.Cleanup(func() { stderr = os.Stderr })

	var out bytes.Buffer
	if err := run(context.Background(), []string{"pull", "org/tiny-bert"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(cache, "models--org--tiny-bert", "snapshots", commit)
	if got := strings.TrimSpace(out.String()); got != want {
		t.Errorf("printed %q, want %q", got, want)
	}
	for _, line := range []string{"downloading org/tiny-bert model.safetensors", "done org/tiny-bert model.safetensors"} {
		if !strings.Contains(errBuf.String(), line) {
			t.Errorf("stderr lacks %q:\n%s", line, errBuf.String())
		}
	}
	if strings.Contains(errBuf.String(), "\r") {
		t.Error("a progress bar drawn on a non-terminal")
	}
	// Pinned and cached: nothing is sent, the same folder is printed.
	s.ResetRequests()
	out.Reset()
	if err := run(context.Background(), []string{"pull", "org/tiny-bert@" + commit}, nil, &out); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out.String()) != want || len(s.Requests()) != 0 {
		t.Errorf("pinned pull: %q, %d requests", out.String(), len(s.Requests()))
	}
	for _, args := range [][]string{{"pull"}, {"pull", "org/no-such-model"}, {"pull", "a", "b"}} {
		if err := run(context.Background(), args, nil, &out); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

func TestProgressBar(t *testing.T) {
	var buf bytes.Buffer
	p := &progress{w: &buf, tty: true, last: map[string]int64{}}
	p.update(sieProgress("model.safetensors", 0, 2<<20))
	p.update(sieProgress("model.safetensors", 1<<20, 2<<20))
	p.update(sieProgress("model.safetensors", 2<<20, 2<<20))
	p.finish()
	s := buf.String()
	for _, want := range []string{"\r\033[K", " 50% 1.0 MiB/2.0 MiB", "100% 2.0 MiB/2.0 MiB\n", "[===============               ]"} {
		if !strings.Contains(s, want) {
			t.Errorf("bar lacks %q: %q", want, s)
		}
	}
}

func TestTokenizeCommand(t *testing.T) {
	t.Setenv("SIE_CACHE", t.TempDir())
	c, err := golden.Load("bert-cls")
	if err != nil {
		t.Fatal(err)
	}
	var in bytes.Buffer
	for _, x := range c.Inputs {
		b, _ := json.Marshal(x.Text)
		in.Write(b)
		in.WriteByte('\n')
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"tokenize", "--model", c.Dir, "--batch", "5"}, &in, &out); err != nil {
		t.Fatal(err)
	}
	checkTokens(t, c, out.String(), false)

	r, err := golden.Load("bert-rerank")
	if err != nil {
		t.Fatal(err)
	}
	in.Reset()
	out.Reset()
	for _, x := range r.Inputs {
		b, _ := json.Marshal(x.Pair)
		in.Write(b)
		in.WriteByte('\n')
	}
	if err := run(context.Background(), []string{"tokenize", "--model", r.Dir, "--pair"}, &in, &out); err != nil {
		t.Fatal(err)
	}
	checkTokens(t, r, out.String(), true)

	for _, tc := range []struct {
		args  []string
		stdin string
	}{
		{[]string{"tokenize", "--model", r.Dir, "--pair"}, `"not a pair"`},
		{[]string{"tokenize", "--model", r.Dir}, `["a", "b"]`},
		{[]string{"tokenize"}, `"x"`},
	} {
		if err := run(context.Background(), tc.args, strings.NewReader(tc.stdin), &out); err == nil {
			t.Errorf("%v with %s: no error", tc.args, tc.stdin)
		}
	}
}

// checkTokens compares each output line with the upstream tokenization
// recorded in the fixture (transformers, padding removed), which includes
// a text longer than the model's maximum length.
func checkTokens(t *testing.T, c *golden.Case, out string, pair bool) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(c.Inputs) {
		t.Fatalf("%d lines for %d inputs", len(lines), len(c.Inputs))
	}
	truncated := false
	for i, line := range lines {
		var got struct {
			IDs     []int    `json:"ids"`
			TypeIDs []int    `json:"type_ids"`
			Tokens  []string `json:"tokens"`
			Offsets [][2]int `json:"offsets"`
		}
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		x := c.Inputs[i]
		n := 0
		for _, m := range x.AttentionMask {
			n += m
		}
		if n == len(x.AttentionMask) && n > 32 {
			truncated = true
		}
		if !slicesEqual(got.IDs, x.InputIDs[:n]) || !slicesEqual(got.TypeIDs, x.TokenTypeIDs[:n]) {
			t.Errorf("input %d: ids %v type_ids %v\nwant %v %v", i, got.IDs, got.TypeIDs, x.InputIDs[:n], x.TokenTypeIDs[:n])
		}
		if x.Tokens != nil && !slicesEqual(got.Tokens, x.Tokens[:n]) {
			t.Errorf("input %d: tokens %q, want %q", i, got.Tokens, x.Tokens[:n])
		}
		if len(got.Offsets) != n || len(got.Tokens) != n {
			t.Errorf("input %d: %d offsets, %d tokens for %d ids", i, len(got.Offsets), len(got.Tokens), n)
		}
		// Offsets point into the text the token came from.
		for j, o := range got.Offsets {
			src := x.Text
			if pair {
				src = x.Pair[min(got.TypeIDs[j], 1)]
			}
			if o[0] < 0 || o[1] < o[0] || o[1] > len(src) {
				t.Errorf("input %d token %d: offsets %v outside the text", i, j, o)
			}
		}
	}
	if !truncated {
		t.Error("no input reached the model's maximum length: truncation untested")
	}
}

func slicesEqual[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sieProgress(file string, done, total int64) sie.DownloadProgress {
	return sie.DownloadProgress{Model: "org/m", File: file, Done: done, Total: total}
}
