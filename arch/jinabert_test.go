package arch_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sie-project/sie/arch"
	"github.com/sie-project/sie/internal/golden"
)

func TestJinaBertHiddenStates(t *testing.T) { checkFixture(t, "jinabert") }

func TestJinaBertPacking(t *testing.T) { checkPacking(t, "jinabert", []int{0, 1}, []int{4, 2, 7}) }

// JinaBert's config.json says model_type "bert": it must be told apart by
// architectures / auto_map, and plain BERT must still reach BertModel.
func TestJinaBertLookup(t *testing.T) {
	for fixture, want := range map[string]string{"jinabert": "JinaBertModel", "bert-mean": "BertModel"} {
		config, err := os.ReadFile(filepath.Join(golden.Dir(fixture), "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		if _, got, err := arch.Lookup(config); err != nil || got != want {
			t.Errorf("%s: Lookup = %q, %v; want %q", fixture, got, err, want)
		}
	}
	// Only auto_map names the class (architectures absent).
	onlyAutoMap := []byte(`{"model_type": "bert", "auto_map": {"AutoModel": "jinaai/jina-bert-implementation--modeling_bert.JinaBertModel"}}`)
	if _, got, err := arch.Lookup(onlyAutoMap); err != nil || got != "JinaBertModel" {
		t.Errorf("auto_map only: Lookup = %q, %v; want JinaBertModel", got, err)
	}
}
