package tokenizer

import (
	"errors"
	"testing"
	"unicode/utf8"
)

// fuzzSpecs covers every implemented component between them.
var fuzzSpecs = []string{"minilm", "mpnet", "colbert", "syn-nfkc-roberta", "syn-nfc-seq", "syn-bert-cased", "syn-bertproc", "syn-nfkd-noproc", "syn-nonorm", "xlmr", "syn-unigram-llama", "syn-unigram-first", "syn-unigram-never", "syn-unigram-graphemes", "qwen", "modernbert", "cohere", "syn-bpe-affix", "syn-bpe-fallback"}

// checkEncoding asserts the invariants every encoding must satisfy: parallel
// slices, ids inside the vocabulary, offsets inside the source text, on
// character boundaries and ordered within each sequence.
func checkEncoding(t *testing.T, tk *Tokenizer, e *Encoding, texts []string, seqOf func(i int) int) {
	t.Helper()
	n := len(e.IDs)
	if len(e.TypeIDs) != n || len(e.AttentionMask) != n || len(e.SpecialTokensMask) != n || len(e.Tokens) != n || len(e.Offsets) != n {
		t.Fatalf("slice lengths differ: %d ids, %d type, %d att, %d stm, %d tok, %d off",
			n, len(e.TypeIDs), len(e.AttentionMask), len(e.SpecialTokensMask), len(e.Tokens), len(e.Offsets))
	}
	lastStart := map[int]int{}
	for i, id := range e.IDs {
		if id < 0 || id >= tk.VocabSize() {
			t.Fatalf("id %d out of range [0,%d)", id, tk.VocabSize())
		}
		if e.AttentionMask[i] != 1 {
			t.Fatalf("attention mask %d at %d", e.AttentionMask[i], i)
		}
		o := e.Offsets[i]
		if e.SpecialTokensMask[i] == 1 {
			if o != [2]int{} {
				t.Fatalf("special token %q with offsets %v", e.Tokens[i], o)
			}
			continue
		}
		s := seqOf(i)
		text := texts[s]
		if o[0] < 0 || o[0] > o[1] || o[1] > len(text) {
			t.Fatalf("offsets %v outside text of length %d", o, len(text))
		}
		if (o[0] < len(text) && !utf8.RuneStart(text[o[0]])) || (o[1] < len(text) && !utf8.RuneStart(text[o[1]])) {
			t.Fatalf("offsets %v not on character boundaries of %q", o, text)
		}
		if prev, ok := lastStart[s]; ok && o[0] < prev {
			t.Fatalf("offsets not ordered: %v after start %d", o, prev)
		}
		lastStart[s] = o[0]
	}
}

func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", "Hello, world!", "héllo [MASK] 中文 😀", "a\u0301\u0316 ﬁ Ⅻ", "<mask> [unused0] <sep>", "\x00\x85\u200b", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, name := range fuzzSpecs {
			tk := specTokenizer(t, name)
			for _, special := range []bool{true, false} {
				e, err := tk.Encode(text, special)
				if !utf8.ValidString(text) {
					if !errors.Is(err, ErrInvalidUTF8) {
						t.Fatalf("%s: invalid UTF-8 gave %v", name, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				checkEncoding(t, tk, e, []string{text}, func(int) int { return 0 })
			}
		}
	})
}

func FuzzEncodePair(f *testing.F) {
	f.Add("how many people live in berlin?", "Berlin has 3.7 million inhabitants.", uint8(16), uint8(0), false)
	f.Add("", "", uint8(0), uint8(1), true)
	f.Add("a", "b c d e f g h", uint8(6), uint8(1), false)
	f.Add("x <mask> y", "\u3000[MASK]\u00a0z", uint8(3), uint8(2), true)
	f.Fuzz(func(t *testing.T, a, b string, maxLen, strategy uint8, left bool) {
		tr := &Truncation{MaxLength: int(maxLen), Strategy: []string{"LongestFirst", "OnlyFirst", "OnlySecond"}[strategy%3], Direction: "Right"}
		if left {
			tr.Direction = "Left"
		}
		// minilm and bert-cased: type ids tell the sequences apart.
		for _, name := range []string{"minilm", "syn-bert-cased", "syn-unigram-llama", "qwen", "modernbert"} {
			tk := specTokenizer(t, name).WithTruncation(tr)
			e, err := tk.EncodePair(a, b, true)
			if !utf8.ValidString(a) || !utf8.ValidString(b) {
				if !errors.Is(err, ErrInvalidUTF8) {
					t.Fatalf("%s: invalid UTF-8 gave %v", name, err)
				}
				continue
			}
			if errors.Is(err, ErrSequenceTooShort) || errors.Is(err, ErrSecondSequenceNotProvided) {
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if n := tk.NumSpecialTokensToAdd(true); int(maxLen) >= n && len(e.IDs) > int(maxLen) {
				t.Fatalf("%s: %d tokens exceed max_length %d", name, len(e.IDs), maxLen)
			}
			// Both templates give A type 0 and B type 1.
			checkEncoding(t, tk, e, []string{a, b}, func(i int) int { return e.TypeIDs[i] })
		}
	})
}
