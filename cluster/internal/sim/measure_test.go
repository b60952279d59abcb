package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sie-project/sie"
)

// TestMeasureLatency measures the single-node batch latencies the
// simulation is fed with and writes testdata/latency.json. It runs only when
// asked, on the real all-MiniLM-L6-v2 (scripts/setup-test-deps.sh sets
// SIE_MINILM_DIR):
//
//	SIE_SIM_MEASURE=1 GOEXPERIMENT=simd go test -run TestMeasureLatency ./internal/sim/
func TestMeasureLatency(t *testing.T) {
	dir := os.Getenv("SIE_MINILM_DIR")
	if os.Getenv("SIE_SIM_MEASURE") == "" || dir == "" {
		t.Skip("a measurement, not a test: set SIE_SIM_MEASURE=1 and SIE_MINILM_DIR")
	}
	eng, err := sie.Open(sie.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ctx := context.Background()
	// About 16 tokens per text, like a short passage or a query.
	text := "Workers pull embedding requests from a JetStream lane and answer them quickly."
	toks, err := eng.Tokenize(ctx, dir, []string{text})
	if err != nil {
		t.Fatal(err)
	}
	lat := Latency{Model: "sentence-transformers/all-MiniLM-L6-v2", Tokens: len(toks[0]), Batches: map[string]float64{}}
	sizes := []int{1, 8, 32, 64, 128}
	for _, n := range sizes {
		texts := make([]string, n)
		for i := range texts {
			texts[i] = fmt.Sprintf("%s (%d)", text, i)
		}
		if _, err := eng.Embed(ctx, dir, texts); err != nil { // compile this shape first
			t.Fatal(err)
		}
		var runs []time.Duration
		for range 5 {
			start := time.Now()
			if _, err := eng.Embed(ctx, dir, texts); err != nil {
				t.Fatal(err)
			}
			runs = append(runs, time.Since(start))
		}
		sort.Slice(runs, func(i, j int) bool { return runs[i] < runs[j] })
		lat.Batches[fmt.Sprint(n)] = float64(runs[len(runs)/2].Microseconds()) / 1000
		t.Logf("batch %d: median %s of %v", n, runs[len(runs)/2], runs)
	}
	host, _ := os.Hostname()
	cpu := "no AVX-512"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil && strings.Contains(string(b), "avx512f") {
		cpu = "AVX-512"
	}
	lat.Source = fmt.Sprintf("TestMeasureLatency (cluster/internal/sim/measure_test.go), %s, %s backend, GOEXPERIMENT=simd, %d CPUs (%s), %s, median of 5 Engine.Embed calls per batch size, measured %s on %s",
		runtime.Version(), eng.Backend(), runtime.NumCPU(), cpu, runtime.GOARCH, time.Now().UTC().Format("2006-01-02"), host)
	b, err := json.MarshalIndent(lat, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("testdata/latency.json", append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
