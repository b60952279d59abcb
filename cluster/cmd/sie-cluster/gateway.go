package main

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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sie-project/sie"
	"github.com/sie-project/sie/cluster"
	"github.com/sie-project/sie/server"
)

func runGateway(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("nats", defaultNATS(), "NATS server URL (default $NATS_URL, else nats://127.0.0.1:4222)")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	pool := fs.String("pool", "default", "pool the gateway sends work to")
	profile := fs.String("profile", "cpu", "machine profile of the lane")
	bundle := fs.String("bundle", "default", "bundle of the lane")
	var models, aliases listFlag
	fs.Var(&models, "model", "model to serve under its own name (catalog id or a folder the workers can read); repeatable")
	fs.Var(&aliases, "alias", "NAME=MODEL: serve MODEL under NAME; repeatable")
	defModel := fs.String("default-model", "", "model for requests that name none (default: the first --model or --alias)")
	apiKey := fs.String("api-key", os.Getenv("SIE_API_KEY"), "bearer token required on every route but /healthz, /readyz, /health, /metrics (default $SIE_API_KEY)")
	timeout := fs.Duration("timeout", 30*time.Second, "longest wait for the workers' answer to one request")
	maxItems := fs.Int("max-items", 0, "texts per work item (default 32)")
	maxMsgs := fs.Int64("max-queue", 0, "items the pool's stream holds before refusing work, if the gateway creates it (default 100000)")
	maxConc := fs.Int("max-concurrent", 0, "most requests in progress; more get 429 (default 512)")
	drain := fs.Duration("drain", 30*time.Second, "how long to wait for requests in flight on shutdown")
	quiet := fs.Bool("quiet", false, "no access log")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("gateway: unexpected argument %q", fs.Arg(0))
	}
	level := slog.LevelInfo
	if *quiet {
		level = slog.LevelWarn
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	opts := server.Options{Models: models, DefaultModel: *defModel, APIKey: *apiKey, MaxConcurrent: *maxConc, Logger: logger}
	for _, a := range aliases {
		name, target, ok := strings.Cut(a, "=")
		if !ok || name == "" || target == "" {
			return fmt.Errorf("gateway: --alias %q: want NAME=MODEL", a)
		}
		if opts.Aliases == nil {
			opts.Aliases = map[string]string{}
		}
		opts.Aliases[name] = target
	}
	if opts.DefaultModel == "" && len(models) == 0 && len(aliases) > 0 {
		opts.DefaultModel, _, _ = strings.Cut(aliases[0], "=")
	}

	nc, err := nats.Connect(*url, nats.Name("sie-cluster gateway"), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("gateway: connecting to %s: %w", *url, err)
	}
	defer nc.Close()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	client, err := cluster.NewClient(cctx, nc, cluster.ClientOptions{
		Lane:    cluster.Lane{Pool: *pool, Profile: *profile, Bundle: *bundle},
		Timeout: *timeout, MaxItems: *maxItems, Stream: cluster.StreamOptions{MaxMsgs: *maxMsgs}, Logger: logger,
	})
	cancel()
	if err != nil {
		return err
	}
	defer client.Close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := server.New(&gatewayBackend{Client: client}, opts)
	hs := &http.Server{Handler: withRetryAfter(srv), ReadHeaderTimeout: 30 * time.Second}
	fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	case <-ctx.Done():
	}
	logger.Info("sie-cluster gateway: shutting down, draining requests in flight", "drain", *drain)
	sctx, cancelShutdown := context.WithTimeout(context.Background(), *drain)
	defer cancelShutdown()
	return hs.Shutdown(sctx)
}

// gatewayBackend is the cluster Client as the HTTP server's Backend. It
// translates the cluster's transient errors into the statuses SIE's
// gateway answers (the server maps sie.ErrResourceExhausted to 503) and
// leaves the Retry-After they call for where withRetryAfter finds it; it
// remembers model facts (Info), which do not change, to spare a round trip
// per request; and it waits for a worker when preloading.
type gatewayBackend struct {
	*cluster.Client

	mu   sync.Mutex
	info map[string]sie.ModelInfo
}

var _ server.Backend = (*gatewayBackend)(nil)

func (g *gatewayBackend) Embed(ctx context.Context, model string, texts []string, opts ...sie.Option) ([][]float32, error) {
	v, err := g.Client.Embed(ctx, model, texts, opts...)
	return v, g.translate(ctx, err)
}

func (g *gatewayBackend) Encode(ctx context.Context, model string, items []string, opts sie.EncodeOptions) ([]sie.Encoding, error) {
	v, err := g.Client.Encode(ctx, model, items, opts)
	return v, g.translate(ctx, err)
}

func (g *gatewayBackend) Rerank(ctx context.Context, model, query string, docs []string, opts ...sie.Option) ([]sie.Ranked, error) {
	v, err := g.Client.Rerank(ctx, model, query, docs, opts...)
	return v, g.translate(ctx, err)
}

func (g *gatewayBackend) Tokenize(ctx context.Context, model string, texts []string, opts ...sie.Option) ([][]sie.Token, error) {
	v, err := g.Client.Tokenize(ctx, model, texts, opts...)
	return v, g.translate(ctx, err)
}

func (g *gatewayBackend) EmbedIDs(ctx context.Context, model string, inputs [][]int) ([][]float32, error) {
	v, err := g.Client.EmbedIDs(ctx, model, inputs)
	return v, g.translate(ctx, err)
}

func (g *gatewayBackend) Info(ctx context.Context, model string) (sie.ModelInfo, error) {
	g.mu.Lock()
	info, ok := g.info[model]
	g.mu.Unlock()
	if ok {
		return info, nil
	}
	info, err := g.Client.Info(ctx, model)
	if err != nil {
		return info, g.translate(ctx, err)
	}
	g.mu.Lock()
	if g.info == nil {
		g.info = map[string]sie.ModelInfo{}
	}
	g.info[model] = info
	g.mu.Unlock()
	return info, nil
}

// Load waits for a worker of the lane (the gateway may start first) and has
// it load the model; /readyz stays 503 until then.
func (g *gatewayBackend) Load(ctx context.Context, model string) error {
	for {
		err := g.Client.Load(ctx, model)
		if _, transient := cluster.RetryAfter(err); err == nil || !transient {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Second):
		}
	}
}

// translate makes the cluster's transient errors 503s (504 for timeouts)
// with their Retry-After; other errors pass unchanged.
func (g *gatewayBackend) translate(ctx context.Context, err error) error {
	after, transient := cluster.RetryAfter(err)
	if !transient {
		return err
	}
	status := http.StatusServiceUnavailable
	if errors.Is(err, cluster.ErrTimeout) {
		status = http.StatusGatewayTimeout
	}
	if h, ok := ctx.Value(hintKey{}).(*retryHint); ok {
		h.set(status, after)
	}
	if errors.Is(err, cluster.ErrProvisioning) || errors.Is(err, cluster.ErrBackpressure) {
		return &unavailableError{err}
	}
	return err
}

// unavailableError is a cluster error the server answers with 503.
type unavailableError struct{ error }

func (e *unavailableError) Unwrap() []error { return []error{e.error, sie.ErrResourceExhausted} }

type hintKey struct{}

// retryHint carries, from a backend call to the response, the status and
// Retry-After a cluster error calls for.
type retryHint struct {
	mu     sync.Mutex
	status int
	after  time.Duration
}

func (h *retryHint) set(status int, after time.Duration) {
	h.mu.Lock()
	h.status, h.after = status, after
	h.mu.Unlock()
}

// withRetryAfter gives each request a retryHint and, when the server answers
// it with 429, 503 or 504 after a cluster error, sets the status and the
// Retry-After that error calls for.
func withRetryAfter(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := &retryHint{}
		next.ServeHTTP(&hintWriter{ResponseWriter: w, hint: h}, r.WithContext(context.WithValue(r.Context(), hintKey{}, h)))
	})
}

type hintWriter struct {
	http.ResponseWriter
	hint  *retryHint
	wrote bool
}

func (w *hintWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		w.hint.mu.Lock()
		status, after := w.hint.status, w.hint.after
		w.hint.mu.Unlock()
		if status != 0 && (code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout) {
			code = status
			secs := int(after / time.Second)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			w.Header().Set("Retry-After-Ms", strconv.Itoa(int(after/time.Millisecond)))
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *hintWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *hintWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
