package sie

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
)

// benchSentences reads the 64 sentences scripts/bench-compare.sh also gives
// onnxruntime-node.
func benchSentences(b *testing.B) []string {
	f, err := os.Open("tools/bench/sentences.txt")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var s []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if t := strings.TrimSpace(sc.Text()); t != "" {
			s = append(s, t)
		}
	}
	return s
}

// BenchmarkEmbed times Embed on the real all-MiniLM-L6-v2 with batches of
// 1, 8 and 64 sentences and reports sentences/s. Run with the test set-up's
// environment (scripts/test.sh prints it) and GOEXPERIMENT=simd; for the side
// by side comparison with onnxruntime-node see scripts/bench-compare.sh.
func BenchmarkEmbed(b *testing.B) {
	dir := minilmDir(b)
	sentences := benchSentences(b)
	e := openEngine(b, Options{})
	ctx := context.Background()
	for _, n := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("all-MiniLM-L6-v2/batch=%d", n), func(b *testing.B) {
			batch := sentences[:n]
			if _, err := e.Embed(ctx, dir, batch); err != nil { // compile outside the timing
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := e.Embed(ctx, dir, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "sentences/s")
		})
	}
}
