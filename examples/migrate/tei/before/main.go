// Command before embeds or reranks with a Hugging Face Text Embeddings
// Inference server over plain net/http, the way most Go services talk to
// TEI. Embedding: one JSON string per line on stdin, one JSON array of
// numbers per line on stdout. With -rerank QUERY the lines on stdin are
// documents and stdout gets one JSON array of {"index", "score"}, best first.
//
//	go run ./migrate/tei/before -url http://tei:8080 < texts.jsonl > old-vectors.jsonl
//	go run ./migrate/tei/before -url http://tei-reranker:8080 -rerank "what is sie?" < docs.jsonl
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
)

func main() {
	url := flag.String("url", "http://localhost:8080", "TEI base URL")
	rerank := flag.String("rerank", "", "rerank the documents on stdin against this query")
	flag.Parse()
	if err := run(context.Background(), *url, *rerank, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "before:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url, rerank string, in io.Reader, out io.Writer) error {
	texts, err := readTexts(in)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(out)
	defer w.Flush()
	enc := json.NewEncoder(w)

	if rerank != "" {
		var hits []struct {
			Index int     `json:"index"`
			Score float64 `json:"score"`
		}
		// Scores are the sigmoid of the logit unless "raw_scores": true.
		req := map[string]any{"query": rerank, "texts": texts, "truncate": true}
		if err := post(ctx, url+"/rerank", req, &hits); err != nil {
			return err
		}
		return enc.Encode(hits)
	}

	const maxBatch = 32 // TEI's default --max-client-batch-size
	for start := 0; start < len(texts); start += maxBatch {
		var vecs [][]float32
		// normalize defaults to true; truncate to the server's --auto-truncate.
		req := map[string]any{"inputs": texts[start:min(start+maxBatch, len(texts))], "truncate": true}
		if err := post(ctx, url+"/embed", req, &vecs); err != nil {
			return err
		}
		for _, v := range vecs {
			if err := enc.Encode(v); err != nil {
				return err
			}
		}
	}
	return nil
}

func post(ctx context.Context, url string, body, reply any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&e)
		return fmt.Errorf("%s: %s: %s", url, resp.Status, e.Error)
	}
	return json.NewDecoder(resp.Body).Decode(reply)
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
