package tokenizer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// BPE test tokenizers (testdata/specs.json); keep in sync with
// tools/oracle/gen_bpe_goldens.js. Their oracle goldens run in TestGoldens.
var (
	bpeSpecs      = []string{"qwen", "modernbert", "qwen3", "cohere", "syn-roberta", "syn-llama3", "syn-bpe-affix", "syn-bpe-fallback"}
	bpeSweepSpecs = bpeSpecs
)

// TestBPECodePointSweep encodes every code point up to U+3FFFF alone and
// inside "a<cp>b c" with each BPE test tokenizer and compares ids and
// offsets with the oracle's, through per-chunk hashes
// (testdata/goldens/sweephash-<spec>.txt, written by
// tools/oracle/gen_bpe_goldens.js; byte-level ids differ for nearly every
// code point, so the plain sweep format would be megabytes per file).
func TestBPECodePointSweep(t *testing.T) {
	for _, name := range bpeSweepSpecs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(filepath.Join("testdata", "goldens", "sweephash-"+name+".txt"))
			if err != nil {
				t.Fatal(err)
			}
			var max, chunk rune
			var starts []rune
			var hashes []string
			for _, l := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(l, "#") {
					for _, f := range strings.Fields(l) {
						if v, ok := strings.CutPrefix(f, "max=0x"); ok {
							x, _ := strconv.ParseInt(v, 16, 32)
							max = rune(x)
						}
						if v, ok := strings.CutPrefix(f, "chunk="); ok {
							x, _ := strconv.Atoi(v)
							chunk = rune(x)
						}
					}
					continue
				}
				if f := strings.Split(l, "\t"); len(f) == 2 {
					x, _ := strconv.ParseInt(f[0], 16, 32)
					starts, hashes = append(starts, rune(x)), append(hashes, f[1])
				}
			}
			if chunk == 0 || len(starts) == 0 {
				t.Fatal("bad sweephash file")
			}
			tk := specTokenizer(t, name)
			bad, n := 0, 0
			for k, start := range starts {
				h := sha256.New()
				for cp := start; cp < start+chunk && cp <= max; cp++ {
					if isSurrogate(cp) {
						continue
					}
					for _, ctx := range sweepContexts {
						e, err := tk.Encode(ctx(string(cp)), false)
						if err != nil {
							t.Fatalf("U+%04X: %v", cp, err)
						}
						io.WriteString(h, sweepLine(e)+"\n")
						n++
					}
				}
				if hex.EncodeToString(h.Sum(nil)) != hashes[k] {
					bad++
					t.Errorf("code points U+%04X..U+%04X differ from the oracle (diagnose with SIE_TOKENIZER_ORACLE=1 SIE_TOKENIZER_SPECS=%s go test -run TestBPEOracleLiveSweep)",
						start, min(start+chunk-1, max), name)
				}
			}
			t.Logf("%s: %d/%d chunks of %d code points agree (%d encodings, max U+%04X)", name, len(starts)-bad, len(starts), chunk, n, max)
		})
	}
}

// TestBPEOracleLiveSweep is TestOracleLiveSweep for the BPE tokenizers.
func TestBPEOracleLiveSweep(t *testing.T) {
	liveSweep(t, "3ffff", bpeSweepSpecs)
}

// TestOracleLiveFiles runs the live comparison (corpus, random strings,
// pairs and truncation, as TestOracleLive) on tokenizer.json files that are
// not committed, e.g. the real Llama-3 file of github.com/daulet/tokenizers:
//
//	SIE_TOKENIZER_ORACLE=1 SIE_TOKENIZER_FILES=a.json,b.json go test ./tokenizer/ -run TestOracleLiveFiles
func TestOracleLiveFiles(t *testing.T) {
	oracleEnabled(t)
	files := os.Getenv("SIE_TOKENIZER_FILES")
	if files == "" {
		t.Skip("SIE_TOKENIZER_FILES not set")
	}
	cases := liveCases(t)
	in := encodeInputs(t, cases)
	for _, f := range strings.Split(files, ",") {
		t.Run(filepath.Base(f), func(t *testing.T) {
			tk, err := FromFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got := parseGoldenCases(t, runNode(t, in, "--tokenizer", f, "--inputs", "-", "--out", "-"))
			if len(got) != len(cases) {
				t.Fatalf("oracle returned %d results for %d cases", len(got), len(cases))
			}
			bad := 0
			for _, c := range got {
				if diff := runCase(tk, c); diff != "" {
					bad++
					if bad <= 10 {
						t.Errorf("%s\n  %s", describeCase(c), diff)
					}
				}
			}
			t.Logf("%s: %d/%d live cases agree with the oracle", f, len(got)-bad, len(got))
		})
	}
}

// ---- scanners vs regexp2 ----

// scannerTexts returns the committed corpus sample (or the whole corpus
// with SIE_TOKENIZER_CORPUS), hand-written texts and random strings.
func scannerTexts(t *testing.T) []string {
	var texts []string
	if dir := os.Getenv("SIE_TOKENIZER_CORPUS"); dir != "" {
		files, _ := filepath.Glob(filepath.Join(dir, "doc-*.json"))
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
	} else {
		for _, c := range parseGoldenCases(t, mustRead(t, filepath.Join("..", "tools", "oracle", "inputs", "corpus_sample.jsonl.gz"))) {
			texts = append(texts, c.Text)
		}
	}
	texts = append(texts,
		"it's IT'S don't WE'VE I'm YOU'RE he'll SHE'D 'x ''s 're' 'll'",
		"a\nb\n\nc\r\nd\r\n\r\ne  \n  f \t\n\t g   \n   x \r\n\r\n y word   \n",
		"a  b   c    d\ta\t\tb a\u00a0b \u00a0c\u3000d \u2003e\u2028f\u0085g",
		"1 12 123 1234 12345 a1b2c3 abc123def 3.14159 ٣٤٥ ½",
		"hello!!! ??? ...world,,, ;;; !x  ?y (z) !!!\n\n???\r\n",
		"東京は日本の首都です。😀😃 👍🏽 e\u0301 ﬁ Привет",
	)
	pieces := []string{"a", "Z", "é", "中", "😀", "1", "٣", " ", "  ", "\t", "\n", "\r", "\r\n", "\u00a0", "\u3000", "'", "'s", "'LL", "'Re", "!", "?!", ".", "_", "\u0301", "word", "ABC", "x1"}
	r := rand.New(rand.NewSource(7))
	for i := 0; i < 20000; i++ {
		var b strings.Builder
		for k := r.Intn(12); k >= 0; k-- {
			b.WriteString(pieces[r.Intn(len(pieces))])
		}
		texts = append(texts, b.String())
	}
	return texts
}

func mustRead(t *testing.T, path string) []byte {
	b, err := readMaybeGz(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameClasses reports whether every code point of s is classified alike by
// Go's Unicode tables (regexp2) and by Oniguruma's (the scanners), and s
// has no U+017F (which Oniguruma's (?i) folds to s and regexp2's does not).
func sameClasses(s string) bool {
	bmpClassOnce.Do(initBMPClasses)
	for _, r := range s {
		if r == 0x17F {
			return false
		}
		c, _ := runeClass(r)
		goSpace := unicode.Is(unicode.White_Space, r)
		if (c&clsL != 0) != unicode.IsLetter(r) || (c&clsN != 0) != unicode.IsNumber(r) || (c&clsS != 0) != goSpace {
			return false
		}
	}
	return true
}

// TestScannersAgreeWithRegexp2 checks the hand-written scanners against
// regexp2 running the original patterns, on texts whose characters both
// engines classify alike (the oracle comparisons cover the rest).
func TestScannersAgreeWithRegexp2(t *testing.T) {
	texts := scannerTexts(t)
	for _, pat := range []string{regexGPT2, regexQwen2, regexLlama3} {
		re := regexp2.MustCompile(pat, regexp2.None)
		kind := scannerFor(pat)
		checked, skipped := 0, 0
		for _, s := range texts {
			if !sameClasses(s) {
				skipped++
				continue
			}
			checked++
			want, err := regexPattern{re}.appendPieces([]byte(s), nil)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := scanPattern{kind}.appendPieces([]byte(s), nil)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("pattern %d on %q:\n got %v\nwant %v", kind, s, got, want)
			}
		}
		t.Logf("pattern %d: %d texts agree with regexp2 (%d skipped: classes differ)", kind, checked, skipped)
	}
}

// TestOnigClassesVsGo documents how far Oniguruma's classes (probed from
// the crate) are from Go's: this is what the regexp2 fallback for other
// Split patterns gets wrong.
func TestOnigClassesVsGo(t *testing.T) {
	bmpClassOnce.Do(initBMPClasses)
	diff := map[string]int{}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if isSurrogate(r) {
			continue
		}
		c, _ := runeClass(r)
		if (c&clsL != 0) != unicode.IsLetter(r) {
			diff["L"]++
		}
		if (c&clsN != 0) != unicode.IsNumber(r) {
			diff["N"]++
		}
		if (c&clsS != 0) != unicode.Is(unicode.White_Space, r) {
			diff["s"]++
		}
	}
	if diff["s"] != 0 {
		t.Errorf("\\s differs from Go's White_Space on %d code points", diff["s"])
	}
	t.Logf("code points classified differently by Oniguruma and Go: \\p{L} %d, \\p{N} %d, \\s %d", diff["L"], diff["N"], diff["s"])
}

// ---- model and component unit tests ----

func bpeJSON(model string, extra ...string) []byte {
	s := `{"model":` + model + `,"pre_tokenizer":{"type":"WhitespaceSplit"}`
	for _, e := range extra {
		s += "," + e
	}
	return []byte(s + "}")
}

func TestBPEModelOptions(t *testing.T) {
	vocab := `{"<unk>":0,"a":1,"b":2,"c":3,"ab":4,"abc":5,"##b":6,"##c":7,"a##b":8,"<0x61>":9,"<0x64>":10,"xyz":11,"bc":12}`
	for _, c := range []struct {
		name, model, text string
		want              []string
		err               string
	}{
		{"tuple merges", `{"type":"BPE","vocab":` + vocab + `,"merges":[["a","b"],["ab","c"]]}`, "abc ab ba", []string{"abc", "ab", "b", "a"}, ""},
		{"legacy merges", `{"type":"BPE","vocab":` + vocab + `,"merges":["#version: 0.2","a b","ab c"]}`, "abc ab ba", []string{"abc", "ab", "b", "a"}, ""},
		{"rank order", `{"type":"BPE","vocab":` + vocab + `,"merges":[["b","c"],["a","b"]]}`, "abc", []string{"a", "bc"}, ""},
		{"no unk drops", `{"type":"BPE","vocab":` + vocab + `,"merges":[]}`, "axd", []string{"a"}, ""},
		{"unk", `{"type":"BPE","unk_token":"<unk>","vocab":` + vocab + `,"merges":[]}`, "axdb", []string{"a", "<unk>", "<unk>", "b"}, ""},
		{"fuse unk", `{"type":"BPE","unk_token":"<unk>","fuse_unk":true,"vocab":` + vocab + `,"merges":[]}`, "axdb", []string{"a", "<unk>", "b"}, ""},
		{"byte fallback", `{"type":"BPE","unk_token":"<unk>","byte_fallback":true,"vocab":` + vocab + `,"merges":[]}`, "xdx", []string{"<0x64>", "<unk>", "<unk>"}, ""}, // the crate adds fallback bytes before a pending unk
		{"ignore merges", `{"type":"BPE","ignore_merges":true,"vocab":` + vocab + `,"merges":[["a","b"]]}`, "xyz ab", []string{"xyz", "ab"}, ""},
		{"prefix", `{"type":"BPE","continuing_subword_prefix":"##","vocab":` + vocab + `,"merges":[["a","##b"]]}`, "ab abc", []string{"ab", "ab", "##c"}, ""},
		{"missing unk", `{"type":"BPE","unk_token":"<nope>","vocab":` + vocab + `,"merges":[]}`, "x", nil, "not found in the vocabulary"},
		{"dropout 0", `{"type":"BPE","dropout":0,"vocab":` + vocab + `,"merges":[]}`, "a", []string{"a"}, ""},
		{"dropout", `{"type":"BPE","dropout":0.1,"vocab":` + vocab + `,"merges":[]}`, "", nil, "dropout"},
		{"oov merge", `{"type":"BPE","vocab":` + vocab + `,"merges":[["a","q"]]}`, "", nil, "out of vocabulary"},
		{"bad legacy merge", `{"type":"BPE","vocab":` + vocab + `,"merges":["a b c"]}`, "", nil, "merges text file invalid at line 1"},
		{"missing merges", `{"type":"BPE","vocab":` + vocab + `}`, "", nil, "missing vocab/merges"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tk, err := FromJSON(bpeJSON(c.model))
			if err == nil && c.text != "" {
				var e *Encoding
				e, err = tk.Encode(c.text, false)
				if err == nil && !reflect.DeepEqual(e.Tokens, c.want) {
					t.Errorf("tokens %q, want %q", e.Tokens, c.want)
				}
			}
			if c.err == "" && err != nil {
				t.Fatal(err)
			}
			if c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
				t.Fatalf("error %v, want it to mention %q", err, c.err)
			}
		})
	}
}

// TestSplitBehaviors checks the five delimiter behaviours on the crate's
// own documentation example.
func TestSplitBehaviors(t *testing.T) {
	for _, c := range []struct {
		behavior string
		invert   bool
		want     []string
	}{
		{"Removed", false, []string{"the", "final", "countdown"}},
		{"Isolated", false, []string{"the", "-", "final", "-", "-", "countdown"}},
		{"MergedWithPrevious", false, []string{"the-", "final-", "-", "countdown"}},
		{"MergedWithNext", false, []string{"the", "-final", "-", "-countdown"}},
		{"Contiguous", false, []string{"the", "-", "final", "--", "countdown"}},
		{"Removed", true, []string{"-", "-", "-"}},
		{"Contiguous", true, []string{"the", "-", "final", "--", "countdown"}},
	} {
		for _, pat := range []string{`{"String":"-"}`, `{"Regex":"-"}`} {
			p, err := buildPreTokenizer([]byte(fmt.Sprintf(`{"type":"Split","pattern":%s,"behavior":%q,"invert":%v}`, pat, c.behavior, c.invert)))
			if err != nil {
				t.Fatal(err)
			}
			if got := preTokenizeStrings(t, p, "the-final--countdown"); !reflect.DeepEqual(got, c.want) {
				t.Errorf("%s %s invert=%v: %q, want %q", pat, c.behavior, c.invert, got, c.want)
			}
		}
	}
	// Empty matches: an empty literal matches between every character.
	p, _ := buildPreTokenizer([]byte(`{"type":"Split","pattern":{"String":""},"behavior":"Removed","invert":false}`))
	if got := preTokenizeStrings(t, p, "abc"); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Errorf("empty pattern: %q", got)
	}
}

func preTokenizeStrings(t *testing.T, p preTokenizer, text string) []string {
	t.Helper()
	ws := newWorkspace()
	n := &normalized{}
	n.reset(text, 0)
	out, err := p.preTokenize(ws, []split{{n: n, start: 0, end: len(n.s), added: -1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, sp := range out {
		s = append(s, string(sp.n.s[sp.start:sp.end]))
	}
	return s
}

// TestBPEConcurrent encodes the same texts from many goroutines (sharing
// the word cache) and compares with a fresh tokenizer's sequential output.
func TestBPEConcurrent(t *testing.T) {
	texts := scannerTexts(t)[:3000]
	want := make([]*Encoding, len(texts))
	fresh, err := FromJSON(specJSON(t, "qwen"))
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range texts {
		if want[i], err = fresh.Encode(s, true); err != nil {
			t.Fatal(err)
		}
	}
	shared, _ := FromJSON(specJSON(t, "qwen"))
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for k := range texts {
				i := (k*7 + g*131) % len(texts)
				e, err := shared.Encode(texts[i], true)
				if err != nil {
					t.Error(err)
					return
				}
				if !reflect.DeepEqual(e, want[i]) {
					t.Errorf("text %d differs under concurrency", i)
					return
				}
			}
		}(g)
	}
	wg.Wait()
}

// TestByteLevelChars checks the GPT-2 byte-to-character table.
func TestByteLevelChars(t *testing.T) {
	seen := map[string]bool{}
	for b, c := range byteLevelChars {
		r, _ := utf8.DecodeRuneInString(c)
		if seen[c] || r > 0x143 {
			t.Fatalf("byte %d -> %q", b, c)
		}
		seen[c] = true
	}
	if byteLevelChars[' '] != "Ġ" || byteLevelChars['\n'] != "Ċ" || byteLevelChars['a'] != "a" {
		t.Fatal("unexpected mapping")
	}
}

// FuzzEncodeTrimOffsets fuzzes the byte-level tokenizers whose ByteLevel
// trim_offsets step can, exactly like the crate, move a token's start past
// the next token's (a lone "Ġ" before a combining mark), so FuzzEncode's
// ordering invariant does not hold for them; every other invariant does.
func FuzzEncodeTrimOffsets(f *testing.F) {
	for _, s := range []string{"", "Hello, world!", "a\u0301\u0316 ﬁ Ⅻ", "it's  IT'S\r\n\r\n x", "<|im_start|> <BOS_TOKEN> 😀👍🏽 東京", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, name := range []string{"syn-roberta", "syn-llama3"} {
			tk := specTokenizer(t, name)
			for _, special := range []bool{true, false} {
				e, err := tk.Encode(text, special)
				if !utf8.ValidString(text) {
					if err == nil {
						t.Fatalf("%s: invalid UTF-8 accepted", name)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				n := len(e.IDs)
				if len(e.TypeIDs) != n || len(e.AttentionMask) != n || len(e.SpecialTokensMask) != n || len(e.Tokens) != n || len(e.Offsets) != n {
					t.Fatalf("%s: slice lengths differ", name)
				}
				for i, id := range e.IDs {
					o := e.Offsets[i]
					if id < 0 || id >= tk.VocabSize() || o[0] < 0 || o[0] > o[1] || o[1] > len(text) ||
						(o[0] < len(text) && !utf8.RuneStart(text[o[0]])) || (o[1] < len(text) && !utf8.RuneStart(text[o[1]])) {
						t.Fatalf("%s: token %d id %d offsets %v in text of length %d", name, i, id, o, len(text))
					}
				}
			}
		}
	})
}

// TestBPEOracleLivePairs encodes SIE_TOKENIZER_PAIRS (default 5000) corpus
// (query, passage) pairs under each of LongestFirst, OnlyFirst and
// OnlySecond, left and right, at max lengths from 0 to 512, with the real
// BPE tokenizers, and compares with the oracle (errors included).
func TestBPEOracleLivePairs(t *testing.T) {
	oracleEnabled(t)
	dir := os.Getenv("SIE_TOKENIZER_CORPUS")
	if dir == "" {
		t.Skip("set SIE_TOKENIZER_CORPUS to the nlp-corpus builds directory")
	}
	nPairs := 5000
	if s := os.Getenv("SIE_TOKENIZER_PAIRS"); s != "" {
		fmt.Sscan(s, &nPairs)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "doc-*.json"))
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
	lengths := []int{0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 512}
	strategies := []string{"LongestFirst", "OnlyFirst", "OnlySecond"}
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	n := 0
	for i := 0; i < nPairs; i++ {
		k := (i * 19) % (len(texts) - 4)
		words := strings.Fields(texts[k])
		q := strings.Join(words[:min(len(words), 2+i%9)], " ") // a short query
		p := strings.Join(texts[k+1:k+2+i%3], " ")             // one to three sentences
		if i%3 == 2 {
			q, p = p, q // a long first sequence, so that OnlyFirst has room
		}
		for si, s := range strategies {
			dirn := "Right"
			if (i+si)%2 == 1 {
				dirn = "Left"
			}
			tr := goldenTrunc{MaxLength: lengths[(i+4*si)%len(lengths)], Strategy: s, Direction: dirn}
			if err := enc.Encode(map[string]any{"text": q, "pair": p, "add_special": i%7 != 3, "trunc": tr}); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	specs := []string{"qwen", "modernbert", "qwen3", "cohere", "syn-roberta"}
	if s := os.Getenv("SIE_TOKENIZER_SPECS"); s != "" {
		specs = strings.Split(s, ",")
	}
	for _, name := range specs {
		t.Run(name, func(t *testing.T) {
			specFile := filepath.Join(t.TempDir(), "tokenizer.json")
			if err := os.WriteFile(specFile, specJSON(t, name), 0o644); err != nil {
				t.Fatal(err)
			}
			got := parseGoldenCases(t, runNode(t, in.Bytes(), "--tokenizer", specFile, "--inputs", "-", "--out", "-"))
			if len(got) != n {
				t.Fatalf("oracle returned %d results for %d cases", len(got), n)
			}
			tk := specTokenizer(t, name)
			bad := 0
			count := map[string][2]int{}
			for _, c := range got {
				var tr goldenTrunc
				_ = json.Unmarshal(c.Trunc, &tr)
				x := count[tr.Strategy]
				x[0]++
				if c.Error != "" {
					x[1]++
				}
				count[tr.Strategy] = x
				if diff := runCase(tk, c); diff != "" {
					bad++
					if bad <= 10 {
						t.Errorf("%s\n  %s", describeCase(c), diff)
					}
				}
			}
			for _, s := range strategies {
				t.Logf("%s %s: %d pairs (%d of them the oracle's truncation error)", name, s, count[s][0], count[s][1])
			}
			t.Logf("%s: %d/%d live pair cases agree with the oracle", name, len(got)-bad, len(got))
		})
	}
}

// TestWordCacheBounds fills small caches from several goroutines: every hit
// returns what was stored, and the bounds hold.
func TestWordCacheBounds(t *testing.T) {
	m := specTokenizer(t, "qwen").model.(*bpeModel)
	for _, bound := range []struct{ entries, arena int }{{100, 1 << 20}, {1 << 20, 2000}} {
		c := newWordCache(bound.entries, bound.arena)
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; i < 3000; i++ {
					w := []byte(fmt.Sprintf("w%dx%d", (i*7+g)%1000, i%3))
					toks := []token{{id: i % 50, start: 0, end: 1}, {id: 7, start: 1, end: len(w)}}
					if got, ok := c.get(w, m, nil); ok {
						if len(got) != 2 || got[1].id != 7 || got[1].end != len(w) || got[1].value != m.tokOf(7) {
							t.Errorf("%s: got %+v", w, got)
							return
						}
						continue
					}
					c.put(w, toks)
				}
			}(g)
		}
		wg.Wait()
		s := c.snap.Load()
		if s.n > bound.entries || len(s.arena) > bound.arena || !c.full.Load() {
			t.Errorf("bounds %+v: %d entries, %d arena bytes, full=%v", bound, s.n, len(s.arena), c.full.Load())
		}
	}
}
