package tokenizer

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// TestVocabularyMeta checks VocabSize, TokenToID and IDToToken against the
// oracle's get_vocab_size(true), token_to_id and id_to_token.
func TestVocabularyMeta(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "goldens", "meta.json"))
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]struct {
		VocabSize int                `json:"vocab_size"`
		TokenToID map[string]*int    `json:"token_to_id"`
		IDToToken map[string]*string `json:"id_to_token"`
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	for name, m := range meta {
		tk := specTokenizer(t, name)
		if got := tk.VocabSize(); got != m.VocabSize {
			t.Errorf("%s: VocabSize %d, oracle %d", name, got, m.VocabSize)
		}
		for tok, want := range m.TokenToID {
			id, ok := tk.TokenToID(tok)
			if (want == nil) != !ok || (ok && id != *want) {
				t.Errorf("%s: TokenToID(%q) = %d,%v; oracle %v", name, tok, id, ok, deref(want))
			}
		}
		for idStr, want := range m.IDToToken {
			var id int
			if err := json.Unmarshal([]byte(idStr), &id); err != nil {
				t.Fatal(err)
			}
			tok, ok := tk.IDToToken(id)
			if (want == nil) != !ok || (ok && tok != *want) {
				t.Errorf("%s: IDToToken(%d) = %q,%v; oracle %v", name, id, tok, ok, deref(want))
			}
		}
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestFromFileAndSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(path, specJSON(t, "minilm"), 0o644); err != nil {
		t.Fatal(err)
	}
	tk, err := FromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tk.Truncation(), (&Truncation{MaxLength: 128, Stride: 0, Strategy: "LongestFirst", Direction: "Right"}); !reflect.DeepEqual(got, want) {
		t.Errorf("Truncation() = %+v, want %+v", got, want)
	}
	wantPad := &Padding{Strategy: "Fixed", FixedLength: 128, Direction: "Right", PadID: 0, PadTypeID: 0, PadToken: "[PAD]"}
	if got := tk.Padding(); !reflect.DeepEqual(got, wantPad) {
		t.Errorf("Padding() = %+v, want %+v", got, wantPad)
	}
	if n1, n2 := tk.NumSpecialTokensToAdd(false), tk.NumSpecialTokensToAdd(true); n1 != 2 || n2 != 3 {
		t.Errorf("NumSpecialTokensToAdd = %d, %d; want 2, 3", n1, n2)
	}
	if _, err := FromFile(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("FromFile on a missing file succeeded")
	}

	// WithTruncation returns an independent copy.
	off := tk.WithTruncation(nil)
	if off.Truncation() != nil || tk.Truncation() == nil {
		t.Error("WithTruncation(nil) changed the original or kept truncation")
	}
	long := strings.Repeat("word ", 300)
	a, _ := tk.Encode(long, true)
	b, _ := off.Encode(long, true)
	if len(a.IDs) != 128 || len(b.IDs) != 302 {
		t.Errorf("lengths %d (truncated) and %d (untruncated), want 128 and 302", len(a.IDs), len(b.IDs))
	}
	short := tk.WithTruncation(&Truncation{MaxLength: 10, Strategy: "LongestFirst", Direction: "Left"})
	c, _ := short.Encode(long, true)
	if len(c.IDs) != 10 || c.IDs[0] != 101 || c.IDs[9] != 102 {
		t.Errorf("left truncation to 10: %v", c.IDs)
	}
	if _, err := tk.WithTruncation(&Truncation{MaxLength: 5, Strategy: "Bogus"}).Encode("x", true); err == nil {
		t.Error("unknown strategy accepted")
	}

	bm := specTokenizer(t, "bert-mean")
	if bm.Truncation() != nil || bm.Padding() != nil {
		t.Error("bert-mean should have no truncation or padding")
	}
	mp := specTokenizer(t, "mpnet")
	if n1, n2 := mp.NumSpecialTokensToAdd(false), mp.NumSpecialTokensToAdd(true); n1 != 2 || n2 != 4 {
		t.Errorf("mpnet NumSpecialTokensToAdd = %d, %d; want 2, 4", n1, n2)
	}
	if n := specTokenizer(t, "syn-nfkd-noproc").NumSpecialTokensToAdd(true); n != 0 {
		t.Errorf("no post-processor: NumSpecialTokensToAdd = %d", n)
	}
}

func TestEmptyAndInvalid(t *testing.T) {
	tk := specTokenizer(t, "bert-mean")
	e, err := tk.Encode("", true)
	if err != nil || !reflect.DeepEqual(e.IDs, []int{101, 102}) || !reflect.DeepEqual(e.Offsets, [][2]int{{0, 0}, {0, 0}}) {
		t.Errorf("empty: %+v %v", e, err)
	}
	e, err = tk.Encode("", false)
	if err != nil || len(e.IDs) != 0 {
		t.Errorf("empty without specials: %+v %v", e, err)
	}
	for _, bad := range []string{"\xff", "ok \xc3", "\xed\xa0\x80 surrogate"} {
		if _, err := tk.Encode(bad, true); !errors.Is(err, ErrInvalidUTF8) {
			t.Errorf("Encode(%q): %v, want ErrInvalidUTF8", bad, err)
		}
		if _, err := tk.EncodePair("fine", bad, true); !errors.Is(err, ErrInvalidUTF8) {
			t.Errorf("EncodePair(_, %q): %v, want ErrInvalidUTF8", bad, err)
		}
		if _, err := tk.EncodeBatch([]string{"a", bad, "b"}, true); !errors.Is(err, ErrInvalidUTF8) {
			t.Errorf("EncodeBatch with %q: %v, want ErrInvalidUTF8", bad, err)
		}
	}
}

func TestUnsupportedComponents(t *testing.T) {
	base := specJSON(t, "bert-mean")
	for _, c := range []struct{ key, value, want string }{
		{"normalizer", `{"type":"NoSuchNormalizer"}`, `unsupported normalizer type "NoSuchNormalizer"`},
		{"pre_tokenizer", `{"type":"NoSuchPreTokenizer","replacement":"▁"}`, `unsupported pre_tokenizer type "NoSuchPreTokenizer"`},
		{"model", `{"type":"WordLevel","vocab":{},"unk_token":"[UNK]"}`, `unsupported model type "WordLevel"`},
		{"post_processor", `{"type":"NoSuchProcessor"}`, `unsupported post_processor type "NoSuchProcessor"`},
		{"normalizer", `{"type":"Sequence","normalizers":[{"type":"NFC"},{"type":"NoSuchNormalizer"}]}`, `unsupported normalizer type "NoSuchNormalizer"`},
		{"post_processor", `{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"[X]","type_id":0}}],"pair":[],"special_tokens":{}}`, `missing special token "[X]"`},
		{"version", `"2.0"`, `unknown tokenizer version`},
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
	if _, err := FromJSON([]byte("{not json")); err == nil {
		t.Error("malformed JSON accepted")
	}
}

func TestTruncationErrors(t *testing.T) {
	tk := specTokenizer(t, "bert-mean")
	onlyFirst := tk.WithTruncation(&Truncation{MaxLength: 6, Strategy: "OnlyFirst"})
	if _, err := onlyFirst.EncodePair("a", "b c d e f g h i j", true); !errors.Is(err, ErrSequenceTooShort) {
		t.Errorf("OnlyFirst with a short first sequence: %v", err)
	}
	onlySecond := tk.WithTruncation(&Truncation{MaxLength: 6, Strategy: "OnlySecond"})
	if _, err := onlySecond.Encode("a b c d e f", true); !errors.Is(err, ErrSecondSequenceNotProvided) {
		t.Errorf("OnlySecond on a single sequence: %v", err)
	}
	e, err := onlySecond.EncodePair("a", "b c d e f g h", true)
	if err != nil || len(e.IDs) != 6 {
		t.Errorf("OnlySecond: %v %v", e, err)
	}
}

func TestEncodeBatchMatchesEncode(t *testing.T) {
	tk := specTokenizer(t, "minilm")
	cases := readGoldenCases(t, filepath.Join("testdata", "goldens", "minilm.jsonl.gz"))
	var texts []string
	for _, c := range cases {
		if c.Pair == nil && len(c.Trunc) == 0 {
			texts = append(texts, c.Text)
		}
	}
	batch, err := tk.EncodeBatch(texts, true)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range texts {
		one, err := tk.Encode(s, true)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(one, batch[i]) {
			t.Fatalf("batch[%d] differs from Encode(%q)", i, s)
		}
	}
	if out, err := tk.EncodeBatch(nil, true); err != nil || len(out) != 0 {
		t.Errorf("empty batch: %v %v", out, err)
	}
}

// TestConcurrentUse hammers one Tokenizer from many goroutines (run with -race).
func TestConcurrentUse(t *testing.T) {
	tk := specTokenizer(t, "syn-nfkc-roberta")
	cases := readGoldenCases(t, filepath.Join("testdata", "goldens", "syn-nfkc-roberta.jsonl.gz"))
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < len(cases); i += 8 {
				if diff := runCase(tk, cases[i]); diff != "" {
					t.Errorf("%s: %s", describeCase(cases[i]), diff)
					return
				}
			}
		}(g)
	}
	wg.Wait()
}
