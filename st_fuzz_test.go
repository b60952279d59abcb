package sie

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/sie-project/sie/internal/golden"
	"github.com/sie-project/sie/tokenizer"
)

var (
	fuzzTokOnce sync.Once
	fuzzTok     *tokenizer.Tokenizer
	fuzzTokErr  error
)

// FuzzSentenceTransformersFiles fuzzes the sentence-transformers module
// files a checkpoint brings: modules.json, the Pooling, SpladePooling and
// Dense configs, sentence_bert_config.json and
// config_sentence_transformers.json. Reading them must never panic, must
// fail with ErrInvalidModel or ErrUnsupportedArchitecture when it fails, and
// must refuse module paths outside the model directory.
func FuzzSentenceTransformersFiles(f *testing.F) {
	read := func(parts ...string) []byte {
		b, _ := os.ReadFile(filepath.Join(append([]string{golden.Dir(parts[0])}, parts[1:]...)...))
		return b
	}
	for _, fx := range []struct{ name, pooling, dense string }{
		{"bert-mean", "1_Pooling", ""},
		{"stella", "1_Pooling", "2_Dense"},
		{"colbert", "", "1_Dense"},
		{"splade", "1_SpladePooling", ""},
	} {
		var pool, dense []byte
		if fx.pooling != "" {
			pool = read(fx.name, fx.pooling, "config.json")
		}
		if fx.dense != "" {
			dense = read(fx.name, fx.dense, "config.json")
		}
		f.Add(read(fx.name, "modules.json"), pool, dense, read(fx.name, "sentence_bert_config.json"), read(fx.name, "config_sentence_transformers.json"))
	}
	f.Add([]byte(`[{"path":"","type":"sentence_transformers.models.Transformer"},{"path":"../../1_Pooling","type":"sentence_transformers.models.Pooling"}]`), []byte(nil), []byte(nil), []byte(nil), []byte(nil))
	f.Add([]byte(`[{"path":"/etc","type":"sentence_transformers.models.Pooling"}]`), []byte(nil), []byte(nil), []byte(`{"max_seq_length":-1}`), []byte(`{"prompts":{"query":5}}`))
	f.Fuzz(func(t *testing.T, modules, pooling, dense, stConfig, prompts []byte) {
		fuzzTokOnce.Do(func() {
			fuzzTok, fuzzTokErr = tokenizer.FromFile(filepath.Join(golden.Dir("bert-mean"), "tokenizer.json"))
		})
		if fuzzTokErr != nil {
			t.Fatal(fuzzTokErr)
		}
		dir := t.TempDir()
		files := map[string][]byte{
			"modules.json":                      modules,
			"1_Pooling/config.json":             pooling,
			"1_SpladePooling/config.json":       pooling,
			"1_Dense/config.json":               dense,
			"2_Dense/config.json":               dense,
			"sentence_bert_config.json":         stConfig,
			"config_sentence_transformers.json": prompts,
		}
		for name, b := range files {
			if len(b) == 0 { // absent
				continue
			}
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		kind := func(what string, err error) {
			if err != nil && !errors.Is(err, ErrInvalidModel) && !errors.Is(err, ErrUnsupportedArchitecture) {
				t.Fatalf("%s: error of no kind: %v", what, err)
			}
		}
		_, err := readPooling(dir)
		kind("modules", err)
		if err == nil {
			var ms []stModule
			if found, _ := readJSON(filepath.Join(dir, "modules.json"), &ms); found {
				for _, m := range ms {
					if m.Path != "" && !filepath.IsLocal(m.Path) {
						t.Fatalf("module path %q outside the model directory accepted", m.Path)
					}
				}
			}
		}
		_, err = readPrompts(dir)
		kind("prompts", err)
		_, err = readMaxLength(dir, fuzzTok, 0)
		kind("max length", err)
	})
}
