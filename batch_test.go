package sie

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math/rand/v2"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sie-project/sie/internal/golden"
)

// goldenSequences returns a fixture's recorded token ids as sequences.
func goldenSequences(t *testing.T, name string) (*golden.Case, []sequence) {
	t.Helper()
	c, blocks := fixtureBlocks(t, name)
	var seqs []sequence
	for _, in := range blocks[0].inputs {
		var s sequence
		for j, id := range in.InputIDs {
			if in.AttentionMask[j] == 1 {
				s.ids = append(s.ids, int32(id))
				tt := int32(0)
				if in.TokenTypeIDs != nil {
					tt = int32(in.TokenTypeIDs[j])
				}
				s.types = append(s.types, tt)
			}
		}
		seqs = append(seqs, s)
	}
	return c, seqs
}

// TestPackingChangesNothing: for every architecture with a fixture, each
// text's vector is the same alone, padded to a larger bucket, and packed
// with other texts into shared rows.
func TestPackingChangesNothing(t *testing.T) {
	e := openEngine(t, Options{})
	names := append(slices.Clone(wordPieceFixtures), "xlmr", "modernbert", "qwen2", "qwen3", "bert-rerank", "xlmr-rerank")
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			c, seqs := goldenSequences(t, name)
			l, err := e.model(context.Background(), c.Dir)
			if err != nil {
				t.Fatal(err)
			}
			m := l.m
			out := m.outputs
			vec := func(r result) []float32 {
				if out == outScore {
					return r.logits
				}
				return r.dense
			}
			alone := make([][]float32, len(seqs))
			for i, s := range seqs {
				res, err := m.run(out, m.pack([]sequence{s}))
				if err != nil {
					t.Fatal(err)
				}
				alone[i] = vec(res[0])
			}
			// Bucketed: one per row, with a filler row at the model's maximum
			// length so every row is padded well beyond its text.
			filler := sequence{ids: make([]int32, m.maxLen), types: make([]int32, m.maxLen)}
			for i := range filler.ids {
				filler.ids[i] = seqs[0].ids[i%len(seqs[0].ids)]
			}
			longer := m.layout(append(slices.Clone(seqs), filler), rowsOf(len(seqs)+1, 1))
			// Packed: three sequences per row, in reverse order so segment
			// numbers and offsets differ from the single runs.
			rows := [][]int{}
			for i := len(seqs) - 1; i >= 0; i -= 3 {
				row := []int{i}
				if i-1 >= 0 {
					row = append(row, i-1)
				}
				if i-2 >= 0 {
					row = append(row, i-2)
				}
				rows = append(rows, row)
			}
			packed := m.layout(seqs, rows)
			if packed.slots < 2 {
				t.Fatalf("layout did not pack: %d slots", packed.slots)
			}
			worst := 0.0
			for label, b := range map[string]*deviceBatch{"bucketed": longer, "packed": packed} {
				res, err := m.run(out, b)
				if err != nil {
					t.Fatal(err)
				}
				for i := range seqs {
					d := golden.MaxAbsDiff(vec(res[i]), alone[i])
					worst = max(worst, d)
					if d > 1e-5 {
						t.Errorf("%s text %d: max abs diff %.3g vs alone > 1e-5", label, i, d)
					}
				}
			}
			t.Logf("%s: max abs diff alone vs bucketed/packed %.3g", name, worst)
		})
	}
}

// rowsOf puts n sequences k per row.
func rowsOf(n, k int) [][]int {
	var rows [][]int
	for i := 0; i < n; i += k {
		var row []int
		for j := i; j < min(n, i+k); j++ {
			row = append(row, j)
		}
		rows = append(rows, row)
	}
	return rows
}

// TestPlannerPacksAndRestoresOrder: one large request is split by length,
// packed, and comes back in input order, equal to each text alone.
func TestPlannerPacksAndRestoresOrder(t *testing.T) {
	for _, packing := range []bool{true, false} {
		t.Run(fmt.Sprintf("packing=%v", packing), func(t *testing.T) {
			e := openEngine(t, Options{DisablePacking: !packing, MaxBatchTokens: 512})
			dir := golden.Dir("bert-mean")
			texts := mixedTexts(100, 9)
			got, err := e.Embed(context.Background(), dir, texts)
			if err != nil {
				t.Fatal(err)
			}
			st := e.Stats().Models[dir]
			for i, text := range texts {
				want, err := e.Embed(context.Background(), dir, []string{text})
				if err != nil {
					t.Fatal(err)
				}
				if d := golden.MaxAbsDiff(got[i], want[0]); d > 1e-5 {
					t.Fatalf("text %d: %.3g", i, d)
				}
			}
			if st.Batches < 2 {
				t.Errorf("a 100-text request under a 512-token budget ran in %d batch(es)", st.Batches)
			}
			if packing && st.PaddingFraction >= 0.5 {
				t.Errorf("packing on: padding fraction %.2f", st.PaddingFraction)
			}
			t.Logf("batches %d, rows %d, tokens %d, padded %d, padding fraction %.3f, compiles %d",
				st.Batches, st.Rows, st.Tokens, st.PaddedTokens, st.PaddingFraction, st.Compiles)
		})
	}
}

// TestStress: 64 goroutines on 3 models with random lengths and random
// cancellations. No result is lost, duplicated or crossed; each equals the
// text's single-call vector; no goroutine outlives Close.
func TestStress(t *testing.T) {
	base := runtime.NumGoroutine()
	e, err := Open(Options{CacheDir: t.TempDir(), MaxBatchTokens: 2048})
	if err != nil {
		t.Fatal(err)
	}
	models := []string{golden.Dir("bert-mean"), golden.Dir("bert-cls"), golden.Dir("mpnet")}
	texts := mixedTexts(40, 21)
	want := map[string][][]float32{}
	for _, m := range models {
		v, err := e.Embed(context.Background(), m, texts)
		if err != nil {
			t.Fatal(err)
		}
		want[m] = v
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	cancelled, answered := 0, 0
	for g := 0; g < 64; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 2))
			for k := 0; k < 6; k++ {
				m := models[r.IntN(len(models))]
				n := 1 + r.IntN(5)
				idx := make([]int, n)
				batch := make([]string, n)
				for i := range idx {
					idx[i] = r.IntN(len(texts))
					batch[i] = texts[idx[i]]
				}
				ctx, cancel := context.WithCancel(context.Background())
				if r.IntN(4) == 0 {
					go func() {
						time.Sleep(time.Duration(r.IntN(3000)) * time.Microsecond)
						cancel()
					}()
				}
				got, err := e.Embed(ctx, m, batch)
				cancel()
				mu.Lock()
				switch {
				case errors.Is(err, context.Canceled):
					cancelled++
				case err != nil:
					failures = append(failures, err.Error())
				case len(got) != n:
					failures = append(failures, fmt.Sprintf("%d results for %d texts", len(got), n))
				default:
					answered++
					for i := range got {
						if d := golden.MaxAbsDiff(got[i], want[m][idx[i]]); d > 1e-5 {
							failures = append(failures, fmt.Sprintf("goroutine %d: text %d of %s differs by %.3g", g, idx[i], m, d))
						}
					}
				}
				mu.Unlock()
			}
		}(g)
	}
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	t.Logf("%d calls answered, %d cancelled", answered, cancelled)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines after Close, %d before Open:\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
}

// TestMemoryBudget: with room for two of three models, round-robin use
// evicts and reloads; a model in use is never evicted; a model larger than
// the whole budget is refused.
func TestMemoryBudget(t *testing.T) {
	ctx := context.Background()
	models := []string{golden.Dir("bert-mean"), golden.Dir("bert-cls"), golden.Dir("mpnet")}
	probe := openEngine(t, Options{MaxBatchTokens: 256})
	var sizes []int64
	for _, m := range models {
		if err := probe.Load(ctx, m); err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, probe.Stats().Models[m].Bytes)
	}
	sorted := slices.Clone(sizes)
	slices.Sort(sorted)
	budget := sorted[1] + sorted[2] + sorted[0]/2 // any two fit, never three
	e := openEngine(t, Options{MaxBatchTokens: 256, MemoryBudget: budget})
	texts := []string{"memory budget", "round robin"}
	want := map[string][][]float32{}
	for round := 0; round < 3; round++ {
		for _, m := range models {
			got, err := e.Embed(ctx, m, texts)
			if err != nil {
				t.Fatal(err)
			}
			if w, ok := want[m]; ok {
				for i := range got {
					if d := golden.MaxAbsDiff(got[i], w[i]); d > 0 {
						t.Fatalf("%s after reload differs by %.3g", m, d)
					}
				}
			}
			want[m] = got
			st := e.Stats()
			if len(st.Models) > 2 || st.MemoryUsed > budget {
				t.Fatalf("%d models loaded, %d of %d bytes", len(st.Models), st.MemoryUsed, budget)
			}
		}
	}
	// Hold model 0 in use: loading the other two must evict each other, never it.
	held, err := e.acquire(ctx, models[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{models[1], models[2], models[1]} {
		if _, err := e.Embed(ctx, m, texts); err != nil {
			t.Fatal(err)
		}
		if _, ok := e.Stats().Models[models[0]]; !ok {
			t.Fatalf("model in use was evicted while loading %s", m)
		}
	}
	// Two models in use: the third cannot be loaded.
	held2, err := e.acquire(ctx, models[1])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Embed(ctx, models[2], texts); !errors.Is(err, ErrResourceExhausted) {
		t.Fatalf("third model with two in use: got %v, want ErrResourceExhausted", err)
	}
	e.release(held)
	e.release(held2)
	if _, err := e.Embed(ctx, models[2], texts); err != nil {
		t.Fatalf("after release: %v", err)
	}
	// Larger than the whole budget.
	small := openEngine(t, Options{MaxBatchTokens: 256, MemoryBudget: sorted[0] / 2})
	if _, err := small.Embed(ctx, models[0], texts); !errors.Is(err, ErrResourceExhausted) {
		t.Fatalf("model larger than the budget: got %v, want ErrResourceExhausted", err)
	}
}

func TestOverloaded(t *testing.T) {
	e := openEngine(t, Options{QueueSize: 1, MaxBatchTokens: 64})
	dir := golden.Dir("bert-mean")
	if err := e.Load(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	texts := mixedTexts(64, 4)
	var wg sync.WaitGroup
	var mu sync.Mutex
	overloaded, ok := 0, 0
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.Embed(context.Background(), dir, texts)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, ErrOverloaded):
				overloaded++
			case err == nil:
				ok++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if overloaded == 0 || ok == 0 {
		t.Fatalf("%d answered, %d overloaded: want both", ok, overloaded)
	}
	if st := e.Stats().Models[dir]; st.Overloaded != int64(overloaded) {
		t.Errorf("stats count %d overloaded calls, saw %d", st.Overloaded, overloaded)
	}
}

// TestGridDocumented: the grids listed on Options are the ones in use.
func TestGridDocumented(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "sie.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var doc string
	ast.Inspect(f, func(n ast.Node) bool {
		if field, ok := n.(*ast.Field); ok && len(field.Names) == 1 && field.Names[0].Name == "MaxBatchRows" {
			doc = field.Doc.Text()
		}
		return true
	})
	doc = strings.Join(strings.Fields(doc), " ")
	for label, grid := range map[string][]int{"rows to": rowGrid, "row lengths to": lengthGrid, "packed sequences per row to": slotGrid} {
		re := regexp.MustCompile(regexp.QuoteMeta(label) + ` ([0-9, ]+)`)
		m := re.FindStringSubmatch(doc)
		if m == nil {
			t.Fatalf("Options.MaxBatchRows doc does not list %q", label)
		}
		var documented []int
		for _, f := range strings.Split(m[1], ",") {
			if f = strings.TrimSpace(f); f != "" {
				n, _ := strconv.Atoi(f)
				documented = append(documented, n)
			}
		}
		if !slices.Equal(documented, grid) {
			t.Errorf("%s: documented %v, in use %v", label, documented, grid)
		}
	}
	if got := (Options{}).withDefaults(); got.MaxBatchTokens != 16384 || got.MaxBatchRows != 64 || got.QueueSize != 4096 {
		t.Errorf("defaults changed without the docs: %+v", got)
	}
}

// TestDirectPath: a lone request on an idle model runs in the caller's
// goroutine with the queued path's results; with other work admitted, or
// too large for one batch, it takes the queue.
func TestDirectPath(t *testing.T) {
	e := openEngine(t, Options{MaxBatchTokens: 64})
	ctx := context.Background()
	dir := golden.Dir("bert-mean")
	texts := mixedTexts(6, 9)[:3]
	want, err := e.Embed(ctx, dir, texts)
	if err != nil {
		t.Fatal(err)
	}
	l, err := e.acquire(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer e.release(l)
	newReq := func(texts []string) *request {
		seqs, err := l.m.tokenize(texts, newCallConfig(nil))
		if err != nil {
			t.Fatal(err)
		}
		return &request{ctx: ctx, outputs: outDense, seqs: seqs, out: make([]result, len(seqs)), left: len(seqs),
			enqueued: time.Now(), done: make(chan struct{})}
	}
	before := l.b.stats.snapshot().Batches
	r := newReq(texts)
	if ok, err := l.b.direct(r); !ok || err != nil {
		t.Fatalf("idle model: direct = %v, %v; want true, nil", ok, err)
	}
	for i := range texts {
		if d := golden.MaxAbsDiff(r.out[i].dense, want[i]); d > 1e-6 {
			t.Errorf("text %d: direct vs queued max abs diff %g", i, d)
		}
	}
	if got := l.b.stats.snapshot().Batches - before; got != 1 {
		t.Errorf("direct call counted %d batches, want 1", got)
	}
	l.b.inflight.Add(1)
	if ok, _ := l.b.direct(newReq(texts)); ok {
		t.Error("with admitted work waiting, direct ran; want the queue")
	}
	l.b.inflight.Add(-1)
	if ok, _ := l.b.direct(newReq(mixedTexts(40, 2))); ok {
		t.Error("a request beyond the 64-token budget ran directly; want the planner to split it")
	}
	l.b.device.Lock()
	if ok, _ := l.b.direct(newReq(texts)); ok {
		t.Error("with the device busy, direct ran; want the queue")
	}
	l.b.device.Unlock()
}
