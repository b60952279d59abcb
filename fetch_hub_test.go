package sie

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/sie-project/sie/internal/golden"
	"github.com/sie-project/sie/internal/hub/hubtest"
)

// fixtureFiles reads a fixture checkpoint as a map of repository files,
// without the golden values.
func fixtureFiles(t *testing.T, name string) map[string][]byte {
	t.Helper()
	dir := golden.Dir(name)
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "golden.json" {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = data
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// shard splits a safetensors file into two shards and an index, as
// transformers' save_pretrained(max_shard_size=…) writes them.
func shard(t *testing.T, st []byte) map[string][]byte {
	t.Helper()
	n := binary.LittleEndian.Uint64(st[:8])
	var header map[string]json.RawMessage
	if err := json.Unmarshal(st[8:8+n], &header); err != nil {
		t.Fatal(err)
	}
	data := st[8+n:]
	var names []string
	for k := range header {
		if k != "__metadata__" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	out := map[string][]byte{}
	weightMap := map[string]string{}
	for i, part := range [][]string{names[:len(names)/2], names[len(names)/2:]} {
		file := fmt.Sprintf("model-%05d-of-00002.safetensors", i+1)
		h := map[string]any{}
		var body []byte
		for _, name := range part {
			var info struct {
				DType   string `json:"dtype"`
				Shape   []int  `json:"shape"`
				Offsets [2]int `json:"data_offsets"`
			}
			json.Unmarshal(header[name], &info)
			start := len(body)
			body = append(body, data[info.Offsets[0]:info.Offsets[1]]...)
			h[name] = map[string]any{"dtype": info.DType, "shape": info.Shape, "data_offsets": []int{start, len(body)}}
			weightMap[name] = file
		}
		hj, _ := json.Marshal(h)
		for len(hj)%8 != 0 {
			hj = append(hj, ' ')
		}
		var buf bytes.Buffer
		binary.Write(&buf, binary.LittleEndian, uint64(len(hj)))
		buf.Write(hj)
		buf.Write(body)
		out[file] = buf.Bytes()
	}
	idx, _ := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": len(data)}, "weight_map": weightMap})
	out["model.safetensors.index.json"] = idx
	return out
}

// TestHubModelLoads: any hub repository id loads on first use, from the
// fake hub, into the Hugging Face cache; the embeddings match the
// fixture's upstream (sentence-transformers) values. Later loads by pinned
// commit or offline send no request; failures have their typed errors.
func TestHubModelLoads(t *testing.T) {
	for _, v := range []string{"HF_TOKEN", "HF_HUB_OFFLINE", "HF_ENDPOINT", "SIE_CACHE"} {
		t.Setenv(v, "")
	}
	t.Setenv("HF_HOME", t.TempDir())
	c, err := golden.Load("bert-cls")
	if err != nil {
		t.Fatal(err)
	}
	var want [][]float32
	if err := c.Output("embedding", &want); err != nil {
		t.Fatal(err)
	}
	texts, textOpts := fixtureTexts(c)

	s := hubtest.New(t)
	files := fixtureFiles(t, "bert-cls")
	// Files sie must leave on the hub.
	files["onnx/model.onnx"] = hubtest.Bytes(1000, 1)
	files["pytorch_model.bin"] = hubtest.Bytes(1000, 2)
	files["model.fp16.safetensors"] = hubtest.Bytes(1000, 3)
	files["README.md"] = []byte("# tiny")
	commit := s.Serve("org/tiny-bert", files)
	sharded := fixtureFiles(t, "bert-cls")
	for k, v := range shard(t, sharded["model.safetensors"]) {
		sharded[k] = v
	}
	delete(sharded, "model.safetensors")
	s.Serve("org/tiny-bert-sharded", sharded)

	cache := t.TempDir()
	var mu sync.Mutex
	progress := map[string]DownloadProgress{}
	hubOpts := HubOptions{Endpoint: s.URL, Progress: func(p DownloadProgress) {
		mu.Lock()
		progress[p.Model+"/"+p.File] = p
		mu.Unlock()
	}}
	ctx := context.Background()
	embed := func(t *testing.T, e *Engine, model string) {
		t.Helper()
		for i, text := range texts {
			got, err := e.Embed(ctx, model, []string{text}, textOpts[i]...)
			if err != nil {
				t.Fatal(err)
			}
			checkEmbedding(t, i, got[0], want[i])
		}
	}
	for _, repo := range []string{"org/tiny-bert", "org/tiny-bert-sharded"} {
		embed(t, openEngine(t, Options{CacheDir: cache, Hub: hubOpts}), repo)
	}
	for _, r := range s.Requests() {
		for _, bad := range []string{"onnx", "pytorch_model.bin", "fp16", "README"} {
			if strings.Contains(r.Path, bad) && !strings.Contains(r.Path, "/api/") {
				t.Errorf("downloaded a file sie does not read: %s", r.Path)
			}
		}
	}
	if p := progress["org/tiny-bert/model.safetensors"]; p.Total == 0 || p.Done != p.Total || p.Total != int64(len(files["model.safetensors"])) {
		t.Errorf("progress for model.safetensors: %+v", p)
	}
	if p := progress["org/tiny-bert-sharded/model-00002-of-00002.safetensors"]; p.Total == 0 || p.Done != p.Total {
		t.Errorf("progress for the second shard: %+v", p)
	}
	if _, err := os.Readlink(filepath.Join(cache, "models--org--tiny-bert", "snapshots", commit, "1_Pooling", "config.json")); err != nil {
		t.Errorf("not in the hub cache layout: %v", err)
	}

	// Pinned commit and offline: no request.
	s.ResetRequests()
	if dir, ok := Cached("org/tiny-bert", Options{CacheDir: cache, Hub: HubOptions{Endpoint: s.URL}}); !ok || !strings.HasSuffix(dir, commit) {
		t.Errorf("Cached: %q %v", dir, ok)
	}
	if _, ok := Cached("org/other", Options{CacheDir: cache, Hub: HubOptions{Endpoint: s.URL}}); ok {
		t.Error("Cached: a model never downloaded")
	}
	embed(t, openEngine(t, Options{CacheDir: cache, Hub: HubOptions{Endpoint: s.URL}}), "org/tiny-bert@"+commit)
	t.Setenv("HF_HUB_OFFLINE", "1")
	embed(t, openEngine(t, Options{CacheDir: cache, Hub: HubOptions{Endpoint: s.URL}}), "org/tiny-bert")
	if n := len(s.Requests()); n != 0 {
		t.Errorf("pinned and offline loads sent %d requests: %v", n, s.Requests())
	}
	e := openEngine(t, Options{CacheDir: cache, Hub: HubOptions{Endpoint: s.URL}})
	_, err = e.Embed(ctx, "org/never-downloaded", []string{"x"})
	if !errors.Is(err, ErrOfflineNotCached) || !errors.Is(err, ErrModelNotFound) {
		t.Errorf("offline, not cached: %v", err)
	}
	t.Setenv("HF_HUB_OFFLINE", "")

	// Typed errors.
	e = openEngine(t, Options{CacheDir: t.TempDir(), Hub: HubOptions{Endpoint: s.URL}})
	for model, kind := range map[string]error{
		"org/no-such-repo":   ErrRepoNotFound,
		"org/tiny-bert@nope": ErrRevisionNotFound,
	} {
		_, err := e.Embed(ctx, model, []string{"x"})
		if !errors.Is(err, kind) || !errors.Is(err, ErrModelNotFound) {
			t.Errorf("%s: %v, want %v and ErrModelNotFound", model, err, kind)
		}
	}
	s.Serve("org/gated", files)
	s.Gate("org/gated", "hf_ok")
	if _, err := e.Embed(ctx, "org/gated", []string{"x"}); !errors.Is(err, ErrGated) || !errors.Is(err, ErrModelNotFound) {
		t.Errorf("gated: %v", err)
	}
	s.Serve("org/corrupt", files)
	s.Fail("org/corrupt", "model.safetensors", hubtest.Failure{Kind: hubtest.FlipByte})
	if _, err := e.Embed(ctx, "org/corrupt", []string{"x"}); !errors.Is(err, ErrIntegrity) {
		t.Errorf("corrupt: %v", err)
	}
	s.Serve("org/not-a-checkpoint", map[string][]byte{"README.md": []byte("hi"), "config.json": files["config.json"]})
	if _, err := e.Embed(ctx, "org/not-a-checkpoint", []string{"x"}); !errors.Is(err, ErrModelNotFound) || !strings.Contains(err.Error(), "tokenizer.json") {
		t.Errorf("not a checkpoint: %v", err)
	}
	for _, bad := range []string{"org/a/b", "../x", "org--x/y"} {
		if _, err := e.Embed(ctx, bad, []string{"x"}); !errors.Is(err, ErrModelNotFound) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestModelFiles(t *testing.T) {
	files := []string{
		".gitattributes", "README.md", "config.json", "tokenizer.json", "vocab.txt", "modules.json",
		"model.safetensors", "model.fp16.safetensors", "pytorch_model.bin", "tf_model.h5", "flax_model.msgpack",
		"onnx/model.onnx", "onnx/config.json", "openvino/openvino_model.xml",
		"1_Pooling/config.json", "2_Dense/config.json", "2_Dense/model.safetensors", "2_Dense/pytorch_model.bin",
		"3_Dense/config.json", "3_Dense/pytorch_model.bin", "sparse_linear.pt", "colbert_linear.pt", "idf.json",
		"query_token_weights.txt", "sentencepiece.bpe.model",
		"checkpoint-500/model.safetensors", "checkpoint-500/trainer_state.json",
	}
	want := []string{
		"config.json", "tokenizer.json", "vocab.txt", "modules.json", "model.safetensors",
		"1_Pooling/config.json", "2_Dense/config.json", "2_Dense/model.safetensors",
		"3_Dense/config.json", "3_Dense/pytorch_model.bin", "sparse_linear.pt", "colbert_linear.pt", "idf.json",
		"query_token_weights.txt", "checkpoint-500/trainer_state.json",
	}
	got := modelFiles(files)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("modelFiles:\n got %q\nwant %q", got, want)
	}
	// Only a dtype variant: it is what there is.
	if got := modelFiles([]string{"config.json", "model.fp16.safetensors"}); !slices.Contains(got, "model.fp16.safetensors") {
		t.Errorf("variant-only checkpoint: %q", got)
	}
	// Shards and their index.
	got = modelFiles([]string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json", "model.bf16.safetensors"})
	if len(got) != 3 || slices.Contains(got, "model.bf16.safetensors") {
		t.Errorf("sharded: %q", got)
	}
}
