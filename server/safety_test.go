package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sie-project/sie"
	"github.com/sie-project/sie/internal/golden"
	"github.com/sie-project/sie/internal/testhook"
)

// setRunHook installs testhook.Run for the test; call it before the Engine
// opens (and the cleanup runs after the Engine closes).
func setRunHook(t *testing.T, f func(string)) {
	testhook.Run = f
	t.Cleanup(func() { testhook.Run = nil })
}

// embedVectors posts texts to /v1/embeddings on url and returns the status
// and, on 200, the vectors in input order.
func embedVectors(ctx context.Context, c *http.Client, url, model string, texts []string) (int, [][]float32, error) {
	body, _ := json.Marshal(map[string]any{"model": model, "input": texts})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/embeddings", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil, fmt.Errorf("%d: %s", resp.StatusCode, data)
	}
	var r struct {
		Data []struct {
			Index     int       `json:"index"`
			Embedding []float32 `json:"embedding"`
		} `json:"data"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return resp.StatusCode, nil, err
	}
	out := make([][]float32, len(texts))
	for _, d := range r.Data {
		if d.Index < 0 || d.Index >= len(out) {
			return resp.StatusCode, nil, fmt.Errorf("index %d out of range", d.Index)
		}
		out[d.Index] = d.Embedding
	}
	return resp.StatusCode, out, nil
}

// TestPanicIs500: a panic injected while the Engine runs a batch answers
// that request 500 in its API's envelope; the next request for the same
// model and requests for other models are answered 200. CI runs it under
// -race.
func TestPanicIs500(t *testing.T) {
	sick := golden.Dir("bert-mean")
	var armed atomic.Int32
	setRunHook(t, func(model string) {
		if model == sick && armed.Add(-1) >= 0 {
			panic("injected failure")
		}
	})
	eng, err := sie.Open(sie.Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	s := New(eng, Options{Aliases: map[string]string{"sick": sick, "healthy": golden.Dir("bert-cls")}})
	waitReady(t, s)
	srv := httptest.NewServer(s)
	defer srv.Close()
	ctx := context.Background()

	armed.Store(1)
	code, _, err := embedVectors(ctx, srv.Client(), srv.URL, "sick", []string{"hello"})
	if code != http.StatusInternalServerError || !strings.Contains(fmt.Sprint(err), "injected failure") {
		t.Fatalf("request hit by the panic: %d %v; want 500 naming the failure", code, err)
	}
	for _, model := range []string{"sick", "healthy", "sick"} {
		if code, _, err := embedVectors(ctx, srv.Client(), srv.URL, model, []string{"hello"}); code != http.StatusOK {
			t.Fatalf("%s after the panic: %d %v", model, code, err)
		}
	}
}

type evictionCounter struct{ evictions atomic.Int64 }

func (h *evictionCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h *evictionCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "sie: model evicted" {
		h.evictions.Add(1)
	}
	return nil
}
func (h *evictionCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *evictionCounter) WithGroup(string) slog.Handler      { return h }

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestSoakServer sends mixed traffic through the server on loopback to three
// models under a memory budget that holds two, so that models are evicted
// and reloaded all along, while clients cancel a share of their requests at
// random moments (the connection is dropped mid-request). Every 200 must
// carry the texts' own vectors (from a separate Engine), the only other
// outcomes allowed are the cancelled requests' own and 503 when both
// resident models are busy; afterwards goroutines and heap in use must be
// back near where they started.
//
// -short skips it; CI runs 2 minutes; SIE_SOAK_DURATION=20m for the long form.
func TestSoakServer(t *testing.T) {
	if testing.Short() {
		t.Skip("soak: skipped with -short")
	}
	duration := 2 * time.Minute
	if s := os.Getenv("SIE_SOAK_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("SIE_SOAK_DURATION: %v", err)
		}
		duration = d
	}
	models := map[string]string{"a": golden.Dir("bert-mean"), "b": golden.Dir("bert-cls"), "c": golden.Dir("mpnet")}
	names := []string{"a", "b", "c"}
	words := strings.Fields("the quick brown fox jumps over a lazy dog while engineers measure embeddings café 東京 résumé")
	texts := make([]string, 24)
	r0 := rand.New(rand.NewPCG(1, 2))
	for i := range texts {
		// Short and longer texts, all within the fixtures' 64 positions
		// (the OpenAI route refuses longer inputs, as OpenAI does).
		n := 1 + r0.IntN(8)
		if i%7 == 3 {
			n = 12 + r0.IntN(8)
		}
		var sb strings.Builder
		for j := range n {
			if j > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(words[r0.IntN(len(words))])
		}
		texts[i] = sb.String()
	}

	// Expected vectors (as the OpenAI route embeds: no prompt) and sizes.
	want := map[string][][]float32{}
	var budget, smallest int64 = 0, 1 << 62
	func() {
		ref, err := sie.Open(sie.Options{CacheDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer ref.Close()
		for _, n := range names {
			v, err := ref.Embed(context.Background(), models[n], texts, sie.NoPrompt())
			if err != nil {
				t.Fatal(err)
			}
			want[n] = v
			size := ref.Stats().Models[models[n]].Bytes
			budget += size
			smallest = min(smallest, size)
		}
	}()
	budget -= smallest / 2 // never room for all three

	goroutinesBefore, heapBefore := runtime.NumGoroutine(), heapInUse()
	h := &evictionCounter{}
	eng, err := sie.Open(sie.Options{CacheDir: t.TempDir(), MemoryBudget: budget, Logger: slog.New(h)})
	if err != nil {
		t.Fatal(err)
	}
	s := New(eng, Options{Aliases: models})
	waitReady(t, s)
	srv := httptest.NewServer(s)
	client := &http.Client{Transport: &http.Transport{}}

	var requests, ok, cancelled, unavailable atomic.Int64
	errs := make(chan error, 64)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	stop := time.Now().Add(duration)
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for time.Now().Before(stop) {
				m := names[r.IntN(len(names))]
				idx := make([]int, 1+r.IntN(4))
				batch := make([]string, len(idx))
				for i := range idx {
					idx[i] = r.IntN(len(texts))
					batch[i] = texts[idx[i]]
				}
				ctx, cancel := context.WithCancel(context.Background())
				cancelling := r.IntN(6) == 0
				if cancelling {
					time.AfterFunc(time.Duration(r.IntN(30))*time.Millisecond, cancel)
				}
				code, got, err := embedVectors(ctx, client, srv.URL, m, batch)
				cancel()
				requests.Add(1)
				switch {
				case code == http.StatusOK && err == nil:
					ok.Add(1)
					for i, j := range idx {
						if d := maxDiff(got[i], want[m][j]); d > 1e-4 {
							report(fmt.Errorf("%s text %d: vector differs by %g (lost or crossed result)", m, j, d))
						}
					}
				case cancelling && errors.Is(err, context.Canceled):
					cancelled.Add(1)
				case code == http.StatusServiceUnavailable && strings.Contains(err.Error(), "resource exhausted"):
					unavailable.Add(1)
				default:
					report(fmt.Errorf("%s: unexpected answer (cancelled=%v): %d %v", m, cancelling, code, err))
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	client.CloseIdleConnections()
	srv.Close()
	st := eng.Stats()
	var resident int64
	for _, m := range st.Models {
		resident += m.Bytes
	}
	if st.MemoryUsed != resident || st.MemoryUsed > budget {
		t.Errorf("after the run %d bytes accounted, resident models hold %d, budget %d", st.MemoryUsed, resident, budget)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	var goroutinesAfter int
	for range 100 {
		if goroutinesAfter = runtime.NumGoroutine(); goroutinesAfter <= goroutinesBefore+2 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	heapAfter := heapInUse()
	mib := func(b uint64) float64 { return float64(b) / (1 << 20) }
	t.Logf("soak through the server %v: %d requests (%d ok, %d cancelled by the client, %d answered 503 resource exhausted), %d evictions; "+
		"goroutines %d before, %d after; heap in use %.1f MiB before, %.1f MiB after; budget %.1f MiB",
		duration, requests.Load(), ok.Load(), cancelled.Load(), unavailable.Load(), h.evictions.Load(),
		goroutinesBefore, goroutinesAfter, mib(heapBefore), mib(heapAfter), mib(uint64(budget)))
	if h.evictions.Load() == 0 {
		t.Error("no model was evicted: the budget did not force eviction")
	}
	if ok.Load() == 0 || cancelled.Load() == 0 {
		t.Errorf("%d answered, %d cancelled: the traffic did not mix", ok.Load(), cancelled.Load())
	}
	// Margins: two goroutines, 64 MiB of heap (allocator caches) — far
	// below what a leak of one reloaded model per eviction would add.
	if goroutinesAfter > goroutinesBefore+2 {
		t.Errorf("goroutines: %d before, %d after", goroutinesBefore, goroutinesAfter)
	}
	if heapAfter > heapBefore+64<<20 {
		t.Errorf("heap in use: %.1f MiB before, %.1f MiB after", mib(heapBefore), mib(heapAfter))
	}
}

func maxDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}
