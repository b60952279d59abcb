package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sie-project/sie"
	"github.com/sie-project/sie/internal/golden"
)

// TestServeCommand starts `sie serve` on a free port with a folder model,
// an alias and an API key, waits for /readyz, embeds through the OpenAI
// route and checks the vector against the Go API, then stops it the way
// SIGTERM does (its context) and expects a clean exit.
func TestServeCommand(t *testing.T) {
	t.Setenv("SIE_CACHE", t.TempDir())
	dense, rerank := golden.Dir("bert-cls"), golden.Dir("bert-rerank")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, []string{"--addr", "127.0.0.1:0", "--alias", "mini=" + dense, "--model", rerank,
			"--api-key", "k3y", "--quiet"}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no listening line: %v (%v)", err, <-done)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok {
		t.Fatalf("first line %q", line)
	}
	base := "http://" + addr
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("not ready in 2 minutes")
		}
	}
	post := func(body, key string) (int, []byte) {
		req, _ := http.NewRequest("POST", base+"/v1/embeddings", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, body := post(`{"input":"hello"}`, ""); code != 401 {
		t.Errorf("without the key: %d %s", code, body)
	}
	// No model named: the first model given (the alias) serves it.
	code, body := post(`{"input":"hello world"}`, "k3y")
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var res struct {
		Model string `json:"model"`
		Data  []struct {
			Embedding []float32 `json:"embedding"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	eng, err := sie.Open(sie.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	want, err := eng.Embed(context.Background(), dense, []string{"hello world"}, sie.NoPrompt())
	if err != nil {
		t.Fatal(err)
	}
	if res.Model != "mini" {
		t.Errorf("model %q, want the alias mini (the default)", res.Model)
	}
	if d := golden.MaxAbsDiff(res.Data[0].Embedding, want[0]); d > 1e-6 {
		t.Errorf("differs from Embed by %.3g", d)
	}
	// The folder given with --model is served under its own name.
	if code, body := post(`{"input":"x","model":"`+rerank+`"}`, "k3y"); code != 400 || !strings.Contains(string(body), "dense") {
		t.Errorf("cross-encoder on /v1/embeddings: %d %s", code, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v after shutdown", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("serve did not stop")
	}
}

func TestServeFlags(t *testing.T) {
	for _, args := range [][]string{{"--alias", "nothing"}, {"--alias", "=x"}, {"extra"}} {
		if err := runServe(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("serve %v: no error", args)
		}
	}
	if got := firstModelArg([]string{"--addr", ":1", "--alias=a=x", "--model", "m"}, ""); got != "a" {
		t.Errorf("firstModelArg = %q, want a", got)
	}
	if got := firstModelArg([]string{"--model", "m", "--alias", "a=x"}, ""); got != "m" {
		t.Errorf("firstModelArg = %q, want m", got)
	}
}
