package sie

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
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

// BenchmarkEngine drives all-MiniLM-L6-v2 from 1, 8 and 64 goroutines, each
// sending 4 mixed-length texts per call, with packing on and off, and
// reports throughput and the padding fraction of the device batches.
func BenchmarkEngine(b *testing.B) {
	dir := minilmDir(b)
	texts := mixedTexts(512, 42)
	for _, packing := range []bool{true, false} {
		for _, conc := range []int{1, 8, 64} {
			b.Run(fmt.Sprintf("packing=%v/concurrency=%d", packing, conc), func(b *testing.B) {
				e := openEngine(b, Options{DisablePacking: !packing})
				ctx := context.Background()
				if _, err := e.Embed(ctx, dir, texts[:64]); err != nil {
					b.Fatal(err)
				}
				before := e.Stats().Models[dir]
				var next atomic.Int64
				b.ResetTimer()
				var wg sync.WaitGroup
				for g := 0; g < conc; g++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							i := int(next.Add(1)) - 1
							if i >= b.N {
								return
							}
							lo := (i * 4) % (len(texts) - 4)
							if _, err := e.Embed(ctx, dir, texts[lo:lo+4]); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				after := e.Stats().Models[dir]
				b.ReportMetric(float64(4*b.N)/b.Elapsed().Seconds(), "texts/s")
				if padded := after.PaddedTokens - before.PaddedTokens; padded > 0 {
					b.ReportMetric(1-float64(after.Tokens-before.Tokens)/float64(padded), "padding")
				}
				b.ReportMetric(float64(after.Rows-before.Rows)/float64(max(1, after.Batches-before.Batches)), "rows/batch")
			})
		}
	}
}
