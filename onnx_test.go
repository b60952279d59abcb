//go:build onnx

package sie

import (
	"context"
	"os"
	"testing"

	"github.com/sie-project/sie/backends"
	"github.com/sie-project/sie/internal/golden"
)

// TestONNXMatchesGo runs the same inputs on the pure-Go and ONNX Runtime
// backends: they must agree within 1e-5, and both match upstream.
func TestONNXMatchesGo(t *testing.T) {
	if os.Getenv(backends.EnvONNXLibrary) == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("ONNXRUNTIME_SHARED_LIBRARY_PATH is not set: run the test set-up (scripts/test.sh)")
		}
		t.Skip("ONNXRUNTIME_SHARED_LIBRARY_PATH not set")
	}
	goEng := openEngine(t, Options{Backend: backends.Config{Kind: backends.Go}})
	ortEng := openEngine(t, Options{Backend: backends.Config{Kind: backends.ONNX}})
	models := []string{golden.Dir("bert-mean"), golden.Dir("bert-cls")}
	if os.Getenv("SIE_MINILM_DIR") != "" {
		models = append(models, minilmDir(t))
	}
	texts := append(mixedTexts(24, 11), "", "Café naïve 東京", "This is an example sentence")
	for _, m := range models {
		a, err := goEng.Embed(context.Background(), m, texts)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ortEng.Embed(context.Background(), m, texts)
		if err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for i := range texts {
			d := golden.MaxAbsDiff(a[i], b[i])
			worst = max(worst, d)
			if d > 1e-5 {
				t.Errorf("%s text %d: go vs onnx max abs diff %.3g > 1e-5", m, i, d)
			}
		}
		t.Logf("%s: go vs onnx max abs diff %.3g over %d texts", m, worst, len(texts))
	}
}

// TestONNXFixtures runs the upstream fixtures on ONNX Runtime.
func TestONNXFixtures(t *testing.T) {
	if os.Getenv(backends.EnvONNXLibrary) == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("ONNXRUNTIME_SHARED_LIBRARY_PATH is not set: run the test set-up (scripts/test.sh)")
		}
		t.Skip("ONNXRUNTIME_SHARED_LIBRARY_PATH not set")
	}
	e := openEngine(t, Options{Backend: backends.Config{Kind: backends.ONNX}})
	for _, name := range wordPieceFixtures {
		c, err := golden.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		var want [][]float32
		if err := c.Output("embedding", &want); err != nil {
			t.Fatal(err)
		}
		texts, opts := fixtureTexts(c)
		for i, text := range texts {
			got, err := e.Embed(context.Background(), c.Dir, []string{text}, opts[i]...)
			if err != nil {
				t.Fatal(err)
			}
			checkEmbedding(t, i, got[0], want[i])
		}
	}
}
