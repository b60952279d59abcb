package sie

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sie-project/sie/catalog"
)

func TestSameArchitecture(t *testing.T) {
	for _, tc := range []struct {
		entry, ckpt string
		same        bool
	}{
		{"BertModel", "BertModel", true},
		{"ModernBertForMaskedLM", "ModernBertModel", true},                // a pre-training checkpoint serves as the encoder
		{"Qwen2ForCausalLM", "Qwen2Model", true},                          // the LM head is unused
		{"JinaBertForMaskedLM", "JinaBertModel", true},                    // one builder, either name
		{"BertModel", "XLMRobertaModel", false},                           // another architecture
		{"XLMRobertaForSequenceClassification", "XLMRobertaModel", false}, // a head that matters
		{"BertForSequenceClassification", "BertModel", false},
		{"NewModel", "NomicBertModel", false},
	} {
		if got := sameArchitecture(tc.entry, tc.ckpt); got != tc.same {
			t.Errorf("sameArchitecture(%s, %s) = %v", tc.entry, tc.ckpt, got)
		}
	}
}

// The entry's templates replace the checkpoint's query and document
// prompts (even when the entry has none); named prompts are merged, the
// entry winning a name.
func TestSettingsPrompts(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config_sentence_transformers.json"),
		[]byte(`{"prompts": {"query": "ckpt query: ", "document": "ckpt doc: ", "clustering": "ckpt cluster: ", "shared": "ckpt shared: "}}`), 0o644)
	e, _ := catalog.Find("intfloat/e5-base-v2")
	e.Prompts = map[string]string{"shared": "entry shared: ", "extra": "entry extra: "}
	p, err := settingsPrompts(dir, entrySettings(e).prompts)
	if err != nil {
		t.Fatal(err)
	}
	apply := func(cfg callConfig) string {
		s, err := p.apply("x", &cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tc := range []struct {
		cfg  callConfig
		want string
	}{
		{callConfig{isQuery: true}, "query: x"},
		{callConfig{}, "passage: x"},
		{callConfig{promptName: "clustering"}, "ckpt cluster: x"},
		{callConfig{promptName: "shared"}, "entry shared: x"},
		{callConfig{promptName: "extra"}, "entry extra: x"},
		{callConfig{isQuery: true, noPrompt: true}, "x"},
	} {
		if got := apply(tc.cfg); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.cfg, got, tc.want)
		}
	}
	// An entry without templates applies none, whatever the checkpoint says.
	g, _ := catalog.Find("thenlper/gte-base")
	p, err = settingsPrompts(dir, entrySettings(g).prompts)
	if err != nil {
		t.Fatal(err)
	}
	if got := apply(callConfig{isQuery: true}); got != "x" {
		t.Errorf("gte-base query: %q, want no prompt", got)
	}
	// A directory (no entry) keeps its own prompts.
	p, err = settingsPrompts(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := apply(callConfig{isQuery: true}); got != "ckpt query: x" {
		t.Errorf("directory query: %q", got)
	}
}

// A profile narrows the settings' outputs and sets the Rerank default; the
// base entry narrows nothing.
func TestEntrySettingsProfiles(t *testing.T) {
	base, _ := catalog.Find("BAAI/bge-m3")
	if s := entrySettings(base); s.outputs != 0 || s.scoreMode != ScoreDense {
		t.Errorf("bge-m3: outputs %v, score mode %q", s.outputs, s.scoreMode)
	}
	for name, want := range map[string]outputSet{"sparse": outSparse, "colbert": outMulti, "dense": outDense, "hybrid": outDense | outSparse | outMulti} {
		e, _ := catalog.Find("BAAI/bge-m3:" + name)
		if s := entrySettings(e); s.outputs != want {
			t.Errorf("%s: outputs %v, want %v", name, s.outputs, want)
		}
	}
	r, _ := catalog.Find("cross-encoder/ms-marco-MiniLM-L-6-v2")
	if s := entrySettings(r); s.scoreActivation != ScoreRaw {
		t.Errorf("ms-marco activation %q, want %q", s.scoreActivation, ScoreRaw)
	}
	sp, _ := catalog.Find("naver/splade-v3")
	if s := entrySettings(sp); !s.splade || s.pooling != nil {
		t.Errorf("splade-v3: splade %v, pooling %v", s.splade, s.pooling)
	}
}
