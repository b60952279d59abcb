package sie

// Every catalog entry loads by id through the real download path: a fake hub
// (httptest) serves, under each entry's repository and pinned revision, a
// small random-weight checkpoint of the entry's architecture and heads with
// the sizes the entry declares, and Embed / Encode / Rerank by catalog id
// must return what the entry declares.
//
// The checkpoints are made from the upstream fixtures (testdata/fixtures):
// their tokenizer and sentence-transformers files, their tensor names, and
// the hidden size resized to the entry's dense dimension (new weights are
// random; norms start at 1). Heads the fixtures lack (a ModernBERT
// classifier, a masked-LM head, PyLate or sentence-transformers Dense
// modules) are added with random weights.

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sie-project/sie/catalog"
	"github.com/sie-project/sie/internal/golden"
	"github.com/sie-project/sie/internal/hub/hubtest"
	"github.com/sie-project/sie/internal/safetensors"
)

// fakeHub serves the catalog's fake checkpoints from the fake Hugging Face
// hub (internal/hub/hubtest), so that loading by id goes through the real
// download path: tree listing, CDN redirects, blob verification, the cache.
type fakeHub struct {
	*hubtest.Server
	mu     sync.Mutex
	pinned map[string]string            // repository -> the commit its entry pins
	files  map[string]map[string][]byte // repository -> the files last served
}

// serve publishes files as repo's content at its pinned commit, or on main.
// The caller holds h.mu.
func (h *fakeHub) serve(repo string, files map[string][]byte) {
	h.files[repo] = files
	if c, ok := h.pinned[repo]; ok {
		h.ServeAt(repo, c, files)
		return
	}
	h.Serve(repo, files)
}

// edit changes a published repository's files and serves them again.
func (h *fakeHub) edit(repo string, change func(files map[string][]byte)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	files := h.files[repo]
	change(files)
	h.serve(repo, files)
}

// offPin lists the requests that named another revision than a pinned
// entry's commit.
func (h *fakeHub) offPin() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var bad []string
	for _, r := range h.Requests() {
		for repo, commit := range h.pinned {
			if strings.Contains(r.Path, "/"+repo+"/") && !strings.Contains(r.Path, commit) && r.Server == "hub" {
				bad = append(bad, r.Path)
			}
		}
	}
	return bad
}

// checkpoint is a checkpoint being made: its files and its tensors.
type checkpoint struct {
	files   map[string][]byte
	config  map[string]any
	tensors map[string]tensor
}

type tensor struct {
	shape []int
	data  []float32
}

// readFixtureCheckpoint loads a fixture's files and tensors (goldens and
// PyTorch heads left out).
func readFixtureCheckpoint(t *testing.T, name string) *checkpoint {
	t.Helper()
	dir := golden.Dir(name)
	c := &checkpoint{files: map[string][]byte{}, tensors: map[string]tensor{}}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == "golden.json" || strings.HasSuffix(rel, ".pt") || strings.HasSuffix(rel, "_linear.safetensors") {
			return nil
		}
		data, err := os.ReadFile(p)
		c.files[rel] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(c.files["config.json"], &c.config); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Parse(c.files["model.safetensors"])
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range f.Names() {
		x, _ := f.Tensor(n)
		data, err := x.Float32()
		if err != nil {
			t.Fatal(err)
		}
		c.tensors[n] = tensor{x.Shape, data}
	}
	return c
}

// randomTensor makes a reproducible random tensor: ones for norm weights,
// small normal values otherwise.
func randomTensor(name string, shape []int) tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	data := make([]float32, n)
	if len(shape) == 1 && strings.HasSuffix(name, "weight") && (strings.Contains(strings.ToLower(name), "norm") || strings.Contains(name, "_ln") || strings.Contains(name, "ln.")) {
		for i := range data {
			data[i] = 1
		}
		return tensor{shape, data}
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	r := rand.New(rand.NewPCG(h.Sum64(), uint64(n)))
	for i := range data {
		data[i] = float32(r.NormFloat64() * 0.05)
	}
	return tensor{shape, data}
}

// resizeHidden changes the hidden size to h: every tensor axis of the old
// hidden size (or three times it, fused q/k/v) follows, and its values are
// drawn anew. Qwen attention keeps its inner sizes (head_dim is written
// into config.json) so that only the model axis grows.
func (c *checkpoint) resizeHidden(h int) {
	key := "hidden_size"
	if _, ok := c.config[key]; !ok {
		key = "n_embd"
	}
	old := num(c.config[key])
	if old == h {
		return
	}
	c.config[key] = h
	c.shrink()
	qwen := strings.HasPrefix(fmt.Sprint(c.config["model_type"]), "qwen")
	if qwen {
		heads := num(c.config["num_attention_heads"])
		if _, ok := c.config["head_dim"]; !ok {
			c.config["head_dim"] = old / heads
		}
	} else {
		for _, k := range []string{"num_attention_heads", "n_head"} {
			if v, ok := c.config[k]; ok && h%num(v) != 0 {
				c.config[k] = 2
			}
		}
	}
	for name, x := range c.tensors {
		shape := slices.Clone(x.shape)
		for axis, d := range shape {
			if qwen && strings.Contains(name, "self_attn.") {
				// [heads·head_dim, H] for q/k/v, [H, heads·head_dim] for o.
				inner := (strings.Contains(name, "o_proj") && axis == 1) || (!strings.Contains(name, "o_proj") && axis == 0) || strings.Contains(name, "_norm")
				if inner {
					continue
				}
			}
			switch d {
			case old:
				shape[axis] = h
			case 3 * old:
				shape[axis] = 3 * h
			}
		}
		if !slices.Equal(shape, x.shape) {
			c.tensors[name] = randomTensor(name, shape)
		}
	}
}

// shrink keeps the checkpoint small once its hidden size grows: one layer
// (Qwen keeps its two: their attention stays narrow, and with one layer
// last-token pooling could not tell causal from bidirectional attention),
// and a WordPiece vocabulary cut to its first 3000 tokens (the special
// tokens and the most frequent pieces; other words become [UNK] or pieces).
func (c *checkpoint) shrink() {
	if !strings.HasPrefix(fmt.Sprint(c.config["model_type"]), "qwen") {
		layer := regexp.MustCompile(`(^|\.)layers?\.(\d+)\.`)
		for name := range c.tensors {
			if m := layer.FindStringSubmatch(name); m != nil && m[2] != "0" {
				delete(c.tensors, name)
			}
		}
		for _, k := range []string{"num_hidden_layers", "n_layer"} {
			if _, ok := c.config[k]; ok {
				c.config[k] = 1
			}
		}
	}
	var tok map[string]any
	if err := json.Unmarshal(c.files["tokenizer.json"], &tok); err != nil {
		panic(err)
	}
	model := tok["model"].(map[string]any)
	const keep = 3000
	if model["type"] != "WordPiece" || num(c.config["vocab_size"]) <= keep {
		return
	}
	vocab := model["vocab"].(map[string]any)
	for piece, id := range vocab {
		if num(id) >= keep {
			delete(vocab, piece)
		}
	}
	c.files["tokenizer.json"], _ = json.Marshal(tok)
	delete(c.files, "vocab.txt")
	c.config["vocab_size"] = keep
	for name, x := range c.tensors {
		if x.shape[0] > keep && strings.Contains(name, "word_embeddings") {
			c.tensors[name] = tensor{[]int{keep, x.shape[1]}, x.data[:keep*x.shape[1]]}
		}
	}
}

// prefixTensors renames every tensor to prefix+name.
func (c *checkpoint) prefixTensors(prefix string) {
	renamed := make(map[string]tensor, len(c.tensors))
	for name, x := range c.tensors {
		renamed[prefix+name] = x
	}
	c.tensors = renamed
}

// denseModule writes a sentence-transformers (or PyLate) Dense module.
func (c *checkpoint) denseModule(dir string, in, out int, bias bool) {
	cfg := map[string]any{"in_features": in, "out_features": out, "bias": bias, "activation_function": "torch.nn.modules.linear.Identity"}
	c.files[dir+"/config.json"], _ = json.Marshal(cfg)
	ts := map[string]tensor{"linear.weight": randomTensor(dir+"linear.weight", []int{out, in})}
	if bias {
		ts["linear.bias"] = randomTensor(dir+"linear.bias", []int{out})
	}
	c.files[dir+"/model.safetensors"] = encodeTensors(ts)
}

func (c *checkpoint) setModules(types ...[2]string) {
	var mods []map[string]any
	for i, m := range types {
		mods = append(mods, map[string]any{"idx": i, "name": fmt.Sprint(i), "path": m[0], "type": m[1]})
	}
	c.files["modules.json"], _ = json.Marshal(mods)
}

// setPrompts replaces config_sentence_transformers.json's prompts.
func (c *checkpoint) setPrompts(prompts map[string]string) {
	var st map[string]any
	if err := json.Unmarshal(c.files["config_sentence_transformers.json"], &st); err != nil || st == nil {
		st = map[string]any{}
	}
	st["prompts"] = prompts
	c.files["config_sentence_transformers.json"], _ = json.Marshal(st)
}

// encodeTensors writes tensors as safetensors, in bfloat16 for the large
// ones (the loader up-casts; it keeps the fake hub's files small).
func encodeTensors(ts map[string]tensor) []byte {
	var list []safetensors.WriteTensor
	for name, x := range ts {
		if len(x.data) < 1<<16 {
			list = append(list, safetensors.WriteTensor{Name: name, DType: safetensors.F32, Shape: x.shape, Data: safetensors.Float32Bytes(x.data)})
			continue
		}
		b := make([]byte, 2*len(x.data))
		for i, v := range x.data {
			binary.LittleEndian.PutUint16(b[2*i:], uint16(math.Float32bits(v)>>16))
		}
		list = append(list, safetensors.WriteTensor{Name: name, DType: safetensors.BF16, Shape: x.shape, Data: b})
	}
	slices.SortFunc(list, func(a, b safetensors.WriteTensor) int { return strings.Compare(a.Name, b.Name) })
	var buf strings.Builder
	if err := safetensors.Write(&buf, list, map[string]string{"format": "pt"}); err != nil {
		panic(err)
	}
	return []byte(buf.String())
}

func (c *checkpoint) finish() map[string][]byte {
	c.files["config.json"], _ = json.Marshal(c.config)
	c.files["model.safetensors"] = encodeTensors(c.tensors)
	return c.files
}

func (c *checkpoint) hidden() int {
	if v, ok := c.config["hidden_size"]; ok {
		return num(v)
	}
	return num(c.config["n_embd"])
}

// num reads a config.json number, as decoded or as set by the test.
func num(v any) int {
	switch x := v.(type) {
	case float64:
		return int(x)
	case int:
		return x
	}
	panic(fmt.Sprintf("not a number: %v", v))
}

// fakeCheckpoint makes the checkpoint the fake hub serves for e. It returns
// the entry the test expects, which differs from e only where the
// checkpoint could not be kept small (noted in the returned reason).
func fakeCheckpoint(t *testing.T, e catalog.Entry) (map[string][]byte, catalog.Entry, string) {
	t.Helper()
	o := e.Outputs
	var c *checkpoint
	note := ""
	stPooling := [2]string{"1_Pooling", "sentence_transformers.models.Pooling"}
	stTransformer := [2]string{"", "sentence_transformers.models.Transformer"}
	pylate := func(mv int) {
		c.denseModule("1_Dense", c.hidden(), mv, false)
		c.setModules(stTransformer, [2]string{"1_Dense", "pylate.models.Dense.Dense"})
	}
	switch e.Architecture {
	case "BertModel":
		if o.Multivector > 0 {
			c = readFixtureCheckpoint(t, "colbert")
			pylate(o.Multivector)
			break
		}
		c = readFixtureCheckpoint(t, "bert-mean")
	case "HF_ColBERT":
		// Stanford ColBERT's layout (colbert_stanford.go).
		c = readFixtureCheckpoint(t, "colbert")
		for f := range c.files {
			if f == "modules.json" || strings.HasPrefix(f, "1_Dense/") || strings.HasPrefix(f, "config_sentence") || f == "sentence_bert_config.json" {
				delete(c.files, f)
			}
		}
		c.prefixTensors("bert.")
		c.tensors["linear.weight"] = randomTensor("linear.weight", []int{o.Multivector, c.hidden()})
		c.config["architectures"] = []string{e.Architecture}
		c.files["artifact.metadata"], _ = json.Marshal(map[string]any{"query_token_id": "[unused0]", "doc_token_id": "[unused1]",
			"query_maxlen": 32, "doc_maxlen": 180, "mask_punctuation": true, "attend_to_mask_tokens": false, "dim": o.Multivector})
	case "RobertaForMaskedLM":
		// The XLM-R fixture's encoder with a RoBERTa masked-LM head over the
		// entry's vocabulary; no modules.json, so the entry says SPLADE.
		c = readFixtureCheckpoint(t, "xlmr")
		for f := range c.files {
			if f == "modules.json" || strings.HasPrefix(f, "1_Pooling/") || strings.HasPrefix(f, "config_sentence") || f == "sentence_bert_config.json" {
				delete(c.files, f)
			}
		}
		delete(c.tensors, "pooler.dense.weight")
		delete(c.tensors, "pooler.dense.bias")
		h := c.hidden()
		c.config["architectures"] = []string{e.Architecture}
		c.config["vocab_size"] = o.Sparse
		c.tensors["embeddings.word_embeddings.weight"] = randomTensor("words", []int{o.Sparse, h})
		c.prefixTensors("roberta.")
		c.tensors["lm_head.dense.weight"] = randomTensor("lm_head.dense.weight", []int{h, h})
		c.tensors["lm_head.dense.bias"] = randomTensor("lm_head.dense.bias", []int{h})
		c.tensors["lm_head.layer_norm.weight"] = randomTensor("lm_head.layer_norm.weight", []int{h})
		c.tensors["lm_head.layer_norm.bias"] = randomTensor("lm_head.layer_norm.bias", []int{h})
		c.tensors["lm_head.bias"] = randomTensor("lm_head.bias", []int{o.Sparse})
	case "NewForMaskedLM":
		// The NewModel fixture's encoder with a masked-LM head; no
		// modules.json, so the entry says SPLADE.
		c = readFixtureCheckpoint(t, "newmodel")
		for f := range c.files {
			if f == "modules.json" || strings.HasPrefix(f, "1_Pooling/") || strings.HasPrefix(f, "config_sentence") || f == "sentence_bert_config.json" {
				delete(c.files, f)
			}
		}
		h := c.hidden()
		c.config["architectures"] = []string{e.Architecture}
		c.config["vocab_size"] = o.Sparse
		c.tensors["embeddings.word_embeddings.weight"] = randomTensor("words", []int{o.Sparse, h})
		c.prefixTensors("new.")
		c.tensors["lm_head.dense.weight"] = randomTensor("lm_head.dense.weight", []int{h, h})
		c.tensors["lm_head.dense.bias"] = randomTensor("lm_head.dense.bias", []int{h})
		c.tensors["lm_head.norm.weight"] = randomTensor("lm_head.norm.weight", []int{h})
		c.tensors["lm_head.norm.bias"] = randomTensor("lm_head.norm.bias", []int{h})
		c.tensors["lm_head.decoder.bias"] = randomTensor("lm_head.decoder.bias", []int{o.Sparse})
	case "BertForMaskedLM":
		c = readFixtureCheckpoint(t, "splade")
	case "BertForSequenceClassification":
		c = readFixtureCheckpoint(t, "bert-rerank")
	case "XLMRobertaForSequenceClassification":
		c = readFixtureCheckpoint(t, "xlmr-rerank")
	case "XLMRobertaModel":
		c = readFixtureCheckpoint(t, "xlmr")
		if o.Sparse > 0 {
			// BGE-M3's vocabulary (250002 × 1024 floats, 1 GB) is too
			// large for a test; the fixture's XLM-R vocabulary stands in.
			e.Outputs.Sparse = num(c.config["vocab_size"])
			note = fmt.Sprintf("sparse vocabulary %d served as %d", o.Sparse, e.Outputs.Sparse)
			h := o.Dense
			c.files["sparse_linear.safetensors"] = encodeTensors(map[string]tensor{"weight": randomTensor("sparse.w", []int{1, h}), "bias": randomTensor("sparse.b", []int{1})})
			c.files["colbert_linear.safetensors"] = encodeTensors(map[string]tensor{"weight": randomTensor("colbert.w", []int{o.Multivector, h}), "bias": randomTensor("colbert.b", []int{o.Multivector})})
		}
	case "ModernBertModel", "ModernBertForMaskedLM", "ModernBertForSequenceClassification":
		c = readFixtureCheckpoint(t, "modernbert")
		c.config["architectures"] = []string{e.Architecture}
		h := c.hidden()
		switch {
		case o.Multivector > 0:
			pylate(o.Multivector)
			c.setPrompts(map[string]string{})
			var st map[string]any
			json.Unmarshal(c.files["config_sentence_transformers.json"], &st)
			st["query_prefix"], st["document_prefix"], st["do_query_expansion"] = "[MASK]", "[UNK]", false
			st["query_length"], st["document_length"] = 32, 64
			c.files["config_sentence_transformers.json"], _ = json.Marshal(st)
		case e.Architecture == "ModernBertForMaskedLM":
			c.resizeHidden(o.Dense)
			h = o.Dense
			c.tensors["head.dense.weight"] = randomTensor("head.dense.weight", []int{h, h})
			c.tensors["head.norm.weight"] = randomTensor("head.norm.weight", []int{h})
			c.tensors["decoder.bias"] = randomTensor("decoder.bias", []int{num(c.config["vocab_size"])})
		case o.Score:
			delete(c.files, "modules.json")
			c.config["id2label"] = map[string]string{"0": "LABEL_0"}
			c.config["classifier_pooling"] = "mean"
			c.prefixTensors("model.")
			c.tensors["head.dense.weight"] = randomTensor("head.dense.weight", []int{h, h})
			c.tensors["head.norm.weight"] = randomTensor("head.norm.weight", []int{h})
			c.tensors["classifier.weight"] = randomTensor("classifier.weight", []int{1, h})
			c.tensors["classifier.bias"] = randomTensor("classifier.bias", []int{1})
		}
	case "NewModel":
		if e.ID == "NovaSearch/stella_en_400M_v5" {
			// The fixture has stella's 2_Dense; its output becomes 1024.
			c = readFixtureCheckpoint(t, "stella")
			c.denseModule("2_Dense", c.hidden(), o.Dense, true)
			break
		}
		c = readFixtureCheckpoint(t, "newmodel")
	case "JinaBertForMaskedLM":
		c = readFixtureCheckpoint(t, "jinabert")
	case "NomicBertModel":
		c = readFixtureCheckpoint(t, "nomicbert")
	case "Qwen2ForCausalLM":
		c = readFixtureCheckpoint(t, "qwen2")
		c.config["architectures"] = []string{e.Architecture}
		if strings.HasPrefix(e.ID, "Alibaba-NLP/gte-Qwen2") {
			c.config["is_causal"] = false
		}
		if e.ID == "NovaSearch/stella_en_1.5B_v5" {
			c.denseModule("2_Dense_1024", c.hidden(), o.Dense, true)
			c.setModules(stTransformer, stPooling, [2]string{"2_Dense_1024", "sentence_transformers.models.Dense"}, [2]string{"3_Normalize", "sentence_transformers.models.Normalize"})
		}
	case "Qwen3ForCausalLM":
		c = readFixtureCheckpoint(t, "qwen3")
		c.config["architectures"] = []string{e.Architecture}
	default:
		t.Fatalf("%s: no fake checkpoint for architecture %s", e.ID, e.Architecture)
	}
	if o.Dense > 0 && o.Multivector == 0 && !hasDenseModule(c) {
		c.resizeHidden(o.Dense)
	}
	if o.Multivector > 0 && o.Dense > 0 {
		c.resizeHidden(o.Dense)
	}
	if o.Dense > 0 && e.Architecture != "NomicBertModel" && e.Architecture != "ModernBertForSequenceClassification" {
		// The checkpoint's own query prompt must lose to the entry's.
		c.setPrompts(map[string]string{"query": "checkpoint query prompt: ", "document": "checkpoint document prompt: "})
	}
	return c.finish(), e, note
}

func hasDenseModule(c *checkpoint) bool {
	for f := range c.files {
		if strings.HasPrefix(f, "2_Dense") {
			return true
		}
	}
	return false
}

// prepare applies a template the way the catalog documents it, for the
// expected side of a test.
func prepare(template, instruction, text string) string {
	if template == "" {
		if instruction != "" {
			return instruction + " " + text
		}
		return text
	}
	s := strings.ReplaceAll(template, "{instruction}", instruction)
	if strings.Contains(s, "{text}") {
		return strings.ReplaceAll(s, "{text}", text)
	}
	return s + text
}

// serveCatalog starts an empty fake hub, points the hub client at it and
// makes the engine see the catalog entries as served (see fakeCheckpoint).
func serveCatalog(t *testing.T) (*fakeHub, map[string]catalog.Entry) {
	hub := &fakeHub{Server: hubtest.New(t), pinned: map[string]string{}, files: map[string]map[string][]byte{}}
	served := map[string]catalog.Entry{}
	t.Setenv("HF_ENDPOINT", hub.URL)
	orig := findEntry
	findEntry = func(name string) (*catalog.Entry, bool) {
		e, ok := catalog.Find(name)
		if !ok {
			return nil, false
		}
		hub.mu.Lock()
		w, ok := served[e.ID]
		hub.mu.Unlock()
		if ok {
			e.Outputs.Sparse = min(e.Outputs.Sparse, w.Outputs.Sparse)
		}
		// all-MiniLM-L6-v2's npm mirror has its own test (fetch_test.go).
		e.NPM = nil
		return e, true
	}
	t.Cleanup(func() { findEntry = orig })
	return hub, served
}

// publish puts e's fake checkpoint on the hub and returns the entry as
// served.
func (h *fakeHub) publish(t *testing.T, e catalog.Entry, served map[string]catalog.Entry) catalog.Entry {
	files, s, note := fakeCheckpoint(t, e)
	if note != "" {
		t.Log(note)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if commitRE.MatchString(e.Revision) {
		h.pinned[e.Repo] = e.Revision
	}
	h.serve(e.Repo, files)
	served[e.ID] = s
	return s
}

var commitRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

// remove replaces a repository's files by nothing, to keep memory small.
func (h *fakeHub) remove(repo string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.serve(repo, map[string][]byte{})
}

func TestCatalogLoadsByID(t *testing.T) {
	all := catalog.All()
	hub, served := serveCatalog(t)
	cache := t.TempDir()
	eng := openEngine(t, Options{CacheDir: cache})
	ctx := context.Background()
	const text = "what does the fox say"
	docs := []string{"the fox says nothing", "a cat sleeps", "foxes bark at night"}
	counts := map[string]int{}
	loaded := 0
	for _, entry := range all {
		t.Run(entry.ID, func(t *testing.T) {
			e := hub.publish(t, entry, served)
			defer func() {
				hub.remove(e.Repo)
				// The cached copy is not needed again: keep the disk small.
				os.RemoveAll(filepath.Join(cache, "hub", strings.ReplaceAll(e.Repo, "/", "--")))
			}()
			defer eng.Unload(e.ID)
			outs, err := eng.Outputs(ctx, e.ID)
			if err != nil {
				t.Fatal(err)
			}
			var wantOuts Output
			if e.Outputs.Dense > 0 {
				wantOuts |= Dense
			}
			if e.Outputs.Sparse > 0 {
				wantOuts |= Sparse
			}
			if e.Outputs.Multivector > 0 {
				wantOuts |= Multivector
			}
			if outs != wantOuts {
				t.Fatalf("outputs %v, entry declares %v", outs, wantOuts)
			}
			for _, k := range e.Outputs.Kinds() {
				counts[k]++
			}
			if e.Outputs.Dense > 0 {
				checkDenseEntry(t, eng, e, text)
			}
			if e.Outputs.Sparse > 0 {
				res, err := eng.Encode(ctx, e.ID, []string{text}, EncodeOptions{Outputs: Sparse})
				if err != nil {
					t.Fatal(err)
				}
				sv := res[0].Sparse
				if sv == nil || len(sv.Indices) == 0 {
					t.Fatal("empty sparse vector")
				}
				for i, id := range sv.Indices {
					if int(id) >= e.Outputs.Sparse || (i > 0 && id <= sv.Indices[i-1]) || sv.Values[i] <= 0 {
						t.Fatalf("sparse entry %d: id %d weight %g (vocabulary %d)", i, id, sv.Values[i], e.Outputs.Sparse)
					}
				}
			}
			if e.Outputs.Multivector > 0 {
				res, err := eng.Encode(ctx, e.ID, []string{text}, EncodeOptions{Outputs: Multivector, IsQuery: true})
				if err != nil {
					t.Fatal(err)
				}
				if len(res[0].Multivector) == 0 {
					t.Fatal("no token vectors")
				}
				for _, v := range res[0].Multivector {
					if len(v) != e.Outputs.Multivector || math.Abs(norm(v)-1) > 1e-4 {
						t.Fatalf("token vector of size %d and norm %g; entry declares %d, normalised", len(v), norm(v), e.Outputs.Multivector)
					}
				}
			}
			if e.Outputs.Score {
				checkScoreEntry(t, eng, e, text, docs)
			}
			for _, p := range e.Profiles {
				checkProfile(t, eng, e.ID+":"+p.Name, text, docs)
			}
			if !t.Failed() {
				loaded++
			}
		})
	}
	if bad := hub.offPin(); len(bad) > 0 {
		t.Errorf("requests for another revision than the pinned one: %q", bad)
	}
	t.Logf("%d of %d entries loaded by id through the fake hub and gave what they declare (%d requests); outputs: %v", loaded, len(all), len(hub.Requests()), counts)
}

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// checkDenseEntry checks the dense vector's size and norm and that the
// entry's templates, not the checkpoint's prompts, are applied.
func checkDenseEntry(t *testing.T, eng *Engine, e catalog.Entry, text string) {
	t.Helper()
	ctx := context.Background()
	got, err := eng.Embed(ctx, e.ID, []string{text, text}, Query())
	if err != nil {
		t.Fatal(err)
	}
	if len(got[0]) != e.Outputs.Dense {
		t.Fatalf("dense dimension %d, entry declares %d", len(got[0]), e.Outputs.Dense)
	}
	if n := norm(got[0]); e.Normalize && math.Abs(n-1) > 1e-4 {
		t.Fatalf("norm %g, entry declares normalize", n)
	}
	doc, err := eng.Embed(ctx, e.ID, []string{text})
	if err != nil {
		t.Fatal(err)
	}
	for _, side := range []struct {
		name string
		got  []float32
		tpl  string
		inst string
	}{
		{"query", got[0], e.QueryTemplate, e.DefaultInstruction},
		{"document", doc[0], e.DocumentTemplate, ""},
	} {
		prepared := prepare(side.tpl, side.inst, text)
		want, err := eng.Embed(ctx, e.ID, []string{prepared}, NoPrompt())
		if err != nil {
			t.Fatal(err)
		}
		if d := golden.MaxAbsDiff(side.got, want[0]); d > 1e-5 {
			t.Errorf("%s: differs by %.3g from the text prepared as the entry says (%q)", side.name, d, prepared)
		}
	}
}

// checkScoreEntry checks Rerank: sorted, every document once, and the
// entry's score activation.
func checkScoreEntry(t *testing.T, eng *Engine, e catalog.Entry, query string, docs []string) {
	t.Helper()
	ctx := context.Background()
	ranked, err := eng.Rerank(ctx, e.ID, query, docs)
	if err != nil {
		t.Fatal(err)
	}
	if len(ranked) != len(docs) {
		t.Fatalf("%d results for %d documents", len(ranked), len(docs))
	}
	for i := 1; i < len(ranked); i++ {
		if ranked[i].Score > ranked[i-1].Score {
			t.Fatalf("not sorted: %v", ranked)
		}
	}
	if e.ScoreActivation == "" {
		return
	}
	raw, err := eng.Rerank(ctx, e.ID, query, docs, ScoreActivation(ScoreRaw))
	if err != nil {
		t.Fatal(err)
	}
	rawBy := map[int]float64{}
	for _, r := range raw {
		rawBy[r.Index] = float64(r.Score)
	}
	for _, r := range ranked {
		want := rawBy[r.Index]
		if e.ScoreActivation == "sigmoid" {
			want = 1 / (1 + math.Exp(-want))
		}
		if math.Abs(float64(r.Score)-want) > 1e-6 {
			t.Fatalf("document %d scores %g; with the entry's %s activation it should be %g", r.Index, r.Score, e.ScoreActivation, want)
		}
	}
}

// checkProfile loads id:profile and checks its outputs and Rerank.
func checkProfile(t *testing.T, eng *Engine, name, query string, docs []string) {
	t.Helper()
	ctx := context.Background()
	defer eng.Unload(name)
	e, ok := findEntry(name)
	if !ok {
		t.Fatalf("%s: not found", name)
	}
	outs, err := eng.Outputs(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	var want Output
	for _, k := range e.Outputs.Kinds() {
		switch k {
		case "dense":
			want |= Dense
		case "sparse":
			want |= Sparse
		case "multivector":
			want |= Multivector
		}
	}
	if outs != want {
		t.Errorf("%s: outputs %v, profile declares %v", name, outs, want)
	}
	ranked, err := eng.Rerank(ctx, name, query, docs)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	explicit, err := eng.Rerank(ctx, name, query, docs, ScoreBy(ScoreMode(e.ScoreMode)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range ranked {
		if ranked[i] != explicit[i] {
			t.Errorf("%s: Rerank %v, with ScoreBy(%s) %v", name, ranked, e.ScoreMode, explicit)
			break
		}
	}
	if _, err := eng.Embed(ctx, name, []string{query}); want&Dense == 0 && !errors.Is(err, ErrInvalidInput) {
		t.Errorf("%s: Embed on a profile without dense output: %v", name, err)
	}
}

// A checkpoint that contradicts its catalog entry fails to load with an
// error naming both values.
func TestCatalogContradictions(t *testing.T) {
	hub, served := serveCatalog(t)
	eng := openEngine(t, Options{CacheDir: t.TempDir()})
	ctx := context.Background()
	for _, tc := range []struct {
		id    string
		edit  func(files map[string][]byte, e *catalog.Entry)
		names []string
	}{
		{"BAAI/bge-small-en-v1.5", func(files map[string][]byte, e *catalog.Entry) {
			// a bge-base checkpoint (768) under the bge-small id (384)
			base, _ := catalog.Find("BAAI/bge-base-en-v1.5")
			f, _, _ := fakeCheckpoint(t, *base)
			maps.Copy(files, f)
		}, []string{"dense dimension 384", "768"}},
		{"intfloat/e5-small-v2", func(files map[string][]byte, e *catalog.Entry) {
			x := readFixtureCheckpoint(t, "xlmr")
			x.resizeHidden(384)
			clear(files)
			maps.Copy(files, x.finish())
		}, []string{"architecture BertModel", "XLMRobertaModel"}},
		{"answerdotai/answerai-colbert-small-v1", func(files map[string][]byte, e *catalog.Entry) {
			c := &checkpoint{files: files}
			c.denseModule("1_Dense", 32, 64, false)
		}, []string{"multivector token dimension 96", "64"}},
		{"naver/splade-v3", func(files map[string][]byte, e *catalog.Entry) {
			var cfg map[string]any
			json.Unmarshal(files["config.json"], &cfg)
			cfg["vocab_size"] = 30000
			files["config.json"], _ = json.Marshal(cfg)
		}, []string{"sparse vocabulary size 30522", "vocab_size 30000"}},
		{"BAAI/bge-reranker-base", func(files map[string][]byte, e *catalog.Entry) {
			x := readFixtureCheckpoint(t, "xlmr")
			clear(files)
			maps.Copy(files, x.finish())
		}, []string{"architecture XLMRobertaForSequenceClassification", "XLMRobertaModel"}},
	} {
		t.Run(tc.id, func(t *testing.T) {
			e, _ := catalog.Find(tc.id)
			hub.publish(t, *e, served)
			hub.edit(e.Repo, func(files map[string][]byte) { tc.edit(files, e) })
			_, err := eng.Outputs(ctx, tc.id)
			if !errors.Is(err, ErrInvalidModel) {
				t.Fatalf("got %v, want ErrInvalidModel", err)
			}
			for _, s := range tc.names {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not name %q", err, s)
				}
			}
			t.Log(err)
		})
	}
}

// gte-Qwen2-*-instruct loads with its recipe: the tokenizer's EOS appended,
// the last token pooled, attention bidirectional as its config.json says.
func TestGteQwen2Recipe(t *testing.T) {
	hub, served := serveCatalog(t)
	eng := openEngine(t, Options{CacheDir: t.TempDir()})
	ctx := context.Background()
	const id = "Alibaba-NLP/gte-Qwen2-1.5B-instruct"
	e, _ := catalog.Find(id)
	hub.publish(t, *e, served)
	l, err := eng.acquire(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	m := l.m
	eng.release(l)
	eos, ok := m.tok.TokenToID("<|endoftext|>")
	if !ok {
		t.Fatal("no <|endoftext|> in the tokenizer")
	}
	enc, err := m.tok.Encode("what does the fox say", true)
	if err != nil {
		t.Fatal(err)
	}
	if enc.IDs[len(enc.IDs)-1] != eos {
		t.Errorf("tokens %v do not end with EOS %d", enc.IDs, eos)
	}
	if !slices.Equal(m.pool.modes, []PoolingMode{PoolLastToken}) || !m.pool.normalize {
		t.Errorf("pooling %s, want last_token + normalize", m.pool)
	}
	bidi, err := eng.Embed(ctx, id, []string{"what does the fox say"})
	if err != nil {
		t.Fatal(err)
	}

	// The same files with the flag removed: causal, and another vector.
	eng.Unload(id)
	hub.edit(e.Repo, func(files map[string][]byte) {
		var cfg map[string]any
		json.Unmarshal(files["config.json"], &cfg)
		delete(cfg, "is_causal")
		files["config.json"], _ = json.Marshal(cfg)
	})
	causalEng := openEngine(t, Options{CacheDir: t.TempDir()})
	causal, err := causalEng.Embed(ctx, id, []string{"what does the fox say"})
	if err != nil {
		t.Fatal(err)
	}
	if d := golden.MaxAbsDiff(bidi[0], causal[0]); d < 1e-3 {
		t.Errorf("is_causal: false changes nothing (max diff %.3g)", d)
	}
}
