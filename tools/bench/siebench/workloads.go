package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/sie-project/sie/tokenizer"
)

// emitWorkloads writes the texts of workloads a–e to dir, one text per line:
//
//	a.txt  the benchmark sentences (64 short sentences)
//	b.txt  64 texts of exactly 128 tokens ([CLS] + 126 words + [SEP])
//	c.txt  16 texts of exactly 512 tokens
//	d.txt  the benchmark sentences again, sent one at a time
//	e.txt  512 mixed-length texts, the stream of sie's BenchmarkEngine
//	f.txt  64 texts of exactly 50 tokens (scripts/gpu-check.sh)
//
// b and c are built from words of the sentences that the tokenizer maps to
// one token each, so every runtime sees the same lengths.
func emitWorkloads(dir, tokenizerFile, sentencesFile string) error {
	sentences, err := readLines(sentencesFile)
	if err != nil {
		return err
	}
	tok, err := tokenizer.FromFile(tokenizerFile)
	if err != nil {
		return err
	}
	tok = tok.WithTruncation(nil)
	count := func(s string) (int, error) {
		enc, err := tok.Encode(s, true)
		if err != nil {
			return 0, err
		}
		n := 0
		for _, m := range enc.AttentionMask {
			n += m
		}
		return n, nil
	}
	var words []string
	seen := map[string]bool{}
	for _, s := range sentences {
		for _, w := range strings.Fields(strings.ToLower(s)) {
			w = strings.Trim(w, ".,;:!?\"'()")
			if w == "" || seen[w] {
				continue
			}
			seen[w] = true
			if n, err := count(w); err != nil {
				return err
			} else if n == 3 { // [CLS] w [SEP]
				words = append(words, w)
			}
		}
	}
	if len(words) < 20 {
		return fmt.Errorf("%s: only %d one-token words", sentencesFile, len(words))
	}
	fixed := func(rows, length int) ([]string, error) {
		out := make([]string, rows)
		for i := range out {
			ws := make([]string, length-2)
			for j := range ws {
				ws[j] = words[(i*7+j*3)%len(words)]
			}
			out[i] = strings.Join(ws, " ")
			if n, err := count(out[i]); err != nil {
				return nil, err
			} else if n != length {
				return nil, fmt.Errorf("text %d has %d tokens, want %d", i, n, length)
			}
		}
		return out, nil
	}
	b, err := fixed(64, 128)
	if err != nil {
		return err
	}
	c, err := fixed(16, 512)
	if err != nil {
		return err
	}
	f, err := fixed(64, 50)
	if err != nil {
		return err
	}
	files := map[string][]string{"a": sentences, "b": b, "c": c, "d": sentences, "e": mixedTexts(512, 42), "f": f}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, texts := range files {
		if err := os.WriteFile(filepath.Join(dir, name+".txt"), []byte(strings.Join(texts, "\n")+"\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// mixedTexts is the mixed-length stream of sie's BenchmarkEngine: mostly 1–12
// words, every seventh text 40–99 words.
func mixedTexts(n int, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 1))
	words := strings.Fields("the quick brown fox jumps over a lazy dog while engineers measure embeddings of sentences " +
		"in many languages café naïve 東京 résumé données vectors search retrieval ranking cosine similarity")
	texts := make([]string, n)
	for i := range texts {
		k := 1 + r.IntN(12)
		if i%7 == 3 {
			k = 40 + r.IntN(60)
		}
		ws := make([]string, k)
		for j := range ws {
			ws[j] = words[r.IntN(len(words))]
		}
		texts[i] = strings.Join(ws, " ")
	}
	return texts
}
