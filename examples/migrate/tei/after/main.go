// Command after embeds or reranks with sie, in process, with the same
// input and output as the TEI version: one JSON string per line on stdin;
// vectors one per line, or with -rerank QUERY one JSON array of
// {"index", "score"}, best first. The checkpoint is the one the TEI server
// ran: a catalog id, a hub id or its local folder.
//
//	go run ./migrate/tei/after -model BAAI/bge-small-en-v1.5 < texts.jsonl > new-vectors.jsonl
//	go run ./migrate/tei/after -model BAAI/bge-reranker-v2-m3 -rerank "what is sie?" < docs.jsonl
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

func main() {
	model := flag.String("model", "BAAI/bge-small-en-v1.5", "the checkpoint TEI served")
	rerank := flag.String("rerank", "", "rerank the documents on stdin against this query")
	flag.Parse()
	if err := run(context.Background(), *model, *rerank, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "after:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, model, rerank string, in io.Reader, out io.Writer) error {
	texts, err := readTexts(in)
	if err != nil {
		return err
	}
	eng, err := sie.Open(sie.Options{}) // one per process, shared by all goroutines
	if err != nil {
		return err
	}
	defer eng.Close()
	w := bufio.NewWriter(out)
	defer w.Flush()
	enc := json.NewEncoder(w)

	if rerank != "" {
		// TEI and Infinity give the sigmoid of the logit unless raw_scores;
		// ask for it whatever the checkpoint's own activation.
		hits, err := eng.Rerank(ctx, model, rerank, texts, sie.ScoreActivation(sie.ScoreSigmoid))
		if err != nil {
			return err
		}
		type hit struct {
			Index int     `json:"index"`
			Score float32 `json:"score"`
		}
		out := []hit{}
		for _, h := range hits {
			out = append(out, hit{h.Index, h.Score})
		}
		return enc.Encode(out)
	}

	// TEI applies no prompt unless asked (prompt_name); sie applies the
	// checkpoint's document prompt by default. NoPrompt keeps the old
	// vectors valid for texts that were prefixed by hand. No batch limit:
	// the Engine batches by tokens itself.
	vecs, err := eng.Embed(ctx, model, texts, sie.NoPrompt())
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
