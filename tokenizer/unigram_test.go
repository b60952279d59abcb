package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"
)

// Tests of the SentencePiece Unigram path: the xlmr fixture's tokenizer
// (real nmt_nfkc Precompiled charsmap) and the syn-unigram-* variants of
// testdata/specs.json. Their encodings are also in TestGoldens; the goldens
// come from tools/oracle/gen_unigram_goldens.js.

var unigramSweepSpecs = []string{"xlmr"}

// TestUnigramCodePointSweep: every code point up to U+3FFFF alone and in
// "a<cp>b c", against the committed oracle sweep.
func TestUnigramCodePointSweep(t *testing.T) {
	for _, name := range unigramSweepSpecs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, err := readMaybeGz(filepath.Join("testdata", "goldens", "sweep-"+name+".txt.gz"))
			if err != nil {
				t.Fatal(err)
			}
			lines, max := expandSweep(t, bytes.NewReader(b))
			agree := checkSweep(t, specTokenizer(t, name), lines, max)
			t.Logf("%s: %d/%d code point encodings agree (max U+%04X)", name, agree, len(lines), max)
		})
	}
}

// TestOracleLiveUnigramSweep is the live sweep up to SIE_TOKENIZER_SWEEP_MAX
// (default U+10FFFF) of the xlmr tokenizer, or of the specs listed in
// SIE_TOKENIZER_SPECS.
func TestOracleLiveUnigramSweep(t *testing.T) {
	liveSweep(t, "10ffff", unigramSweepSpecs)
}

// corpusSentences reads the nlp-corpus builds directory (doc-*.json).
func corpusSentences(t *testing.T, dir string) []string {
	files, _ := filepath.Glob(filepath.Join(dir, "doc-*.json"))
	sort.Strings(files)
	var texts []string
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
	return texts
}

// compareLive sends cases to the oracle for spec and compares; it returns
// the oracle's records and the indices that disagree.
func compareLive(t *testing.T, spec string, cases []map[string]any) ([]goldenCase, []int) {
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, c := range cases {
		if err := enc.Encode(c); err != nil {
			t.Fatal(err)
		}
	}
	specFile := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(specFile, specJSON(t, spec), 0o644); err != nil {
		t.Fatal(err)
	}
	got := parseGoldenCases(t, runNode(t, in.Bytes(), "--tokenizer", specFile, "--inputs", "-", "--out", "-"))
	if len(got) != len(cases) {
		t.Fatalf("oracle returned %d results for %d cases", len(got), len(cases))
	}
	tk := specTokenizer(t, spec)
	var bad []int
	for i, c := range got {
		if diff := runCase(tk, c); diff != "" {
			bad = append(bad, i)
			if len(bad) <= 10 {
				t.Errorf("%s\n  %s", describeCase(c), diff)
			}
		}
	}
	return got, bad
}

// TestOracleLiveUnigramPairs: (query, passage) pairs built from the corpus
// (query: the first words of a sentence, passage: the next sentences; every
// other pair the other way round: long first, short second), each
// under LongestFirst, OnlyFirst and OnlySecond, left and right, at max
// lengths from below the template's 4 special tokens to 256. Needs
// SIE_TOKENIZER_ORACLE=1 and SIE_TOKENIZER_CORPUS; SIE_TOKENIZER_PAIRS sets
// the number of pairs (default 10000).
func TestOracleLiveUnigramPairs(t *testing.T) {
	oracleEnabled(t)
	dir := os.Getenv("SIE_TOKENIZER_CORPUS")
	if dir == "" {
		t.Skip("set SIE_TOKENIZER_CORPUS to the nlp-corpus builds directory")
	}
	nPairs := 10000
	if s := os.Getenv("SIE_TOKENIZER_PAIRS"); s != "" {
		fmt.Sscan(s, &nPairs)
	}
	texts := corpusSentences(t, dir)
	lengths := []int{3, 4, 5, 6, 8, 12, 16, 24, 32, 64, 128, 256}
	strategies := []string{"LongestFirst", "OnlyFirst", "OnlySecond"}
	var cases []map[string]any
	for i := 0; i < nPairs; i++ {
		k := (i * 16) % (len(texts) - 4)
		words := strings.Fields(texts[k])
		q := strings.Join(words[:min(len(words), 3+i%10)], " ")
		p := strings.Join(texts[k+1:k+2+i%3], " ")
		if i%2 == 1 {
			// A long first sequence and a short second one, so that
			// OnlyFirst has room to truncate.
			q, p = strings.Join(texts[k:k+1+i%3], " "), strings.Join(strings.Fields(texts[k+3])[:min(len(strings.Fields(texts[k+3])), 2+i%8)], " ")
		}
		for si, s := range strategies {
			dirn := "Right"
			if (i+si)%2 == 1 {
				dirn = "Left"
			}
			cases = append(cases, map[string]any{"text": q, "pair": p,
				"trunc": map[string]any{"max_length": lengths[(i+5*si)%len(lengths)], "strategy": s, "direction": dirn, "stride": 0}})
		}
	}
	for _, spec := range []string{"xlmr", "syn-unigram-llama"} {
		t.Run(spec, func(t *testing.T) {
			got, bad := compareLive(t, spec, cases)
			count := map[string][2]int{}
			for _, c := range got {
				var tr goldenTrunc
				_ = json.Unmarshal(c.Trunc, &tr)
				n := count[tr.Strategy]
				n[0]++
				if c.Error != "" {
					n[1]++
				}
				count[tr.Strategy] = n
			}
			for _, s := range strategies {
				t.Logf("%s %s: %d pairs (%d of them the oracle's truncation error)", spec, s, count[s][0], count[s][1])
			}
			t.Logf("%s: %d/%d live pair cases agree with the oracle", spec, len(got)-len(bad), len(got))
		})
	}
}

// TestOracleLiveGraphemePool: random strings over characters of every
// grapheme-break class through the synthetic charsmap (SIE_TOKENIZER_POOL
// strings, default 20000).
func TestOracleLiveGraphemePool(t *testing.T) {
	oracleEnabled(t)
	n := "20000"
	if s := os.Getenv("SIE_TOKENIZER_POOL"); s != "" {
		n = s
	}
	cmd := exec.Command("node", filepath.Join("..", "tools", "oracle", "gen_unigram_goldens.js"), "--pool", n, "--seed", "7")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	var cases []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var c map[string]any
		if err := json.Unmarshal([]byte(l), &c); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, c)
	}
	got, bad := compareLive(t, "syn-unigram-graphemes", cases)
	t.Logf("syn-unigram-graphemes: %d/%d live pool strings agree with the oracle", len(got)-len(bad), len(got))
}

func TestUnigramConfigErrors(t *testing.T) {
	base := specJSON(t, "xlmr")
	for _, c := range []struct{ key, value, want string }{
		{"model", `{"type":"Unigram","unk_id":0}`, "Missing vocab"},
		{"model", `{"type":"Unigram","unk_id":0,"vocab":[]}`, "EmptyVocabulary"},
		{"model", `{"type":"Unigram","unk_id":2,"vocab":[["a",-1],["b",-2]]}`, "UnkIdNotInVocabulary"},
		{"model", `{"type":"Unigram","unk_id":0,"vocab":[["a","x"]]}`, "vocab entry 0"},
		{"normalizer", `{"type":"Precompiled","precompiled_charsmap":""}`, "Cannot parse precompiled_charsmap"},
		{"normalizer", `{"type":"Precompiled","precompiled_charsmap":"not base64!"}`, "precompiled_charsmap"},
		{"normalizer", `{"type":"Precompiled"}`, "missing precompiled_charsmap"},
		{"normalizer", `{"type":"Replace","pattern":{"Regex":"(?=x)"},"content":""}`, "only (?: groups"},
		{"normalizer", `{"type":"Replace","pattern":{"Regex":"^x"},"content":""}`, "not supported"},
		{"normalizer", `{"type":"Replace","pattern":{"Regex":"\\bx"},"content":""}`, "not supported"},
		{"normalizer", `{"type":"Replace","pattern":{"Regex":"a++"},"content":""}`, "possessive"},
		{"normalizer", `{"type":"Replace","pattern":{"String":"x"}}`, "content"},
		{"normalizer", `{"type":"Prepend"}`, "prepend"},
		{"pre_tokenizer", `{"type":"Metaspace","replacement":"▁","prepend_scheme":"sometimes"}`, "prepend_scheme"},
		{"pre_tokenizer", `{"type":"Metaspace","replacement":"▁","add_prefix_space":false,"prepend_scheme":"always"}`, "add_prefix_space does not match"},
		{"pre_tokenizer", `{"type":"Metaspace","replacement":"ab"}`, "one character"},
		{"decoder", `{"type":"NoSuchDecoder"}`, `unsupported decoder type "NoSuchDecoder"`},
		{"decoder", `{"type":"Sequence","decoders":[{"type":"Fuse"},{"type":"NoSuchDecoder"}]}`, `unsupported decoder type "NoSuchDecoder"`},
		{"decoder", `{"type":"Strip","content":" ","start":-1,"stop":0}`, "Strip"},
	} {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(base, &m); err != nil {
			t.Fatal(err)
		}
		m[c.key] = json.RawMessage(c.value)
		b, _ := json.Marshal(m)
		_, err := FromJSON(b)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s=%s: error %v, want it to mention %s", c.key, c.value, err, c.want)
		}
	}
	// Without unk_id, an unknown character is an error (the crate's MissingUnkId).
	var m map[string]json.RawMessage
	_ = json.Unmarshal(base, &m)
	m["model"] = json.RawMessage(`{"type":"Unigram","vocab":[["▁",-1],["a",-2]]}`)
	b, _ := json.Marshal(m)
	tk, err := FromJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Encode("a a", false); err != nil {
		t.Errorf("known characters: %v", err)
	}
	if _, err := tk.Encode("ab", false); err == nil || !strings.Contains(err.Error(), "unk_id") {
		t.Errorf("unknown character without unk_id: %v", err)
	}
}

func TestOnigToRE2(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{" {2,}", " {2,}"},
		{`\s+`, `[\t\n\v\f\r\x{85}\p{Z}]+`},
		{`[\s\d]x`, `[\t\n\v\f\r\x{85}\p{Z}\p{Nd}]x`},
		{`\S\W`, `[^\t\n\v\f\r\x{85}\p{Z}][^\p{L}\p{M}\p{Nd}\p{Pc}]`},
		{`\u2581|\x{2581}\x41\.`, `\x{2581}|\x{2581}\x41\.`},
		{`(?:ab)*?c{1,3}[^]a-z]`, `(?:ab)*?c{1,3}[^]a-z]`},
	} {
		got, err := onigToRE2(c.in)
		if err != nil || got != c.want {
			t.Errorf("onigToRE2(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{`a$`, `(?i)a`, `(?<=a)b`, `\1`, `\p{L}`, `[[:alpha:]]`, `[a&&b]`, `\h`, `a{,3}`, `a?+`, `[\S]`, `\k<x>`} {
		if _, err := onigToRE2(bad); err == nil {
			t.Errorf("onigToRE2(%q) accepted", bad)
		}
	}
}

// TestGraphemeClusters checks the segmentation on UAX #29 examples
// (Unicode 17 rules); the syn-unigram-graphemes goldens check it against the
// crate itself.
func TestGraphemeClusters(t *testing.T) {
	split := func(s string) []string {
		var out []string
		b := []byte(s)
		for i := 0; i < len(b); {
			j := graphemeEnd(b, i)
			out = append(out, s[i:j])
			i = j
		}
		return out
	}
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"abc", []string{"a", "b", "c"}},
		{"\r\n\n\r", []string{"\r\n", "\n", "\r"}},
		{"e\u0301\u0323x", []string{"e\u0301\u0323", "x"}},
		{"\u0001\u0301", []string{"\u0001", "\u0301"}},
		{"\u1100\u1161\u11a8\u1100", []string{"\u1100\u1161\u11a8", "\u1100"}},
		{"\uac00\u11a8\uac01\u1161", []string{"\uac00\u11a8", "\uac01", "\u1161"}},
		{"\u0600x\u0903y", []string{"\u0600x\u0903", "y"}},
		{"\U0001F468\u200d\U0001F469\u200d\U0001F467!", []string{"\U0001F468\u200d\U0001F469\u200d\U0001F467", "!"}},
		{"a\u200d\U0001F469", []string{"a\u200d", "\U0001F469"}},
		{"\U0001F1E6\U0001F1E7\U0001F1E8\U0001F1E9\U0001F1EA", []string{"\U0001F1E6\U0001F1E7", "\U0001F1E8\U0001F1E9", "\U0001F1EA"}},
		{"\u0915\u094d\u0937\u093f", []string{"\u0915\u094d\u0937\u093f"}},
		{"\u0915\u093c\u200d\u094d\u0937", []string{"\u0915\u093c\u200d\u094d\u0937"}},
		{"\u0915\u094d\u0061", []string{"\u0915\u094d", "a"}},
		{"A\U0001E5EE", []string{"A\U0001E5EE"}},
	} {
		if got := split(c.in); fmt.Sprintf("%q", got) != fmt.Sprintf("%q", c.want) {
			t.Errorf("clusters of %q = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestXLMRFixtureIDs: the token ids the xlmr and xlmr-rerank fixtures
// recorded (computed upstream with the Node binding) come out of Encode /
// EncodePair. (testdata/fixtures is the committed copy of the fixtures.)
func TestXLMRFixtureIDs(t *testing.T) {
	tk := specTokenizer(t, "xlmr")
	n := 0
	for _, name := range []string{"xlmr", "xlmr-rerank"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "fixtures", name, "golden.json"))
		if err != nil {
			t.Fatalf("fixture %s: %v", name, err)
		}
		var g struct {
			Tokenization struct {
				MaxLength int `json:"max_length"`
			} `json:"tokenization"`
			Inputs []struct {
				Text          *string  `json:"text"`
				Pair          []string `json:"pair"`
				InputIDs      []int    `json:"input_ids"`
				AttentionMask []int    `json:"attention_mask"`
			} `json:"inputs"`
		}
		if err := json.Unmarshal(b, &g); err != nil {
			t.Fatal(err)
		}
		tk := tk
		if l := g.Tokenization.MaxLength; l > 0 {
			tk = tk.WithTruncation(&Truncation{MaxLength: l, Strategy: "LongestFirst", Direction: "Right"})
		}
		for i, in := range g.Inputs {
			var e *Encoding
			switch {
			case in.Text != nil:
				e, err = tk.Encode(*in.Text, true)
			case len(in.Pair) == 2:
				e, err = tk.EncodePair(in.Pair[0], in.Pair[1], true)
			default:
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			want := in.InputIDs
			for k, m := range in.AttentionMask {
				if m == 0 {
					want = in.InputIDs[:k]
					break
				}
			}
			if len(want) == 0 {
				continue
			}
			if fmt.Sprint(e.IDs) != fmt.Sprint(want) {
				t.Errorf("%s input %d: ids %v, fixture %v", name, i, e.IDs, want)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no recorded inputs found")
	}
	t.Logf("%d fixture inputs agree", n)
}

// FuzzEncodePairUnigram: EncodePair with the xlmr tokenizer under random
// truncation. Its template gives every token type id 0, so the sequence of
// a token is told by its position relative to the "</s></s>" separator.
func FuzzEncodePairUnigram(f *testing.F) {
	f.Add("what is the capital of France?", "Paris  is the capital of France.", uint8(16), uint8(0), false)
	f.Add("", "", uint8(0), uint8(1), true)
	f.Add("ｶﾞ e\u0301\u0301 \u00adx", "☃☃ ＜unk＞ <mask>", uint8(5), uint8(2), true)
	f.Fuzz(func(t *testing.T, a, b string, maxLen, strategy uint8, left bool) {
		tr := &Truncation{MaxLength: int(maxLen), Strategy: []string{"LongestFirst", "OnlyFirst", "OnlySecond"}[strategy%3], Direction: "Right"}
		if left {
			tr.Direction = "Left"
		}
		tk := specTokenizer(t, "xlmr").WithTruncation(tr)
		e, err := tk.EncodePair(a, b, true)
		if !utf8.ValidString(a) || !utf8.ValidString(b) {
			if !errors.Is(err, ErrInvalidUTF8) {
				t.Fatalf("invalid UTF-8 gave %v", err)
			}
			return
		}
		if errors.Is(err, ErrSequenceTooShort) || errors.Is(err, ErrSecondSequenceNotProvided) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if int(maxLen) >= 4 && len(e.IDs) > int(maxLen) {
			t.Fatalf("%d tokens exceed max_length %d", len(e.IDs), maxLen)
		}
		// <s> A </s> </s> B </s>: the first special token after position 0
		// ends A.
		sep := -1
		for i := 1; i < len(e.IDs); i++ {
			if e.SpecialTokensMask[i] == 1 {
				sep = i
				break
			}
		}
		if sep < 0 || len(e.IDs) < 4 {
			t.Fatalf("no separator in %v", e.Tokens)
		}
		checkEncoding(t, tk, e, []string{a, b}, func(i int) int {
			if i < sep {
				return 0
			}
			return 1
		})
	})
}

// TestUnigramConcurrentUse runs the xlmr goldens from several goroutines
// (run with -race).
func TestUnigramConcurrentUse(t *testing.T) {
	tk := specTokenizer(t, "xlmr")
	cases := readGoldenCases(t, filepath.Join("testdata", "goldens", "xlmr.jsonl.gz"))
	done := make(chan string, 4)
	for g := 0; g < 4; g++ {
		go func(g int) {
			for i := g; i < len(cases); i += 4 {
				if diff := runCase(tk, cases[i]); diff != "" {
					done <- describeCase(cases[i]) + ": " + diff
					return
				}
			}
			done <- ""
		}(g)
	}
	for g := 0; g < 4; g++ {
		if msg := <-done; msg != "" {
			t.Error(msg)
		}
	}
}
