package tokenizer

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// Test tokenizers are described in testdata/specs.json: a committed base
// tokenizer.json plus top-level overrides (tools/oracle/lib.js does the same).
type testSpec struct {
	Base     string                     `json:"base"`
	Doc      string                     `json:"doc"`
	Override map[string]json.RawMessage `json:"override"`
}

var (
	specsOnce sync.Once
	specs     map[string]testSpec
	specsErr  error
	tokMu     sync.Mutex
	tokCache  = map[string]*Tokenizer{}
)

func loadSpecs(t testing.TB) map[string]testSpec {
	specsOnce.Do(func() {
		var b []byte
		if b, specsErr = os.ReadFile("testdata/specs.json"); specsErr == nil {
			specsErr = json.Unmarshal(b, &specs)
		}
	})
	if specsErr != nil {
		t.Fatal(specsErr)
	}
	return specs
}

func readMaybeGz(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, err
		}
		defer gz.Close()
		r = gz
	}
	return io.ReadAll(r)
}

func specJSON(t testing.TB, name string) []byte {
	sp, ok := loadSpecs(t)[name]
	if !ok {
		t.Fatalf("unknown spec %q", name)
	}
	base, err := readMaybeGz(filepath.Join("testdata", sp.Base))
	if err != nil {
		t.Fatal(err)
	}
	if len(sp.Override) == 0 {
		return base
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(base, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range sp.Override {
		m[k] = v
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func specTokenizer(t testing.TB, name string) *Tokenizer {
	tokMu.Lock()
	defer tokMu.Unlock()
	if tk, ok := tokCache[name]; ok {
		return tk
	}
	tk, err := FromJSON(specJSON(t, name))
	if err != nil {
		t.Fatalf("spec %s: %v", name, err)
	}
	tokCache[name] = tk
	return tk
}

func specNames(t testing.TB) []string {
	var names []string
	for n := range loadSpecs(t) {
		names = append(names, n)
	}
	sortStrings(names)
	return names
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j-1] > s[j]; j-- {
			s[j-1], s[j] = s[j], s[j-1]
		}
	}
}

// goldenTrunc is a case's truncation: absent = the file's own, null = off.
type goldenTrunc struct {
	MaxLength int    `json:"max_length"`
	Strategy  string `json:"strategy"`
	Direction string `json:"direction"`
	Stride    int    `json:"stride"`
}

type goldenCase struct {
	Text       string          `json:"text"`
	Pair       *string         `json:"pair,omitempty"`
	AddSpecial *bool           `json:"add_special,omitempty"`
	Trunc      json.RawMessage `json:"trunc,omitempty"`

	Error             string   `json:"error,omitempty"`
	IDs               []int    `json:"ids"`
	TypeIDs           []int    `json:"type_ids"`
	SpecialTokensMask []int    `json:"special_tokens_mask"`
	AttentionMask     []int    `json:"attention_mask"`
	Tokens            []string `json:"tokens"`
	Offsets           [][2]int `json:"offsets"`
}

func readGoldenCases(t testing.TB, path string) []goldenCase {
	b, err := readMaybeGz(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseGoldenCases(t, b)
}

func parseGoldenCases(t testing.TB, b []byte) []goldenCase {
	var out []goldenCase
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	sc.Buffer(make([]byte, 1<<20), 1<<28)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var c goldenCase
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("bad golden line %q: %v", line[:min(len(line), 200)], err)
		}
		out = append(out, c)
	}
	return out
}

// runCase encodes a golden case with tk and describes the first difference
// ("" when it matches exactly).
func runCase(tk *Tokenizer, c goldenCase) string {
	addSpecial := c.AddSpecial == nil || *c.AddSpecial
	if len(c.Trunc) > 0 {
		if string(c.Trunc) == "null" {
			tk = tk.WithTruncation(nil)
		} else {
			var gt goldenTrunc
			if err := json.Unmarshal(c.Trunc, &gt); err != nil {
				return "bad trunc: " + err.Error()
			}
			tk = tk.WithTruncation(&Truncation{MaxLength: gt.MaxLength, Stride: gt.Stride, Strategy: gt.Strategy, Direction: gt.Direction})
		}
	}
	var enc *Encoding
	var err error
	if c.Pair != nil {
		enc, err = tk.EncodePair(c.Text, *c.Pair, addSpecial)
	} else {
		enc, err = tk.Encode(c.Text, addSpecial)
	}
	if c.Error != "" {
		want := oracleError(c.Error)
		if want == nil {
			return fmt.Sprintf("unmapped oracle error %q", c.Error)
		}
		if !errors.Is(err, want) {
			return fmt.Sprintf("want error %v, got err=%v", want, err)
		}
		return ""
	}
	if err != nil {
		return fmt.Sprintf("unexpected error %v", err)
	}
	for _, f := range []struct {
		name      string
		got, want any
	}{
		{"ids", enc.IDs, c.IDs},
		{"type_ids", enc.TypeIDs, c.TypeIDs},
		{"special_tokens_mask", enc.SpecialTokensMask, c.SpecialTokensMask},
		{"attention_mask", enc.AttentionMask, c.AttentionMask},
		{"tokens", enc.Tokens, c.Tokens},
		{"offsets", enc.Offsets, c.Offsets},
	} {
		if !reflect.DeepEqual(normEmpty(f.got), normEmpty(f.want)) {
			return fmt.Sprintf("%s: got %v want %v", f.name, f.got, f.want)
		}
	}
	return ""
}

func normEmpty(v any) any {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice && rv.Len() == 0 {
		return nil
	}
	return v
}

// oracleError maps the binding's error messages to this package's errors.
func oracleError(msg string) error {
	switch {
	case strings.Contains(msg, "Sequence to truncate too short to respect the provided max_length"):
		return ErrSequenceTooShort
	case strings.Contains(msg, "Second sequence not provided"):
		return ErrSecondSequenceNotProvided
	}
	return nil
}

func describeCase(c goldenCase) string {
	s := fmt.Sprintf("text=%q", trunc(c.Text))
	if c.Pair != nil {
		s += fmt.Sprintf(" pair=%q", trunc(*c.Pair))
	}
	if c.AddSpecial != nil {
		s += fmt.Sprintf(" add_special=%v", *c.AddSpecial)
	}
	if len(c.Trunc) > 0 {
		s += " trunc=" + string(c.Trunc)
	}
	return s
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
