// Command siebench times sie's Embed on one batch of sentences and prints one
// JSON line in the format of tools/bench/ort_bench.js, so scripts/bench-compare.sh
// can put sie and onnxruntime-node side by side from one run.
//
//	go run ./tools/bench/siebench --model-dir DIR --sentences FILE --threads 1 [--backend go|onnx]
//
// --threads sets GOMAXPROCS (the pure-Go backend's parallelism); ONNX Runtime
// through GoMLX has no thread setting and uses its own default.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/sie-project/sie"
	"github.com/sie-project/sie/backends"
)

func main() {
	modelDir := flag.String("model-dir", "", "checkpoint directory or catalog id")
	sentencesFile := flag.String("sentences", "", "one sentence per line")
	threads := flag.Int("threads", 1, "GOMAXPROCS")
	iters := flag.Int("iters", 10, "timed iterations")
	warmup := flag.Int("warmup", 3, "untimed iterations")
	backend := flag.String("backend", "go", "go or onnx")
	_ = flag.Int("max-length", 256, "accepted for symmetry with ort_bench.js; the model's own limit applies")
	flag.Parse()
	if err := run(*modelDir, *sentencesFile, *backend, *threads, *iters, *warmup); err != nil {
		fmt.Fprintln(os.Stderr, "siebench:", err)
		os.Exit(1)
	}
}

func run(model, sentencesFile, backend string, threads, iters, warmup int) error {
	runtime.GOMAXPROCS(threads)
	f, err := os.Open(sentencesFile)
	if err != nil {
		return err
	}
	defer f.Close()
	var sentences []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			sentences = append(sentences, s)
		}
	}
	eng, err := sie.Open(sie.Options{Backend: backends.Config{Kind: backends.Kind(backend)}})
	if err != nil {
		return err
	}
	defer eng.Close()
	ctx := context.Background()
	var times []time.Duration
	for i := 0; i < warmup+iters; i++ {
		start := time.Now()
		if _, err := eng.Embed(ctx, model, sentences); err != nil {
			return err
		}
		if i >= warmup {
			times = append(times, time.Since(start))
		}
	}
	slices.Sort(times)
	median := times[len(times)/2]
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"runtime":         "sie/" + backend,
		"threads":         threads,
		"batch":           len(sentences),
		"sentences_per_s": float64(len(sentences)) / median.Seconds(),
		"median_ms":       float64(median.Microseconds()) / 1000,
		"min_ms":          float64(times[0].Microseconds()) / 1000,
	})
}
