package arch_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sie-project/sie/arch"
	"github.com/sie-project/sie/internal/golden"
)

func TestNewModelHiddenStates(t *testing.T) {
	for _, name := range []string{"newmodel", "stella"} {
		t.Run(name, func(t *testing.T) { checkFixture(t, name) })
	}
}

func TestNewModelPacking(t *testing.T) {
	checkPacking(t, "newmodel", []int{0, 1}, []int{6, 2, 3})
	checkPacking(t, "stella", []int{0, 1}, []int{3, 4})
}

// Scaled RoPE variants upstream does not have, and unsupported switches,
// are clear errors.
func TestNewModelUnsupported(t *testing.T) {
	config, err := os.ReadFile(filepath.Join(golden.Dir("newmodel"), "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ from, to, want string }{
		{`"type": "ntk"`, `"type": "linear"`, "rope_scaling"},
		{`"layer_norm_type": "layer_norm"`, `"layer_norm_type": "rms_norm"`, "layer_norm_type"},
		{`"logn_attention_scale": false`, `"logn_attention_scale": true`, "logn_attention_scale"},
	} {
		edited := strings.Replace(string(config), c.from, c.to, 1)
		if edited == string(config) {
			t.Fatalf("%s not found in config.json", c.from)
		}
		build, _, err := arch.Lookup([]byte(edited))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := build([]byte(edited), arch.NewWeights(emptySource{})); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one naming %s", c.to, err, c.want)
		}
	}
}

type emptySource struct{}

func (emptySource) Names() []string                          { return nil }
func (emptySource) Float32(string) ([]float32, []int, error) { return nil, nil, os.ErrNotExist }
