package tokenizer

import (
	"path/filepath"
	"testing"
)

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

// BenchmarkTokenize encodes the whole text set per iteration with the real
// all-MiniLM tokenizer (truncation 128 as shipped): single goroutine,
// parallel goroutines, and EncodeBatch.
func BenchmarkTokenize(b *testing.B) {
	tk := specTokenizer(b, "minilm")
	texts, total := benchTexts(b)
	b.Run("single", func(b *testing.B) {
		b.SetBytes(int64(total))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			for _, s := range texts {
				if _, err := tk.Encode(s, true); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetBytes(int64(total))
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				for _, s := range texts {
					if _, err := tk.Encode(s, true); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	})
	b.Run("batch", func(b *testing.B) {
		b.SetBytes(int64(total))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := tk.EncodeBatch(texts, true); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pair", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for i := 0; i < b.N; i++ {
			a, p := texts[n%len(texts)], texts[(n+1)%len(texts)]
			n++
			if _, err := tk.EncodePair(a, p, true); err != nil {
				b.Fatal(err)
			}
		}
	})
}
