package tokenizer

import (
	"path/filepath"
	"testing"
)

// benchSpecs are the real tokenizer files the benchmarks run: WordPiece
// (all-MiniLM), Unigram with a precompiled charsmap (xlmr), byte-level BPE
// (full Qwen3) and GPT-2-style BPE.
var benchSpecs = []string{"minilm", "xlmr", "qwen3", "cohere"}

// benchTexts are the committed English corpus sample plus fixture and
// adversarial texts, as encoded by the minilm golden.
func benchTexts(b *testing.B) ([]string, int) {
	cases := readGoldenCases(b, filepath.Join("testdata", "goldens", "minilm.jsonl.gz"))
	var texts []string
	total := 0
	for _, c := range cases {
		if c.Pair == nil && len(c.Trunc) == 0 && (c.AddSpecial == nil || *c.AddSpecial) {
			texts = append(texts, c.Text)
			total += len(c.Text)
		}
	}
	return texts, total
}

// encodeAll encodes every text once.
func encodeAll(b *testing.B, tk *Tokenizer, texts []string) {
	for _, s := range texts {
		if _, err := tk.Encode(s, true); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTokenize encodes the committed text set with each benchmark
// tokenizer (truncation as shipped): single goroutine, parallel goroutines,
// EncodeBatch, and pairs.
func BenchmarkTokenize(b *testing.B) {
	texts, total := benchTexts(b)
	for _, name := range benchSpecs {
		tk := specTokenizer(b, name)
		b.Run(name+"/single", func(b *testing.B) {
			b.SetBytes(int64(total))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				encodeAll(b, tk, texts)
			}
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			b.SetBytes(int64(total))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					encodeAll(b, tk, texts)
				}
			})
		})
		b.Run(name+"/batch", func(b *testing.B) {
			b.SetBytes(int64(total))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := tk.EncodeBatch(texts, true); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/pair", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				a, p := texts[i%len(texts)], texts[(i+1)%len(texts)]
				if _, err := tk.EncodePair(a, p, true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
