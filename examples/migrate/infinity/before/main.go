// Command before embeds or reranks with an Infinity server: embeddings
// through the OpenAI Go SDK pointed at Infinity, rerank over net/http.
// Embedding: one JSON string per line on stdin, one JSON array of numbers per
// line on stdout. With -rerank QUERY the lines on stdin are documents and
// stdout gets one JSON array of {"index", "score"}, best first.
//
//	go run ./migrate/infinity/before -url http://infinity:7997 -model BAAI/bge-small-en-v1.5 < texts.jsonl
//	go run ./migrate/infinity/before -model mixedbread-ai/mxbai-rerank-xsmall-v1 -rerank "what is sie?" < docs.jsonl
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

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

func main() {
	url := flag.String("url", "http://localhost:7997", "Infinity base URL (with its --url-prefix, if any)")
	model := flag.String("model", "BAAI/bge-small-en-v1.5", "model name Infinity serves")
	rerank := flag.String("rerank", "", "rerank the documents on stdin against this query")
	flag.Parse()
	if err := run(context.Background(), *url, *model, *rerank, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "before:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url, model, rerank string, in io.Reader, out io.Writer) error {
	texts, err := readTexts(in)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(out)
	defer w.Flush()
	enc := json.NewEncoder(w)

	if rerank != "" {
		var resp struct {
			Results []struct {
				Index int     `json:"index"`
				Score float64 `json:"relevance_score"`
			} `json:"results"`
		}
		req := map[string]any{"model": model, "query": rerank, "documents": texts}
		if err := post(ctx, url+"/rerank", req, &resp); err != nil {
			return err
		}
		type hit struct {
			Index int     `json:"index"`
			Score float64 `json:"score"`
		}
		hits := []hit{}
		for _, r := range resp.Results { // sigmoid scores, best first
			hits = append(hits, hit{r.Index, r.Score})
		}
		return enc.Encode(hits)
	}

	// Infinity serves OpenAI's embeddings route at {url}/embeddings.
	client := openai.NewClient(option.WithBaseURL(url+"/"), option.WithAPIKey("unused"))
	resp, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model: model,
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: texts},
	})
	if err != nil {
		return err
	}
	vecs := make([][]float64, len(texts))
	for _, d := range resp.Data {
		vecs[d.Index] = d.Embedding
	}
	for _, v := range vecs {
		if err := enc.Encode(v); err != nil {
			return err
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
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s: %s", url, resp.Status, msg)
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
