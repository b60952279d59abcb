package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkTokenizeCorpus encodes every nlp-corpus sentence per iteration
// with each benchmark tokenizer (untruncated), single-threaded and with
// EncodeBatch, reporting tokens/s. scripts/bench-tokenize.sh runs it next to
// the Rust crate on the same sentences. SIE_TOKENIZER_CORPUS names the
// corpus's builds directory.
func BenchmarkTokenizeCorpus(b *testing.B) {
	dir := os.Getenv("SIE_TOKENIZER_CORPUS")
	if dir == "" {
		b.Skip("SIE_TOKENIZER_CORPUS not set")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "doc-*.json"))
	var texts []string
	bytes := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		var doc []string
		if err := json.Unmarshal(data, &doc); err != nil {
			b.Fatal(err)
		}
		for _, s := range doc {
			texts = append(texts, s)
			bytes += len(s)
		}
	}
	for _, name := range benchSpecs {
		tk := specTokenizer(b, name).WithTruncation(nil)
		tokens := 0
		for _, s := range texts {
			e, err := tk.Encode(s, true)
			if err != nil {
				b.Fatal(err)
			}
			tokens += len(e.IDs)
		}
		b.Run(name+"/single", func(b *testing.B) {
			b.SetBytes(int64(bytes))
			for i := 0; i < b.N; i++ {
				for _, s := range texts {
					if _, err := tk.Encode(s, true); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(tokens*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
		b.Run(name+"/batch", func(b *testing.B) {
			b.SetBytes(int64(bytes))
			for i := 0; i < b.N; i++ {
				if _, err := tk.EncodeBatch(texts, true); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(tokens*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
