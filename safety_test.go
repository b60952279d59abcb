package sie

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sie-project/sie/internal/golden"
	"github.com/sie-project/sie/internal/safetensors"
	"github.com/sie-project/sie/internal/testhook"
)

// editTensor rewrites one tensor of dir's checkpoint as float32, after edit.
func editTensor(t *testing.T, dir, name string, edit func(v []float32)) {
	t.Helper()
	found := false
	rewriteTensors(t, dir, func(ts []safetensors.WriteTensor) []safetensors.WriteTensor {
		for i := range ts {
			if ts[i].Name != name {
				continue
			}
			x, err := safetensors.NewTensor(name, ts[i].DType, ts[i].Shape, ts[i].Data)
			if err != nil {
				t.Fatal(err)
			}
			v, err := x.Float32()
			if err != nil {
				t.Fatal(err)
			}
			edit(v)
			ts[i].DType, ts[i].Data = safetensors.F32, safetensors.Float32Bytes(v)
			found = true
		}
		return ts
	})
	if !found {
		t.Fatalf("no tensor %s", name)
	}
}

// TestNonFiniteWeights: a NaN or infinite weight fails the load, naming the
// tensor and the element, in the main checkpoint and in a Dense module.
func TestNonFiniteWeights(t *testing.T) {
	cases := []struct {
		fixture, file, tensor string
		value                 float32
		text                  string
	}{
		{"bert-mean", "", "encoder.layer.0.attention.self.query.weight", float32(math.NaN()),
			"invalid model files: 1 problem(s) with the checkpoint's tensors: tensor encoder.layer.0.attention.self.query.weight holds NaN at element 5"},
		{"bert-mean", "", "embeddings.LayerNorm.bias", float32(math.Inf(-1)),
			"invalid model files: 1 problem(s) with the checkpoint's tensors: tensor embeddings.LayerNorm.bias holds -Inf at element 5"},
		{"stella", "2_Dense", "linear.weight", float32(math.Inf(1)),
			"invalid model files: 2_Dense: 1 problem(s) with the checkpoint's tensors: tensor linear.weight holds +Inf at element 5"},
	}
	for _, tc := range cases {
		t.Run(tc.fixture+"/"+tc.tensor, func(t *testing.T) {
			dir := copyFixture(t, tc.fixture)
			editTensor(t, dir+"/"+tc.file, tc.tensor, func(v []float32) { v[5] = tc.value })
			e := openEngine(t, Options{})
			_, err := e.Embed(context.Background(), dir, []string{"hello"})
			if !errors.Is(err, ErrInvalidModel) {
				t.Fatalf("got %v; want ErrInvalidModel", err)
			}
			if want := fmt.Sprintf("sie: load %q: %s", dir, tc.text); err.Error() != want {
				t.Fatalf("error text\n got: %s\nwant: %s", err, want)
			}
		})
	}
}

// TestNaNOutput: finite weights so large that the forward pass overflows
// (as an fp16 checkpoint run past its range does) give NaN vectors; the call
// fails instead of returning them, and the engine keeps serving other models.
func TestNaNOutput(t *testing.T) {
	dir := copyFixture(t, "bert-mean")
	editTensor(t, dir, "embeddings.word_embeddings.weight", func(v []float32) {
		for i := range v {
			v[i] = 3e38
		}
	})
	e := openEngine(t, Options{})
	ctx := context.Background()
	vecs, err := e.Embed(ctx, dir, []string{"hello", "world"})
	if !errors.Is(err, ErrBackend) || !strings.Contains(err.Error(), "contains NaN") {
		t.Fatalf("got %v, %v; want an ErrBackend error about NaN", vecs, err)
	}
	if _, err := e.Embed(ctx, golden.Dir("bert-cls"), []string{"hello"}); err != nil {
		t.Fatalf("another model after a NaN output: %v", err)
	}
}

// setHook installs a panic hook for the test's duration.
func setHook(t *testing.T, hook *func(string), f func(string)) {
	*hook = f
	t.Cleanup(func() { *hook = nil })
}

// TestPanicIsolation injects a panic while a graph is being built and while
// a batch is running. Each time the calls of that batch fail with
// ErrBackend, the same model answers its next calls correctly, and another
// model is unaffected. CI runs it under -race.
func TestPanicIsolation(t *testing.T) {
	for _, stage := range []string{"build", "run"} {
		t.Run(stage, func(t *testing.T) {
			sick, healthy := golden.Dir("bert-mean"), golden.Dir("bert-cls")
			var armed atomic.Int32 // panics left to inject
			hook := &testhook.Build
			if stage == "run" {
				hook = &testhook.Run
			}
			setHook(t, hook, func(model string) {
				if model == sick && armed.Add(-1) >= 0 {
					panic("injected " + stage + " failure")
				}
			})
			e := openEngine(t, Options{})
			ctx := context.Background()
			want, err := e.Embed(ctx, healthy, []string{"reference"})
			if err != nil {
				t.Fatal(err)
			}

			armed.Store(1)
			_, err = e.Embed(ctx, sick, []string{"a", "b", "c"})
			if !errors.Is(err, ErrBackend) || !strings.Contains(err.Error(), "injected "+stage+" failure") {
				t.Fatalf("call hit by the panic: %v; want ErrBackend naming the panic", err)
			}

			// Later calls of the same model and calls of the other model
			// succeed, concurrently.
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for i := range 8 {
				wg.Add(2)
				go func() {
					defer wg.Done()
					if _, err := e.Embed(ctx, sick, []string{fmt.Sprint("text ", i)}); err != nil {
						errs <- fmt.Errorf("same model after the panic: %w", err)
					}
				}()
				go func() {
					defer wg.Done()
					got, err := e.Embed(ctx, healthy, []string{"reference"})
					if err != nil {
						errs <- fmt.Errorf("other model: %w", err)
					} else if d := maxAbsDiff(got[0], want[0]); d > 1e-6 {
						errs <- fmt.Errorf("other model's vector moved by %g", d)
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

func maxAbsDiff(a, b []float32) float64 {
	d := math.Inf(1)
	if len(a) == len(b) {
		d = 0
		for i := range a {
			d = math.Max(d, math.Abs(float64(a[i]-b[i])))
		}
	}
	return d
}
