package server_test

import (
	"context"
	"fmt"
	"log"
	"net/http"

	cohere "github.com/cohere-ai/cohere-go/v2"
	cohereclient "github.com/cohere-ai/cohere-go/v2/client"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/sie-project/sie"
	"github.com/sie-project/sie/internal/golden"
	"github.com/sie-project/sie/server"
)

// The README's in-process drop-ins: openai-go and cohere-go unchanged, with
// an http.Client whose transport is an Engine.
func ExampleNewTransport() {
	ctx := context.Background()
	eng, err := sie.Open(sie.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close()
	h := server.New(eng, server.Options{Aliases: map[string]string{
		"bge-small":  golden.Dir("bert-cls"), // any catalog id or local checkpoint folder
		"bge-rerank": golden.Dir("bert-rerank"),
	}})
	// The aliases load in the background; until then their routes answer
	// 503 with Retry-After. Wait here so the first call is served.
	ready, loadErr := h.Ready()
	<-ready
	if err := loadErr(); err != nil {
		log.Fatal(err)
	}
	hc := &http.Client{Transport: server.NewTransport(h)}

	// openai-go: any base URL; no socket is opened.
	oa := openai.NewClient(option.WithBaseURL("http://sie.local/v1/"), option.WithHTTPClient(hc))
	emb, err := oa.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model: "bge-small",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"hello", "world"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(emb.Data), "vectors of", len(emb.Data[0].Embedding))

	// cohere-go: the same http.Client.
	co := cohereclient.NewClient(cohereclient.WithBaseURL("http://sie.local"), cohereclient.WithHTTPClient(hc))
	rr, err := co.V2.Rerank(ctx, &cohere.V2RerankRequest{
		Model: "bge-rerank", Query: "capital of France?",
		Documents: []string{"Berlin is in Germany.", "Paris is the capital of France."}, TopN: cohere.Int(1),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(rr.Results), "result, scored", rr.Results[0].RelevanceScore > 0)
	// Output:
	// 2 vectors of 32
	// 1 result, scored true
}

// A Go service moves between an in-process Engine and a shared `sie serve`
// by changing the constructor of its sie.Service.
func ExampleNewClient() {
	var svc sie.Service = server.NewClient("http://127.0.0.1:8080", server.ClientOptions{})
	_ = svc // svc.Embed, svc.Encode and svc.Rerank as on *sie.Engine
}
