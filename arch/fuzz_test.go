package arch_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sie-project/sie/arch"
)

// FuzzConfig feeds config.json files to every registered architecture:
// Lookup, the architecture's parser and validation, and the weight requests
// its builder makes. None may panic, hang or allocate by the numbers a
// config claims (a billion layers, a terabyte hidden size).
func FuzzConfig(f *testing.F) {
	paths, _ := filepath.Glob("../testdata/fixtures/*/config.json")
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, name := range arch.Supported() {
		f.Add([]byte(`{"architectures":["` + name + `"],"hidden_size":1099511627776,"num_attention_heads":1,"num_hidden_layers":1000000000,"intermediate_size":-1}`))
		f.Add([]byte(`{"architectures":["` + name + `"],"hidden_size":64,"num_attention_heads":4,"num_key_value_heads":4,"num_hidden_layers":100000000,"intermediate_size":128,"vocab_size":100,"max_position_embeddings":512}`))
		f.Add([]byte(`{"architectures":["` + name + `"],"hidden_size":4294967296,"num_attention_heads":1,"num_key_value_heads":1,"num_hidden_layers":1,"intermediate_size":128,"vocab_size":100,"max_position_embeddings":512}`))
		f.Add([]byte(`{"architectures":["` + name + `"],"hidden_size":64,"num_attention_heads":4,"num_hidden_layers":2,"intermediate_size":128,"vocab_size":100,"max_position_embeddings":9223372036854775807}`))
	}
	f.Fuzz(func(t *testing.T, config []byte) {
		build, _, err := arch.Lookup(config)
		if err != nil {
			return
		}
		w := arch.NewWeights(emptySource{})
		enc, err := build(config, w)
		if err != nil {
			return
		}
		if err := w.Check(); err == nil {
			t.Fatalf("%T built from no tensors at all", enc)
		}
	})
}
