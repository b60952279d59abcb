package sie

import (
	"context"
	"errors"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sie-project/sie/internal/golden"
	"github.com/sie-project/sie/internal/testhook"
)

// A deadline is honoured at every stage a call can wait in: loading,
// compiling, queued behind another batch, executing. (Downloading: see
// internal/hub's TestDownloadDeadline.) Each stage is made slow with a test
// hook; the call must return context.DeadlineExceeded well before the slow
// stage ends, and the memory the Engine accounts must come back to what its
// loaded models hold.

const (
	slowStage = 2 * time.Second
	deadline  = 100 * time.Millisecond
)

// callWithDeadline embeds with a short deadline and checks that it fails with
// DeadlineExceeded long before slowStage has passed.
func callWithDeadline(t *testing.T, e *Engine, model string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	_, err := e.Embed(ctx, model, []string{"a text that will wait"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v; want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > slowStage/2 {
		t.Fatalf("returned after %v; the deadline was %v", d, deadline)
	}
}

// checkMemory waits for background work to settle and checks that the
// Engine accounts exactly the bytes of its loaded models.
func checkMemory(t *testing.T, e *Engine) {
	t.Helper()
	var st Stats
	for range 100 {
		st = e.Stats()
		var sum int64
		for _, m := range st.Models {
			sum += m.Bytes
		}
		if sum == st.MemoryUsed {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("MemoryUsed %d does not match the loaded models %+v", st.MemoryUsed, st.Models)
}

func sleepHook(t *testing.T, hook *func(string)) {
	setHook(t, hook, func(string) { time.Sleep(slowStage) })
}

func TestDeadlineLoading(t *testing.T) {
	sleepHook(t, &testhook.Load)
	e := openEngine(t, Options{})
	callWithDeadline(t, e, golden.Dir("bert-mean"))
	// The load goes on for the callers that still wait; once it is done the
	// model serves and its memory is accounted once.
	if _, err := e.Embed(context.Background(), golden.Dir("bert-mean"), []string{"x"}); err != nil {
		t.Fatal(err)
	}
	checkMemory(t, e)
}

// TestDeadlineLoadingFailed: a load abandoned by its caller that then fails
// gives back its reservation.
func TestDeadlineLoadingFailed(t *testing.T) {
	dir := copyFixture(t, "bert-mean")
	editTensor(t, dir, "pooler.dense.bias", func(v []float32) { v[0] = float32(math.NaN()) })
	sleepHook(t, &testhook.Load)
	e := openEngine(t, Options{})
	callWithDeadline(t, e, dir)
	if _, err := e.Embed(context.Background(), dir, []string{"x"}); !errors.Is(err, ErrInvalidModel) {
		t.Fatalf("got %v; want ErrInvalidModel", err)
	}
	if st := e.Stats(); st.MemoryUsed != 0 || len(st.Models) != 0 {
		t.Fatalf("after a failed load: %d bytes accounted, models %v", st.MemoryUsed, st.Models)
	}
}

func TestDeadlineCompiling(t *testing.T) {
	sleepHook(t, &testhook.Build)
	e := openEngine(t, Options{})
	if err := e.Load(context.Background(), golden.Dir("bert-mean")); err != nil {
		t.Fatal(err)
	}
	callWithDeadline(t, e, golden.Dir("bert-mean"))
	checkMemory(t, e)
}

func TestDeadlineExecuting(t *testing.T) {
	// Hooks are set before the Engine starts and cleared after it stops, so
	// its goroutines never race with the test's writes.
	var armed atomic.Bool
	setHook(t, &testhook.Run, func(string) {
		if armed.Load() {
			time.Sleep(slowStage)
		}
	})
	e := openEngine(t, Options{})
	model := golden.Dir("bert-mean")
	if _, err := e.Embed(context.Background(), model, []string{"compile first"}); err != nil {
		t.Fatal(err)
	}
	armed.Store(true)
	callWithDeadline(t, e, model)
	checkMemory(t, e)
}

// TestDeadlineQueued: a call waiting behind a long batch gives up at its
// deadline, and its text never reaches the device.
func TestDeadlineQueued(t *testing.T) {
	release := make(chan struct{})
	var armed atomic.Bool
	var batches atomic.Int32
	setHook(t, &testhook.Run, func(string) {
		if armed.Load() && batches.Add(1) == 1 {
			<-release
		}
	})
	e := openEngine(t, Options{})
	model := golden.Dir("bert-mean")
	if _, err := e.Embed(context.Background(), model, []string{"compile first"}); err != nil {
		t.Fatal(err)
	}
	armed.Store(true)
	first := make(chan error, 1)
	go func() {
		_, err := e.Embed(context.Background(), model, []string{"the long batch"})
		first <- err
	}()
	for batches.Load() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	callWithDeadline(t, e, model)
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	// Let the runner reach the abandoned request, then check it dropped it.
	if _, err := e.Embed(context.Background(), model, []string{"after"}); err != nil {
		t.Fatal(err)
	}
	if n := batches.Load(); n != 2 {
		t.Fatalf("%d batches ran; want 2 (the queued call's text must be dropped)", n)
	}
	checkMemory(t, e)
}

// TestRefusedReservation: a load refused by the memory budget gives back
// nothing it did not take (the 20-minute soak found the accounts drifting
// below zero after such refusals).
func TestRefusedReservation(t *testing.T) {
	e := openEngine(t, Options{MemoryBudget: 1000})
	_, err := e.Embed(context.Background(), golden.Dir("bert-mean"), []string{"x"})
	if !errors.Is(err, ErrResourceExhausted) {
		t.Fatalf("got %v; want ErrResourceExhausted", err)
	}
	if st := e.Stats(); st.MemoryUsed != 0 {
		t.Fatalf("after a refused load %d bytes are accounted; want 0", st.MemoryUsed)
	}
}
