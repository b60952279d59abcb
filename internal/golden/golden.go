// Package golden reads the upstream fixtures in testdata/fixtures and
// compares float vectors the way their README prescribes.
package golden

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
)

// Input is one recorded text (or pair) and the exact token ids upstream fed
// the model.
type Input struct {
	Text          string   `json:"text"`
	Pair          []string `json:"pair"`
	RawText       *string  `json:"raw_text"`
	Prompt        *string  `json:"prompt"`
	InputIDs      []int    `json:"input_ids"`
	AttentionMask []int    `json:"attention_mask"`
	TokenTypeIDs  []int    `json:"token_type_ids"`
	Tokens        []string `json:"tokens"`
	NumTokens     int      `json:"num_tokens"`
}

// Case is one fixture's golden.json.
type Case struct {
	Name    string                     `json:"case"`
	Inputs  []Input                    `json:"inputs"`
	Outputs map[string]json.RawMessage `json:"outputs"`
	Prompts map[string]string          `json:"prompts"`
	Dir     string                     `json:"-"`
}

// Dir returns the folder of fixture name inside the repository's testdata.
func Dir(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "fixtures", name)
}

// Load reads fixture name.
func Load(name string) (*Case, error) {
	dir := Dir(name)
	data, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		return nil, err
	}
	c := &Case{Dir: dir}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("%s/golden.json: %w", name, err)
	}
	return c, nil
}

// Output decodes outputs[key] into v.
func (c *Case) Output(key string, v any) error {
	raw, ok := c.Outputs[key]
	if !ok {
		return fmt.Errorf("%s: no output %q", c.Name, key)
	}
	return json.Unmarshal(raw, v)
}

// MaxAbsDiff is max |a_i − b_i|; +Inf when the lengths differ.
func MaxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var m float64
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		if d > m || math.IsNaN(d) {
			m = d
			if math.IsNaN(d) {
				return math.Inf(1)
			}
		}
	}
	return m
}

// Cosine is the cosine similarity of a and b in float64; 0 when the lengths
// differ or a vector is zero.
func Cosine(a, b []float32) float64 {
	if len(a) != len(b) {
		return 0
	}
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

// Head formats the first n values of v for failure messages.
func Head(v []float32, n int) string {
	if len(v) < n {
		n = len(v)
	}
	return fmt.Sprint(v[:n])
}
