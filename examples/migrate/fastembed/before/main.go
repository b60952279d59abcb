//go:build fastembed

// Command before embeds texts with fastembed-go (ONNX Runtime through cgo):
// one JSON string per line on stdin, one JSON array of numbers per line on
// stdout. Documents go through PassageEmbed, which prepends "passage: ", and
// queries (-query) through QueryEmbed, which prepends "query: ", whatever the
// model. It needs cgo, the ONNX Runtime library (ONNX_PATH) and the model in
// -cache (fastembed downloads it there when absent), so it builds only with
// the fastembed tag:
//
//	ONNX_PATH=/path/libonnxruntime.so go run -tags fastembed ./migrate/fastembed/before < texts.jsonl
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/anush008/fastembed-go"
)

func main() {
	model := flag.String("model", string(fastembed.BGESmallENV15), "fastembed model (fast-bge-small-en-v1.5, fast-all-MiniLM-L6-v2, …)")
	cache := flag.String("cache", "local_cache", "fastembed's model cache folder")
	query := flag.Bool("query", false, "the texts are search queries")
	flag.Parse()
	if err := run(*model, *cache, *query, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "before:", err)
		os.Exit(1)
	}
}

func run(model, cache string, query bool, in io.Reader, out io.Writer) error {
	texts, err := readTexts(in)
	if err != nil {
		return err
	}
	show := false
	m, err := fastembed.NewFlagEmbedding(&fastembed.InitOptions{
		Model: fastembed.EmbeddingModel(model), CacheDir: cache, ShowDownloadProgress: &show})
	if err != nil {
		return err
	}
	defer m.Destroy()
	var vecs [][]float32
	if query {
		for _, t := range texts {
			v, err := m.QueryEmbed(t) // "query: " + t
			if err != nil {
				return err
			}
			vecs = append(vecs, v)
		}
	} else if vecs, err = m.PassageEmbed(texts, 256); err != nil { // "passage: " + each text
		return err
	}
	w := bufio.NewWriter(out)
	defer w.Flush()
	enc := json.NewEncoder(w)
	for _, v := range vecs {
		if err := enc.Encode(v); err != nil {
			return err
		}
	}
	return nil
}

func readTexts(r io.Reader) ([]string, error) {
	var texts []string
	dec := json.NewDecoder(r)
	for dec.More() {
		var s string
		if err := dec.Decode(&s); err != nil {
			return nil, fmt.Errorf("stdin: want one JSON string per line: %w", err)
		}
		texts = append(texts, s)
	}
	return texts, nil
}
