package tokenizer

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Live comparison against the oracle (npm tokenizers via Node), for inputs
// too large to commit. Enable with SIE_TOKENIZER_ORACLE=1; needs node and
// tools/node/node_modules (cd tools/node && ONNXRUNTIME_NODE_INSTALL=skip npm ci).
//
//	SIE_TOKENIZER_CORPUS=dir   nlp-corpus "builds" directory (doc-*.json) to encode in full
//	SIE_TOKENIZER_RANDOM=n     number of random strings per tokenizer (default 5000)
//	SIE_TOKENIZER_SEED=n       seed for them (default 1)
//	SIE_TOKENIZER_SPECS=a,b    restrict to these test tokenizers
//	SIE_TOKENIZER_SWEEP_MAX=hex code point sweep bound (default 10ffff)

func oracleEnabled(t *testing.T) {
	if os.Getenv("SIE_TOKENIZER_ORACLE") == "" {
		t.Skip("set SIE_TOKENIZER_ORACLE=1 to compare with the live oracle")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("SIE_TOKENIZER_ORACLE is set but node is not in PATH")
	}
}

func oracleScript() string { return filepath.Join("..", "tools", "oracle", "gen_goldens.js") }

func runNode(t *testing.T, stdin []byte, args ...string) []byte {
	cmd := exec.Command("node", append([]string{oracleScript()}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %v: %v\n%s", args, err, errb.String())
	}
	return out.Bytes()
}

func liveSpecs(t *testing.T) []string {
	if s := os.Getenv("SIE_TOKENIZER_SPECS"); s != "" {
		return strings.Split(s, ",")
	}
	return specNames(t)
}

// randomText builds strings from pieces that exercise every stage: words,
// special-token literals, whitespace variants, marks, CJK, emoji, controls
// and random code points from all planes.
func randomText(r *rand.Rand) string {
	pieces := []string{
		"hello", "World", "[CLS]", "[SEP]", "[MASK]", "[unused0]", "<mask>", "<s>", "</s>", "<sep>", "Café", "e\u0301",
		"Ｑｕｅｒｙ:", " ", "  ", "\t", "\n", "\u00a0", "\u3000", "\u200b", "\u0301", "\u0323", "中", "文", "😀", "👍🏽",
		"\u0000", "\u0085", "İ", "ß", "ﬁ", "Ⅻ", "각", "\u1100\u1161", ",", ".", "!", "'", "-", "unaffable", "supercalifragilistic",
	}
	var b strings.Builder
	n := 1 + r.Intn(12)
	for i := 0; i < n; i++ {
		switch r.Intn(4) {
		case 0:
			for {
				cp := rune(r.Intn(0x110000))
				if r.Intn(2) == 0 {
					cp = rune(r.Intn(0x3000))
				}
				if !isSurrogate(cp) {
					b.WriteRune(cp)
					break
				}
			}
		default:
			b.WriteString(pieces[r.Intn(len(pieces))])
		}
		if r.Intn(3) == 0 {
			b.WriteByte(' ')
		}
	}
	if r.Intn(20) == 0 {
		return strings.Repeat(b.String(), 1+r.Intn(40))
	}
	return b.String()
}

func liveCases(t *testing.T) []goldenCase {
	seed, _ := strconv.ParseInt(os.Getenv("SIE_TOKENIZER_SEED"), 10, 64)
	if seed == 0 {
		seed = 1
	}
	nRandom := 5000
	if s := os.Getenv("SIE_TOKENIZER_RANDOM"); s != "" {
		nRandom, _ = strconv.Atoi(s)
	}
	r := rand.New(rand.NewSource(seed))
	var texts []string
	if dir := os.Getenv("SIE_TOKENIZER_CORPUS"); dir != "" {
		files, _ := filepath.Glob(filepath.Join(dir, "doc-*.json"))
		sort.Strings(files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var doc []string
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			texts = append(texts, doc...)
		}
		if len(texts) == 0 {
			t.Fatalf("no doc-*.json in %s", dir)
		}
	}
	for i := 0; i < nRandom; i++ {
		texts = append(texts, randomText(r))
	}
	var cases []goldenCase
	strategies := []string{"LongestFirst", "OnlyFirst", "OnlySecond"}
	directions := []string{"Right", "Left"}
	for i, s := range texts {
		c := goldenCase{Text: s}
		switch i % 5 {
		case 1:
			p := texts[r.Intn(len(texts))]
			c.Pair = &p
		case 2:
			p := texts[r.Intn(len(texts))]
			c.Pair = &p
			tr, _ := json.Marshal(goldenTrunc{MaxLength: r.Intn(40), Strategy: strategies[r.Intn(3)], Direction: directions[r.Intn(2)]})
			c.Trunc = tr
		case 3:
			f := false
			c.AddSpecial = &f
		}
		cases = append(cases, c)
	}
	return cases
}

func TestOracleLive(t *testing.T) {
	oracleEnabled(t)
	cases := liveCases(t)
	in := encodeInputs(t, cases)
	for _, name := range liveSpecs(t) {
		t.Run(name, func(t *testing.T) {
			specFile := filepath.Join(t.TempDir(), "tokenizer.json")
			if err := os.WriteFile(specFile, specJSON(t, name), 0o644); err != nil {
				t.Fatal(err)
			}
			got := parseGoldenCases(t, runNode(t, in, "--tokenizer", specFile, "--inputs", "-", "--out", "-"))
			if len(got) != len(cases) {
				t.Fatalf("oracle returned %d results for %d cases", len(got), len(cases))
			}
			tk := specTokenizer(t, name)
			bad := 0
			for _, c := range got {
				if diff := runCase(tk, c); diff != "" {
					bad++
					if bad <= 10 {
						t.Errorf("%s\n  %s", describeCase(c), diff)
					}
				}
			}
			t.Logf("%s: %d/%d live cases agree with the oracle", name, len(got)-bad, len(got))
		})
	}
}

func TestOracleLiveSweep(t *testing.T) {
	liveSweep(t, "10ffff", sweepSpecs)
}

// liveSweep compares every code point up to $SIE_TOKENIZER_SWEEP_MAX
// (default defMax), alone and inside text, with the oracle for the specs in
// $SIE_TOKENIZER_SPECS (default specs).
func liveSweep(t *testing.T, defMax string, specs []string) {
	oracleEnabled(t)
	max := defMax
	if s := os.Getenv("SIE_TOKENIZER_SWEEP_MAX"); s != "" {
		max = s
	}
	if s := os.Getenv("SIE_TOKENIZER_SPECS"); s != "" {
		specs = strings.Split(s, ",")
	}
	for _, name := range specs {
		t.Run(name, func(t *testing.T) {
			out := runNode(t, nil, "--sweep", name, "--max", max, "--out", "-")
			lines, m := expandSweep(t, bytes.NewReader(out))
			agree := checkSweep(t, specTokenizer(t, name), lines, m)
			t.Logf("%s: %d/%d live code point encodings agree (max U+%04X)", name, agree, len(lines), m)
		})
	}
}

// encodeInputs writes cases as the oracle script's JSON-lines input.
func encodeInputs(t *testing.T, cases []goldenCase) []byte {
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, c := range cases {
		m := map[string]any{"text": c.Text}
		if c.Pair != nil {
			m["pair"] = *c.Pair
		}
		if c.AddSpecial != nil {
			m["add_special"] = *c.AddSpecial
		}
		if len(c.Trunc) > 0 {
			m["trunc"] = c.Trunc
		}
		if err := enc.Encode(m); err != nil {
			t.Fatal(err)
		}
	}
	return in.Bytes()
}
