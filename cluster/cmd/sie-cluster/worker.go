package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sie-project/sie"
	"github.com/sie-project/sie/backends"
	"github.com/sie-project/sie/cluster"
)

func runWorker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("nats", defaultNATS(), "NATS server URL (default $NATS_URL, else nats://127.0.0.1:4222)")
	pool := fs.String("pool", "default", "pool whose stream the worker takes items from")
	profile := fs.String("profile", "cpu", "machine profile of the lane")
	bundle := fs.String("bundle", "default", "bundle of the lane")
	id := fs.String("id", "", "worker name in replies and logs (default host name plus a random suffix)")
	var preload listFlag
	fs.Var(&preload, "preload", "model to load before taking items (catalog id or local folder); repeatable")
	backend := fs.String("backend", "", "compute backend: go, onnx, xla:cuda (default $SIE_BACKEND, else go)")
	budget := fs.Int64("memory-budget", 0, "bytes all loaded models may use (default: 75% of memory on CPU, none on GPU)")
	conc := fs.Int("concurrency", 0, "items held at once (default 64)")
	ackWait := fs.Duration("ack-wait", 0, "time an item may stay unanswered before redelivery (default 30s)")
	maxDeliver := fs.Int("max-deliver", 0, "deliveries before an item goes to the dead-letter stream (default 20)")
	nakDelay := fs.Duration("nak-delay", 0, "delay of an item handed back (default 5s)")
	quiet := fs.Bool("quiet", false, "log warnings and errors only")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("worker: unexpected argument %q", fs.Arg(0))
	}
	level := slog.LevelInfo
	if *quiet {
		level = slog.LevelWarn
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	eng, err := sie.Open(sie.Options{Backend: backends.Config{Kind: backends.Kind(*backend)}, MemoryBudget: *budget, Logger: logger})
	if err != nil {
		return err
	}
	defer eng.Close()
	nc, err := nats.Connect(*url, nats.Name("sie-cluster worker"), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("worker: connecting to %s: %w", *url, err)
	}
	defer nc.Close()
	w, err := cluster.NewWorker(nc, eng, cluster.WorkerOptions{
		Lane: cluster.Lane{Pool: *pool, Profile: *profile, Bundle: *bundle}, ID: *id, Preload: preload,
		Concurrency: *conc, AckWait: *ackWait, MaxDeliver: *maxDeliver, NakDelay: *nakDelay, Logger: logger,
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stdout, "worker %s on %s\n", w.ID(), *url)
	start := time.Now()
	err = w.Run(ctx)
	logger.Info("sie-cluster worker: stopped", "uptime", time.Since(start).Round(time.Second), "stats", fmt.Sprintf("%+v", w.Stats()))
	return err
}
