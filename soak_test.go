package sie

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sie-project/sie/internal/golden"
)

// countingHandler counts the Engine's "model evicted" and "model loaded"
// log records.
type countingHandler struct{ evictions, loads atomic.Int64 }

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	switch r.Message {
	case "sie: model evicted":
		h.evictions.Add(1)
	case "sie: model loaded":
		h.loads.Add(1)
	}
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

// soakFigures are what a soak run reports.
type soakFigures struct {
	requests, ok, cancelled, exhausted, evictions, loads int64
	goroutinesBefore, goroutinesAfter                    int
	heapBefore, heapAfter                                uint64
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// soakDuration is 30 seconds, or SIE_SOAK_DURATION (for example 20m). The
// server's TestSoakServer runs the same traffic through HTTP for 2 minutes
// in CI; this one keeps the Engine's own part quick to check.
func soakDuration(t *testing.T) time.Duration {
	if s := os.Getenv("SIE_SOAK_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("SIE_SOAK_DURATION: %v", err)
		}
		return d
	}
	return 30 * time.Second
}

// TestSoak runs mixed traffic on three models under a memory budget that
// holds only two of them, so models are evicted and loaded again all along,
// with a share of calls cancelled at random moments. Every answer must be
// the text's own vector (computed beforehand by a separate Engine), the only
// errors allowed are the cancelled calls' own and ErrResourceExhausted when
// both resident models are busy; afterwards the goroutines and the heap in
// use must be back near where they started.
//
// -short skips it; CI runs 30 seconds; SIE_SOAK_DURATION=20m for the long form.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak: skipped with -short")
	}
	duration := soakDuration(t)
	models := []string{golden.Dir("bert-mean"), golden.Dir("bert-cls"), golden.Dir("mpnet")}
	texts := mixedTexts(24, 7)

	// Expected vectors and model sizes, from an Engine without a budget.
	want := map[string][][]float32{}
	sizes := map[string]int64{}
	func() {
		ref := openEngine(t, Options{})
		for _, m := range models {
			v, err := ref.Embed(context.Background(), m, texts)
			if err != nil {
				t.Fatal(err)
			}
			want[m] = v
			sizes[m] = ref.Stats().Models[m].Bytes
		}
		if err := ref.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	var budget, smallest int64 = 0, 1 << 62
	for _, s := range sizes {
		budget += s
		smallest = min(smallest, s)
	}
	budget -= smallest / 2 // never room for all three

	var f soakFigures
	f.goroutinesBefore, f.heapBefore = runtime.NumGoroutine(), heapInUse()

	h := &countingHandler{}
	e, err := Open(Options{CacheDir: t.TempDir(), MemoryBudget: budget, Logger: slog.New(h)})
	if err != nil {
		t.Fatal(err)
	}
	var maxUsed atomic.Int64
	stop := time.Now().Add(duration)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 99))
			for time.Now().Before(stop) {
				m := models[r.IntN(len(models))]
				n := 1 + r.IntN(4)
				idx := make([]int, n)
				batch := make([]string, n)
				for i := range idx {
					idx[i] = r.IntN(len(texts))
					batch[i] = texts[idx[i]]
				}
				ctx, cancel := context.WithCancel(context.Background())
				cancelled := r.IntN(6) == 0
				if cancelled {
					// Cancel at a random moment: before the call, while it
					// loads, waits or runs.
					time.AfterFunc(time.Duration(r.IntN(30))*time.Millisecond, cancel)
				}
				got, err := e.Embed(ctx, m, batch)
				cancel()
				atomic.AddInt64(&f.requests, 1)
				used := e.Stats().MemoryUsed
				if used > maxUsed.Load() {
					maxUsed.Store(used)
				}
				switch {
				case err == nil:
					atomic.AddInt64(&f.ok, 1)
					for i, j := range idx {
						if d := maxAbsDiff(got[i], want[m][j]); d > 1e-4 {
							report(fmt.Errorf("%s text %d: vector differs by %g (lost or crossed result)", m, j, d))
						}
					}
				case cancelled && errors.Is(err, context.Canceled):
					atomic.AddInt64(&f.cancelled, 1)
				case errors.Is(err, ErrResourceExhausted):
					atomic.AddInt64(&f.exhausted, 1)
				default:
					report(fmt.Errorf("%s: unexpected error (cancelled=%v): %v", m, cancelled, err))
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := e.Stats()
	var resident int64
	for _, m := range st.Models {
		resident += m.Bytes
	}
	if st.MemoryUsed != resident {
		t.Errorf("after the run %d bytes accounted, the resident models hold %d", st.MemoryUsed, resident)
	}
	if maxUsed.Load() > budget {
		t.Errorf("memory accounted peaked at %d, over the %d-byte budget", maxUsed.Load(), budget)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	f.evictions, f.loads = h.evictions.Load(), h.loads.Load()

	// Goroutines end with Close; give the runtime a moment to reap them.
	for range 50 {
		if f.goroutinesAfter = runtime.NumGoroutine(); f.goroutinesAfter <= f.goroutinesBefore+2 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.heapAfter = heapInUse()
	t.Logf("soak %v: %d requests (%d ok, %d cancelled, %d refused as resource exhausted), %d loads, %d evictions; "+
		"goroutines %d before, %d after; heap in use %.1f MiB before, %.1f MiB after; budget %.1f MiB, peak accounted %.1f MiB",
		duration, f.requests, f.ok, f.cancelled, f.exhausted, f.loads, f.evictions,
		f.goroutinesBefore, f.goroutinesAfter, mib(f.heapBefore), mib(f.heapAfter), mib(uint64(budget)), mib(uint64(maxUsed.Load())))
	if f.evictions == 0 {
		t.Error("no model was evicted: the budget did not force eviction")
	}
	if f.ok == 0 || f.cancelled == 0 {
		t.Errorf("%d calls answered, %d cancelled: the traffic did not mix", f.ok, f.cancelled)
	}
	// Margins: two goroutines (the runtime's own may come and go) and 64 MiB
	// of heap (allocator caches), far below one model's weights reloaded
	// per eviction, which a leak would accumulate.
	if f.goroutinesAfter > f.goroutinesBefore+2 {
		t.Errorf("goroutines: %d before, %d after Close", f.goroutinesBefore, f.goroutinesAfter)
	}
	if f.heapAfter > f.heapBefore+64<<20 {
		t.Errorf("heap in use: %.1f MiB before, %.1f MiB after Close", mib(f.heapBefore), mib(f.heapAfter))
	}
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
