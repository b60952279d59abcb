// Command siebench times sie for scripts/bench-compare.sh, so sie and
// onnxruntime-node (tools/bench/ort_bench.js) are put side by side from one run.
//
// Matrix mode (one workload, one JSON line in the matrix format):
//
//	siebench --workload a|b|c|d|e --texts FILE --model DIR --model-name NAME \
//	         --backend go|onnx --threads N [--cpu "..."] [--mem-out FILE]
//
// Workloads: a, b, c embed every text of FILE in one call per iteration
// (64 short sentences; 64 texts of 128 tokens; 16 texts of 512 tokens);
// d embeds one text per call, one call at a time (latency p50/p99); e sends
// the mixed-length stream 4 texts per call from 8 goroutines at once.
//
// Workload files: siebench --emit-workloads DIR --tokenizer tokenizer.json
// --sentences FILE writes a.txt … e.txt, one text per line.
//
// Cold start (--cold --model DIR --texts e.txt): Open → first vector of one
// text, a second call, then the compiles and time of two passes of the stream.
//
// Legacy mode (no --workload): one batch of --sentences with --model-dir,
// printing the older {"runtime":"sie/<backend>","sentences_per_s",…} line.
//
// --threads sets GOMAXPROCS (the pure-Go backend's parallelism). ONNX Runtime
// under GoMLX has no thread option: the script runs the ONNX rows under
// taskset, which ONNX Runtime's default thread pool follows.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sie-project/sie"
	"github.com/sie-project/sie/backends"
)

func main() {
	modelDir := flag.String("model-dir", "", "legacy mode: checkpoint directory or catalog id")
	sentencesFile := flag.String("sentences", "", "one sentence per line")
	threads := flag.Int("threads", 1, "GOMAXPROCS")
	iters := flag.Int("iters", 10, "legacy mode: timed iterations; matrix mode: the most timed iterations")
	warmup := flag.Int("warmup", 3, "legacy mode: untimed iterations (matrix mode: one warm-up pass)")
	backend := flag.String("backend", "go", "go or onnx")
	_ = flag.Int("max-length", 256, "accepted for symmetry with ort_bench.js; the model's own limit applies")

	workload := flag.String("workload", "", "matrix mode: a, b, c, d or e")
	texts := flag.String("texts", "", "matrix mode: the workload's texts, one per line")
	model := flag.String("model", "", "matrix mode: checkpoint directory or catalog id")
	modelName := flag.String("model-name", "", "matrix mode: the model's name in the JSON line")
	cpu := flag.String("cpu", "", "matrix mode: the cpu field of the JSON line")
	minTime := flag.Duration("min-time", 5*time.Second, "matrix mode: time each workload at least this long")
	memOut := flag.String("mem-out", "", "matrix mode: append a peak-RSS JSON line to this file")
	precision := flag.String("precision", "", "matrix mode: weight precision (float32, bfloat16, float16)")

	cold := flag.Bool("cold", false, "measure cold start: Open to first vector, then the compiles as --texts fills the grid")
	emit := flag.String("emit-workloads", "", "write the workload files a.txt … e.txt to this folder and exit")
	tokenizerFile := flag.String("tokenizer", "", "with --emit-workloads: tokenizer.json used to size the texts")
	flag.Parse()

	var err error
	switch {
	case *cold:
		err = coldStart(*model, *modelName, *backend, *texts, *threads)
	case *emit != "":
		err = emitWorkloads(*emit, *tokenizerFile, *sentencesFile)
	case *workload != "":
		err = runMatrix(matrixRun{
			workload: *workload, texts: *texts, model: *model, modelName: *modelName, backend: *backend,
			threads: *threads, cpu: *cpu, minTime: *minTime, maxIters: *iters, memOut: *memOut, precision: *precision,
		})
	default:
		err = run(*modelDir, *sentencesFile, *backend, *threads, *iters, *warmup)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "siebench:", err)
		os.Exit(1)
	}
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			lines = append(lines, s)
		}
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("%s: no texts", path)
	}
	return lines, sc.Err()
}

func run(model, sentencesFile, backend string, threads, iters, warmup int) error {
	runtime.GOMAXPROCS(threads)
	sentences, err := readLines(sentencesFile)
	if err != nil {
		return err
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

type matrixRun struct {
	workload, texts, model, modelName, backend, cpu, memOut, precision string
	threads, maxIters                                                  int
	minTime                                                            time.Duration
}

// result is one line of the matrix; zero fields are omitted.
type result struct {
	Runtime    string  `json:"runtime"`
	Backend    string  `json:"backend,omitempty"`
	Threads    int     `json:"threads"`
	Model      string  `json:"model"`
	Workload   string  `json:"workload"`
	ItemsPerS  float64 `json:"items_per_s,omitempty"`
	TokensPerS float64 `json:"tokens_per_s,omitempty"`
	P50ms      float64 `json:"p50_ms,omitempty"`
	P99ms      float64 `json:"p99_ms,omitempty"`
	CPU        string  `json:"cpu,omitempty"`
}

func runMatrix(r matrixRun) error {
	runtime.GOMAXPROCS(r.threads)
	texts, err := readLines(r.texts)
	if err != nil {
		return err
	}
	prec, err := sie.ParsePrecision(r.precision)
	if err != nil {
		return err
	}
	eng, err := sie.Open(sie.Options{Backend: backends.Config{Kind: backends.Kind(r.backend)}, Precision: prec})
	if err != nil {
		return err
	}
	defer eng.Close()
	ctx := context.Background()
	tokens := func() int64 { return eng.Stats().Models[r.model].Tokens }

	// pass runs the workload once and returns the latency of each call.
	var pass func() ([]time.Duration, error)
	switch r.workload {
	case "a", "b", "c", "f":
		pass = func() ([]time.Duration, error) {
			start := time.Now()
			_, err := eng.Embed(ctx, r.model, texts)
			return []time.Duration{time.Since(start)}, err
		}
	case "d":
		pass = func() ([]time.Duration, error) {
			lat := make([]time.Duration, 0, len(texts))
			for _, t := range texts {
				start := time.Now()
				if _, err := eng.Embed(ctx, r.model, []string{t}); err != nil {
					return nil, err
				}
				lat = append(lat, time.Since(start))
			}
			return lat, nil
		}
	case "e":
		pass = func() ([]time.Duration, error) { return stream(ctx, eng, r.model, texts, 4, 8) }
	default:
		return fmt.Errorf("unknown workload %q (want a, b, c, d, e or f)", r.workload)
	}

	if _, err := pass(); err != nil { // load, compile and warm up outside the timing
		return err
	}
	var lat []time.Duration
	var elapsed time.Duration
	items, tok0 := 0, tokens()
	for it := 0; it < max(1, r.maxIters) && (it < 2 || elapsed < r.minTime); it++ {
		start := time.Now()
		l, err := pass()
		if err != nil {
			return err
		}
		elapsed += time.Since(start)
		lat = append(lat, l...)
		items += len(texts)
	}
	backend := r.backend
	if prec != sie.Float32Weights {
		backend += "/" + prec.String() // weights in reduced precision
	}
	res := result{
		Runtime: "sie", Backend: backend, Threads: r.threads, Model: r.modelName, Workload: r.workload,
		ItemsPerS:  round(float64(items) / elapsed.Seconds()),
		TokensPerS: round(float64(tokens()-tok0) / elapsed.Seconds()),
		P50ms:      round(ms(percentile(lat, 0.50))),
		CPU:        r.cpu,
	}
	if r.workload == "d" || r.workload == "e" {
		res.P99ms = round(ms(percentile(lat, 0.99)))
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		return err
	}
	if r.memOut != "" {
		return appendMemory(r, eng)
	}
	return nil
}

// stream sends texts in calls of per texts from conc goroutines at once and
// returns each call's latency.
func stream(ctx context.Context, eng *sie.Engine, model string, texts []string, per, conc int) ([]time.Duration, error) {
	calls := (len(texts) + per - 1) / per
	lat := make([]time.Duration, calls)
	errs := make(chan error, conc)
	next := make(chan int)
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				start := time.Now()
				if _, err := eng.Embed(ctx, model, texts[i*per:min(len(texts), (i+1)*per)]); err != nil {
					errs <- err
					return
				}
				lat[i] = time.Since(start)
			}
		}()
	}
	for i := range calls {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
		return lat, nil
	}
}

// appendMemory records the process's peak RSS next to the model's weight bytes.
func appendMemory(r matrixRun, eng *sie.Engine) error {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return err
	}
	var weights int64
	files, _ := filepath.Glob(filepath.Join(r.model, "*.safetensors"))
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			weights += fi.Size()
		}
	}
	f, err := os.OpenFile(r.memOut, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	return json.NewEncoder(f).Encode(map[string]any{
		"runtime": "sie", "backend": r.backend, "threads": r.threads, "model": r.modelName,
		"workload": r.workload, "peak_rss_mb": round(float64(ru.Maxrss) / 1024),
		"weights_mb": round(float64(weights) / (1 << 20)), "engine_bytes_mb": round(float64(eng.Stats().MemoryUsed) / (1 << 20)),
	})
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

func round(x float64) float64 { return math.Round(x*100) / 100 }
