// Package sie runs embedding and reranking models inside a Go process.
//
// An Engine loads Hugging Face checkpoints (safetensors weights, tokenizer.json
// and the sentence-transformers files) into compiled graphs and serves them to
// any number of goroutines, batching concurrent requests. The vectors match
// what sentence-transformers computes for the same checkpoint.
//
//	eng, err := sie.Open(sie.Options{})
//	if err != nil { … }
//	defer eng.Close()
//	vecs, err := eng.Embed(ctx, "sentence-transformers/all-MiniLM-L6-v2", []string{"hello", "world"})
//
// Models are named by catalog id (downloaded into a local cache on first use;
// "id:profile" picks a variant such as "BAAI/bge-m3:sparse") or by a local
// directory laid out like a Hugging Face checkpoint. Package catalog lists
// the ids and documents, per setting, whether the catalog entry or the
// checkpoint's own files win.
//
// Embed returns dense vectors. Encode returns any of a model's typed
// outputs in one call: dense, sparse (SPLADE, bge-m3) and multivector
// (ColBERT, bge-m3), optionally quantized (float16, int8, uint8, binary) or
// truncated (Matryoshka Dims). Rerank scores documents against a query with
// a cross-encoder, or by MaxSim / hybrid scores on a multivector model.
//
// # Backends
//
// Graphs run on the pure-Go backend by default. ONNX Runtime (build tag
// onnx) and XLA/PJRT for CUDA GPUs (build tag xla) are chosen with
// Options.Backend or $SIE_BACKEND; see package backends.
//
// # Text preparation
//
// Texts are prepared as sentence-transformers prepares them: queries get the
// model's query prompt (or an explicit instruction), documents the document
// prompt; tokens beyond the model's maximum length are dropped (a long text is
// truncated, never an error); an empty string still embeds its special tokens.
// Invalid UTF-8 is rejected with ErrInvalidInput.
//
// # Batching
//
// Every model has a queue and two goroutines. Callers tokenize in their own
// goroutine and enqueue; the planner takes everything waiting (up to the
// token budget), sorts the sequences longest first and cuts them into device
// batches; the runner executes one batch while the planner prepares the next,
// and answers each caller when its last sequence is done, in input order.
//
//	callers ──tokenize──▶ queue ──▶ planner ──batches──▶ runner ──▶ device
//	   ▲  (ErrOverloaded when full)  sort, pack, pad to grid   │
//	   └──────────────── vectors, in input order ◀─────────────┘
//
// Sequence packing puts several short sequences in one row. Each keeps its
// own attention segment, its positions restart, and pooling reads its
// segment boundaries, so packing changes no result; it only removes padding.
// Rows, row length and segments per row are padded up to a fixed grid
// (documented on Options.MaxBatchRows) so that each model compiles a bounded
// set of programs. A cancelled call is dropped before its sequences reach
// the device; a failed batch fails every call with a sequence in it.
//
// # Memory
//
// All models of an Engine share one backend (one device) and one budget:
//
//	| what                  | how                                                  |
//	|-----------------------|------------------------------------------------------|
//	| counted per model     | weights (float32) + 32 B × hidden size × MaxBatchTokens |
//	| budget                | Options.MemoryBudget; default 75% of RAM on CPU       |
//	| loading past budget   | unload least recently used idle models first         |
//	| model in use          | never unloaded (a call holds it until it returns)    |
//	| nothing can be freed  | the load fails with ErrResourceExhausted             |
//	| first use             | loads lazily, once, however many goroutines ask      |
//
// Engine.Load and Engine.Unload do the same explicitly; Engine.Stats reports
// queue depths, batches, padding, compiles, latency and bytes per model.
package sie

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gomlx/compute"
	"golang.org/x/sync/singleflight"

	"github.com/sie-project/sie/backends"
	"github.com/sie-project/sie/internal/testhook"
)

// Options configures an Engine. The zero value is the default everywhere.
type Options struct {
	// Backend selects the compute backend; zero means $SIE_BACKEND, else
	// the pure-Go backend.
	Backend backends.Config

	// CacheDir is the Hugging Face hub cache that holds downloaded
	// checkpoints (npm mirrors go in CacheDir/npm); zero means $SIE_CACHE,
	// else the cache huggingface_hub uses ($HF_HUB_CACHE,
	// $HUGGINGFACE_HUB_CACHE, $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub,
	// ~/.cache/huggingface/hub).
	CacheDir string

	// Hub configures downloads: endpoint, token, offline mode, progress.
	Hub HubOptions

	// MaxBatchTokens caps the padded tokens (rows × padded length) of one
	// device batch; zero means 16384.
	MaxBatchTokens int

	// MaxBatchRows caps the rows of one device batch; zero means 64.
	//
	// Batches are padded to a grid of shapes so compiled programs are
	// reused: rows to 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192,
	// 256; row lengths to 8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512,
	// 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192; packed sequences per row
	// to 1, 2, 4, 8, 16, 32, 64.
	MaxBatchRows int

	// DisablePacking puts one sequence per row. By default short sequences
	// share rows (each in its own attention segment, positions restarting),
	// which changes no result and wastes less compute on padding.
	DisablePacking bool

	// QueueSize bounds the requests waiting per model; zero means 4096.
	// Beyond it calls fail fast with ErrOverloaded.
	QueueSize int

	// MemoryBudget caps the bytes all loaded models may use together
	// (weights plus a workspace estimate of 32 bytes per hidden unit per
	// batch token). Zero means 75% of the machine's memory on CPU backends
	// and 90% of the GPU memory free at Open on xla:cuda (no limit when the
	// GPU cannot be asked); a negative value means no limit. Loading a model
	// that would exceed it unloads the least recently used idle models; when
	// that is not enough the load fails with ErrResourceExhausted.
	MemoryBudget int64

	// Precision is the format model weights are kept in on the device;
	// zero means float32. BFloat16Weights and Float16Weights halve the
	// weights' memory; graphs still compute in float32 (see Precision). The
	// onnx backend takes float32 only.
	Precision Precision

	// Logger receives diagnostics; nil means none. The library never prints.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.MaxBatchTokens <= 0 {
		o.MaxBatchTokens = 16384
	}
	if o.MaxBatchRows <= 0 {
		o.MaxBatchRows = 64
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 4096
	}
	if o.CacheDir == "" {
		o.CacheDir = os.Getenv("SIE_CACHE")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Engine serves models on one compute backend. It is safe for concurrent use
// by many goroutines, like database/sql.DB: open one per process and share it.
type Engine struct {
	opts    Options
	backend compute.Backend
	kind    backends.Kind
	budget  int64 // 0: unlimited

	mu       sync.Mutex
	models   map[string]*loaded
	reserved int64 // bytes of loaded models and of loads in progress
	clock    int64 // use counter for least-recently-used eviction
	closed   bool
	loads    singleflight.Group
}

// loaded is a model with its batcher and the Engine's bookkeeping, guarded
// by Engine.mu.
type loaded struct {
	m        *model
	b        *batcher
	bytes    int64
	inUse    int   // calls holding the model
	lastUsed int64 // Engine.clock at the last acquire
}

// Open starts an Engine on the configured backend.
func Open(opts Options) (*Engine, error) {
	opts = opts.withDefaults()
	if !opts.Precision.valid() {
		return nil, fmt.Errorf("%w: unknown precision %d", ErrInvalidInput, int(opts.Precision))
	}
	b, cfg, err := backends.Open(opts.Backend)
	if err != nil {
		if errors.Is(err, backends.ErrUnavailable) {
			return nil, fmt.Errorf("%w: %w", ErrBackend, err)
		}
		return nil, fmt.Errorf("sie: %w", err)
	}
	opts.Backend = cfg
	if opts.Precision != Float32Weights && cfg.Kind == backends.ONNX {
		// GoMLX's ONNX Runtime backend has no half-precision buffers.
		b.Finalize()
		return nil, fmt.Errorf("%w: the onnx backend keeps weights in float32 only (precision %s)", ErrInvalidInput, opts.Precision)
	}
	e := &Engine{opts: opts, backend: b, kind: cfg.Kind, models: map[string]*loaded{}}
	switch {
	case opts.MemoryBudget > 0:
		e.budget = opts.MemoryBudget
	case opts.MemoryBudget == 0 && cfg.Kind != backends.XLACUDA:
		e.budget = backends.SystemMemory() / 4 * 3
	case opts.MemoryBudget == 0:
		e.budget = gpuBudget(opts.Logger)
	}
	return e, nil
}

// gpuBudget is the default memory budget on a GPU: 90% of the memory free
// when the Engine opens, or 0 (no limit) when nvidia-smi cannot tell.
func gpuBudget(log *slog.Logger) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	total, free, err := backends.GPUMemory(ctx)
	if err != nil {
		log.Warn("sie: GPU memory unknown; no memory budget", "err", err)
		return 0
	}
	log.Info("sie: GPU memory", "total", total, "free", free)
	return free / 10 * 9
}

// Backend names the backend the Engine runs on.
func (e *Engine) Backend() backends.Kind { return e.kind }

// Close finishes queued work, unloads every model and releases the backend.
// Calls after Close fail with ErrClosed. Close may be called more than once.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	models := e.models
	e.models = nil
	e.mu.Unlock()
	for _, l := range models {
		l.b.close()
		l.m.release()
	}
	e.backend.Finalize()
	return nil
}

// Load loads a model now instead of on first use. Concurrent calls for the
// same model load it once.
func (e *Engine) Load(ctx context.Context, name string) error {
	l, err := e.acquire(ctx, name)
	if err != nil {
		return err
	}
	e.release(l)
	return nil
}

// Unload drops a model: work already queued finishes, later calls load it
// again. Unloading a model that is not loaded is not an error.
func (e *Engine) Unload(name string) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return ErrClosed
	}
	l := e.models[name]
	delete(e.models, name)
	if l != nil {
		e.reserved -= l.bytes
	}
	e.mu.Unlock()
	if l != nil {
		l.b.close()
		l.m.release()
	}
	return nil
}

// Stats returns a snapshot of the Engine's models, queues and memory.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := Stats{Backend: string(e.kind), MemoryBudget: e.budget, MemoryUsed: e.reserved, Models: map[string]ModelStats{}}
	for name, l := range e.models {
		ms := l.b.stats.snapshot()
		ms.Architecture = l.m.info.Architecture
		ms.Bytes = l.bytes
		ms.QueueDepth = len(l.b.queue)
		ms.InFlight = l.inUse
		st.Models[name] = ms
	}
	return st
}

// acquire returns the loaded model, loading it once if needed, and marks it
// in use until release: a model in use is never evicted.
func (e *Engine) acquire(ctx context.Context, name string) (*loaded, error) {
	if strings.TrimSpace(name) == "" {
		return nil, modelErr(name, "load", fmt.Errorf("%w: empty model name", ErrModelNotFound))
	}
	for {
		e.mu.Lock()
		if e.closed {
			e.mu.Unlock()
			return nil, ErrClosed
		}
		if l, ok := e.models[name]; ok {
			l.inUse++
			e.clock++
			l.lastUsed = e.clock
			e.mu.Unlock()
			return l, nil
		}
		e.mu.Unlock()
		ch := e.loads.DoChan(name, func() (any, error) { return e.load(context.WithoutCancel(ctx), name) })
		select {
		case res := <-ch:
			if res.Err != nil {
				return nil, modelErr(name, "load", res.Err)
			}
			// Loaded: take it from the map like any other caller (it may
			// already have been evicted again, then load once more).
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// release ends a use begun by acquire.
func (e *Engine) release(l *loaded) {
	e.mu.Lock()
	l.inUse--
	e.mu.Unlock()
}

// load reads a model and registers it; run through singleflight.
func (e *Engine) load(ctx context.Context, name string) (any, error) {
	dir, settings, err := e.resolve(ctx, name)
	if err != nil {
		return nil, err
	}
	if testhook.Load != nil {
		testhook.Load(name)
	}
	var reserved int64
	reserve := func(weights int64, hidden int) error {
		// Activations of one batch: about 32 bytes per hidden unit per
		// token (see MemoryBudget).
		n := weights + int64(e.opts.MaxBatchTokens)*int64(hidden)*32
		if err := e.reserve(name, n); err != nil {
			return err // nothing reserved: nothing to give back
		}
		reserved = n
		return nil
	}
	settings.precision = e.opts.Precision
	m, err := loadModel(e.backend, name, dir, settings, reserve)
	if err != nil {
		e.unreserve(reserved)
		return nil, &inDir{dir: filepath.Clean(dir), err: err}
	}
	l := &loaded{m: m, b: newBatcher(m, e.opts), bytes: reserved}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		l.b.close()
		m.release()
		return nil, ErrClosed
	}
	e.models[name] = l
	e.mu.Unlock()
	e.opts.Logger.Info("sie: model loaded", "model", name, "dir", dir, "architecture", m.info.Architecture,
		"pooling", m.pool.String(), "max_length", m.maxLen, "backend", e.kind, "bytes", reserved)
	return nil, nil
}

// reserve accounts bytes for a model about to load, evicting least recently
// used idle models while the budget would be exceeded.
func (e *Engine) reserve(name string, bytes int64) error {
	for {
		e.mu.Lock()
		if e.budget == 0 || e.reserved+bytes <= e.budget {
			e.reserved += bytes
			e.mu.Unlock()
			return nil
		}
		if bytes > e.budget {
			e.mu.Unlock()
			return fmt.Errorf("%w: the model needs about %d bytes, more than the whole memory budget (%d bytes)", ErrResourceExhausted, bytes, e.budget)
		}
		var victim string
		var oldest *loaded
		for n, l := range e.models {
			if l.inUse == 0 && (oldest == nil || l.lastUsed < oldest.lastUsed) {
				victim, oldest = n, l
			}
		}
		if oldest == nil {
			used := e.reserved
			e.mu.Unlock()
			return fmt.Errorf("%w: the model needs about %d bytes; %d of the %d-byte budget are held by models in use", ErrResourceExhausted, bytes, used, e.budget)
		}
		delete(e.models, victim)
		e.reserved -= oldest.bytes
		e.mu.Unlock()
		oldest.b.close()
		oldest.m.release()
		e.opts.Logger.Info("sie: model evicted", "model", victim, "for", name, "bytes", oldest.bytes)
	}
}

func (e *Engine) unreserve(bytes int64) {
	if bytes == 0 {
		return
	}
	e.mu.Lock()
	e.reserved -= bytes
	e.mu.Unlock()
}

// model returns a loaded model without holding it in use.
func (e *Engine) model(ctx context.Context, name string) (*loaded, error) {
	l, err := e.acquire(ctx, name)
	if err != nil {
		return nil, err
	}
	e.release(l)
	return l, nil
}

// resolve maps a model name to a local directory: an existing directory is
// used as it is; a catalog id or hub repository id (optionally @revision) is
// fetched into the cache (fetch.go).
func (e *Engine) resolve(ctx context.Context, name string) (string, modelSettings, error) {
	if st, err := os.Stat(name); err == nil && st.IsDir() {
		return name, modelSettings{}, nil
	}
	return resolveModel(ctx, name, e.opts)
}

// Option adjusts one call (Embed, Rerank). An option that does not apply to
// the call it is given to is an ErrInvalidInput.
type Option func(*callConfig)

type callConfig struct {
	isQuery     bool
	instruction string
	promptName  string
	noPrompt    bool

	topK       int         // Rerank: keep the best k; 0 keeps all
	activation string      // Rerank: "", ScoreSigmoid or ScoreRaw
	late       lateScoring // Rerank on multivector models (score.go)

	rerankOnly []string // names of the rerank-only options used, for validation
}

// Query marks the texts as search queries: the model's query prompt or
// default instruction applies.
func Query() Option { return func(c *callConfig) { c.isQuery = true } }

// Instruction sets the instruction for the texts (for Rerank: for the
// query), replacing the model's default (for example "Represent this
// sentence for searching relevant passages: ").
func Instruction(s string) Option { return func(c *callConfig) { c.instruction = s } }

// Prompt applies a named prompt from the model's
// config_sentence_transformers.json, like sentence-transformers' prompt_name.
func Prompt(name string) Option { return func(c *callConfig) { c.promptName = name } }

// NoPrompt embeds the texts exactly as given: no query or document template
// and no default instruction, as the OpenAI-, TEI- and Infinity-compatible
// routes do (those providers apply none, so their users typed any prefix by
// hand). A prompt named with Prompt still applies. Without NoPrompt the Go
// API applies the model's templates, as SIE does.
func NoPrompt() Option { return func(c *callConfig) { c.noPrompt = true } }

func newCallConfig(opts []Option) *callConfig {
	c := &callConfig{}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	return c
}

// Embed returns one dense vector per text, in input order. An empty list
// gives an empty result.
func (e *Engine) Embed(ctx context.Context, model string, texts []string, opts ...Option) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg := newCallConfig(opts)
	if len(cfg.rerankOnly) > 0 {
		return nil, modelErr(model, "embed", fmt.Errorf("%w: %s applies to Rerank only", ErrInvalidInput, strings.Join(cfg.rerankOnly, ", ")))
	}
	l, err := e.acquire(ctx, model)
	if err != nil {
		return nil, err
	}
	defer e.release(l)
	if len(texts) == 0 {
		return [][]float32{}, nil
	}
	if l.m.outputs&outDense == 0 {
		return nil, modelErr(model, "embed", l.m.cannot(outDense))
	}
	seqs, err := l.m.tokenize(texts, cfg)
	if err != nil {
		return nil, modelErr(model, "embed", err)
	}
	res, err := l.b.submit(ctx, outDense, seqs)
	if err != nil {
		return nil, callErr(model, "embed", err)
	}
	vecs := make([][]float32, len(res))
	for i, r := range res {
		vecs[i] = r.dense
	}
	return vecs, nil
}

// callErr passes context errors through as they are and attributes the
// rest to the model.
func callErr(model, op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return modelErr(model, op, err)
}

// tokenize prepares and tokenizes texts in the caller's goroutine.
func (m *model) tokenize(texts []string, cfg *callConfig) ([]sequence, error) {
	seqs := make([]sequence, len(texts))
	for i, t := range texts {
		if !utf8.ValidString(t) {
			return nil, fmt.Errorf("%w: text %d is not valid UTF-8", ErrInvalidInput, i)
		}
		prepared, err := m.prompts.apply(t, cfg)
		if err != nil {
			return nil, err
		}
		enc, err := m.tok.Encode(prepared, true)
		if err != nil {
			return nil, fmt.Errorf("%w: text %d: %v", ErrInvalidInput, i, err)
		}
		seqs[i] = toSequence(enc.IDs, enc.TypeIDs)
	}
	return seqs, nil
}

func toSequence(ids, types []int) sequence {
	s := sequence{ids: make([]int32, len(ids)), types: make([]int32, len(ids))}
	for i := range ids {
		s.ids[i] = int32(ids[i])
		s.types[i] = int32(types[i])
	}
	return s
}
