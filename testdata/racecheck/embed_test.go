// Package racecheck stands in for a Go service that imports sie: its test
// embeds from several goroutines and must pass under `go test -race ./...`
// with no extra flags or environment (scripts/test.sh runs it so in CI).
package racecheck

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"sync"
	"testing"

	"github.com/sie-project/sie"
)

const model = "../fixtures/bert-mean"

// golden reads the upstream sentence-transformers vectors of the fixture.
func golden(t *testing.T) (texts []string, want [][]float32) {
	t.Helper()
	raw, err := os.ReadFile(model + "/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Inputs []struct {
			Text string `json:"text"`
		} `json:"inputs"`
		Outputs struct {
			Embedding [][]float32 `json:"embedding"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	for i, in := range g.Inputs[:4] {
		texts = append(texts, in.Text)
		want = append(want, g.Outputs.Embedding[i])
	}
	return texts, want
}

// TestEmbedUnderRace embeds from several goroutines at once, as a service's
// handler tests would, on the default backend, and checks every vector
// against the upstream one within the fixture tolerance.
func TestEmbedUnderRace(t *testing.T) {
	texts, want := golden(t)
	eng, err := sie.Open(sie.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lo := g % len(texts)
			got, err := eng.Embed(context.Background(), model, texts[lo:])
			if err != nil {
				t.Error(err)
				return
			}
			for i, v := range got {
				if d := maxDiff(v, want[lo+i]); d > 1e-5 {
					t.Errorf("goroutine %d, text %q: max |Δ| %g against upstream (first values %v vs %v)",
						g, texts[lo+i], d, v[:3], want[lo+i][:3])
				}
			}
		}()
	}
	wg.Wait()
}

func maxDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var m float64
	for i := range a {
		m = max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}
