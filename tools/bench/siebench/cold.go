package main

import (
	"context"
	"encoding/json"
	"os"
	"runtime"
	"time"

	"github.com/sie-project/sie"
	"github.com/sie-project/sie/backends"
)

// coldStart measures a fresh Engine: Open, the first Embed of one short text
// (Load, then compile and run), a second one, and then the compiles and time taken
// while the mixed-length stream fills the shape grid.
func coldStart(model, modelName, backend, textsFile string, threads int) error {
	runtime.GOMAXPROCS(threads)
	texts, err := readLines(textsFile)
	if err != nil {
		return err
	}
	ctx := context.Background()
	t0 := time.Now()
	eng, err := sie.Open(sie.Options{Backend: backends.Config{Kind: backends.Kind(backend)}})
	if err != nil {
		return err
	}
	defer eng.Close()
	open := time.Since(t0)
	if err := eng.Load(ctx, model); err != nil {
		return err
	}
	load := time.Since(t0) - open
	if _, err := eng.Embed(ctx, model, texts[:1]); err != nil {
		return err
	}
	first := time.Since(t0)
	t1 := time.Now()
	if _, err := eng.Embed(ctx, model, texts[1:2]); err != nil {
		return err
	}
	second := time.Since(t1)
	compiles0 := eng.Stats().Models[model].Compiles
	t2 := time.Now()
	if _, err := stream(ctx, eng, model, texts, 4, 8); err != nil {
		return err
	}
	fill := time.Since(t2)
	t3 := time.Now()
	if _, err := stream(ctx, eng, model, texts, 4, 8); err != nil {
		return err
	}
	warm := time.Since(t3)
	st := eng.Stats().Models[model]
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"runtime": "sie", "backend": backend, "threads": threads, "model": modelName,
		"open_ms": round(ms(open)), "load_ms": round(ms(load)), "open_to_first_vector_ms": round(ms(first)), "second_call_ms": round(ms(second)),
		"compiles_after_first": compiles0, "stream_compiles": st.Compiles - compiles0,
		"stream_first_pass_ms": round(ms(fill)), "stream_second_pass_ms": round(ms(warm)),
	})
}
