package main

// sie serve [--addr 127.0.0.1:8080] [--model M]... [--alias NAME=MODEL]...
//           [--default-model M] [--api-key K] [--backend B] [limits]
//
// Serves the OpenAI, Cohere, TEI, Infinity and sie routes of package server
// on one Engine. --model preloads a model (catalog id or local folder) and
// serves it under that name; --alias NAME=MODEL serves MODEL under NAME. The
// first model given is the default (for requests that name none) unless
// --default-model says otherwise. The API key comes from --api-key or
// $SIE_API_KEY. It prints "listening on ADDR" once the socket is open;
// /readyz turns 200 when the models have loaded. SIGINT or SIGTERM stops
// accepting connections and drains requests in flight (up to --drain)
// before exiting.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sie-project/sie"
	"github.com/sie-project/sie/backends"
	"github.com/sie-project/sie/server"
)

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	var models, aliases listFlag
	fs.Var(&models, "model", "model to preload and serve under its own name (catalog id or local folder); repeatable")
	fs.Var(&aliases, "alias", "NAME=MODEL: serve MODEL (catalog id or local folder) under NAME; repeatable")
	defModel := fs.String("default-model", "", "model for requests that name none (default: the first --model or --alias)")
	apiKey := fs.String("api-key", os.Getenv("SIE_API_KEY"), "bearer token required on every route but /healthz, /readyz, /health, /metrics (default $SIE_API_KEY)")
	backend := fs.String("backend", "", "compute backend: go, onnx, xla:cuda (default $SIE_BACKEND, else go)")
	maxBody := fs.Int64("max-body-bytes", 0, "largest request body (default 2000000)")
	maxInputs := fs.Int("max-inputs", 0, "most inputs per request (default 2048)")
	maxChars := fs.Int("max-input-chars", 0, "most characters per input (default 122880)")
	maxConc := fs.Int("max-concurrent", 0, "most requests in progress; more get 429 (default 512)")
	drain := fs.Duration("drain", 30*time.Second, "how long to wait for requests in flight on shutdown")
	quiet := fs.Bool("quiet", false, "no access log")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	opts := server.Options{Models: models, DefaultModel: *defModel, APIKey: *apiKey, MaxBodyBytes: *maxBody,
		MaxInputs: *maxInputs, MaxInputChars: *maxChars, MaxConcurrent: *maxConc}
	var first string
	if len(models) > 0 {
		first = models[0]
	}
	for _, a := range aliases {
		name, target, ok := strings.Cut(a, "=")
		if !ok || name == "" || target == "" {
			return fmt.Errorf("serve: --alias %q: want NAME=MODEL", a)
		}
		if opts.Aliases == nil {
			opts.Aliases = map[string]string{}
		}
		opts.Aliases[name] = target
		if first == "" {
			first = name
		}
	}
	// The first model given on the command line, --model or --alias.
	if opts.DefaultModel == "" && len(args) > 0 {
		opts.DefaultModel = firstModelArg(args, first)
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	if *quiet {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	opts.Logger = logger

	eng, err := sie.Open(sie.Options{Backend: backends.Config{Kind: backends.Kind(*backend)}, Logger: logger})
	if err != nil {
		return err
	}
	defer eng.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := server.New(eng, opts)
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 30 * time.Second}
	fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	ready, loadErr := srv.Ready()
	select {
	case <-ready:
		if err := loadErr(); err != nil {
			_ = hs.Close()
			return fmt.Errorf("serve: %w", err)
		}
		logger.Info("sie serve: ready", "addr", ln.Addr().String(), "models", len(models)+len(aliases))
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	select {
	case err := <-served:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	case <-ctx.Done():
	}
	logger.Info("sie serve: shutting down, draining requests in flight", "drain", *drain)
	sctx, cancel := context.WithTimeout(context.Background(), *drain)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("serve: shutdown: %w", err)
	}
	return nil
}

// firstModelArg returns the first --model or --alias NAME of args, in
// command-line order (fallback when none parses).
func firstModelArg(args []string, fallback string) string {
	for i := 0; i < len(args); i++ {
		a := strings.TrimLeft(args[i], "-")
		if a == args[i] {
			continue
		}
		key, val, hasVal := strings.Cut(a, "=")
		if key != "model" && key != "alias" {
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				break
			}
			val = args[i+1]
		}
		if key == "alias" {
			val, _, _ = strings.Cut(val, "=")
		}
		return val
	}
	return fallback
}
