// Command after embeds or reranks with sie, in process, with the same
// input and output as the Cohere version: one JSON string per line on
// stdin; vectors one per line, or with -rerank QUERY one JSON array of
// {"index", "score"}, best first.
//
//	go run ./migrate/cohere/after -model NovaSearch/stella_en_400M_v5 [-query] < texts.jsonl
//	go run ./migrate/cohere/after -rerank "what is sie?" -top-n 3 < docs.jsonl
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/sie-project/sie"
)

type options struct {
	model, rerankModel, rerank string
	query                      bool
	topN                       int
}

func main() {
	var o options
	flag.StringVar(&o.model, "model", "NovaSearch/stella_en_400M_v5", "catalog id or checkpoint directory")
	flag.StringVar(&o.rerankModel, "rerank-model", "BAAI/bge-reranker-v2-m3", "reranker: catalog id or checkpoint directory")
	flag.StringVar(&o.rerank, "rerank", "", "rerank the documents on stdin against this query")
	flag.BoolVar(&o.query, "query", false, "the texts are search queries")
	flag.IntVar(&o.topN, "top-n", 0, "rerank: keep the best n (0: all)")
	flag.Parse()
	if err := run(context.Background(), o, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "after:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, in io.Reader, out io.Writer) error {
	texts, err := readTexts(in)
	if err != nil {
		return err
	}
	eng, err := sie.Open(sie.Options{}) // one per process; no batch limit, no API key
	if err != nil {
		return err
	}
	defer eng.Close()
	w := bufio.NewWriter(out)
	defer w.Flush()
	enc := json.NewEncoder(w)

	if o.rerank != "" {
		// Scores in [0, 1] (the sigmoid of the logit), but not Cohere's
		// calibration: re-tune any score threshold.
		hits, err := eng.Rerank(ctx, o.rerankModel, o.rerank, texts, sie.TopK(o.topN), sie.ScoreActivation(sie.ScoreSigmoid))
		if err != nil {
			return err
		}
		type hit struct {
			Index int     `json:"index"`
			Score float32 `json:"score"`
		}
		out := []hit{}
		for _, h := range hits { // best first, Index into texts
			out = append(out, hit{h.Index, h.Score})
		}
		return enc.Encode(out)
	}

	// input_type search_query / search_document → sie.Query() or not.
	var opts []sie.Option
	if o.query {
		opts = append(opts, sie.Query())
	}
	vecs, err := eng.Embed(ctx, o.model, texts, opts...)
	if err != nil {
		return err
	}
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
