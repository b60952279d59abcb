package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	cohere "github.com/cohere-ai/cohere-go/v2"
	cohereclient "github.com/cohere-ai/cohere-go/v2/client"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/sie-project/sie"
)

// The providers' own Go SDKs, unchanged, against sie: over a loopback
// server and through the in-process transport.

// flaky answers the first request it sees with 429 (Retry-After-Ms 1) and
// passes every later one to h, recording each body so that the test can
// check the retry re-sent the same bytes.
type flaky struct {
	h      http.Handler
	mu     sync.Mutex
	bodies [][]byte
	armed  bool
}

func (f *flaky) arm() {
	f.mu.Lock()
	f.armed, f.bodies = true, nil
	f.mu.Unlock()
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.bodies = append(f.bodies, body)
	fail := f.armed
	f.armed = false
	f.mu.Unlock()
	if fail {
		w.Header().Set("Retry-After-Ms", "1")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"error":{"message":"try again","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}}`))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	f.h.ServeHTTP(w, r)
}

func (f *flaky) retried(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.bodies) != 2 || len(f.bodies[0]) == 0 || !bytes.Equal(f.bodies[0], f.bodies[1]) {
		t.Fatalf("want one retry re-sending the same body; got %d attempts: %q", len(f.bodies), f.bodies)
	}
}

// transportNames are the two ways of reaching the server.
var transportNames = []string{"loopback", "in-process"}

// httpClient returns an HTTP client that reaches h the named way, and the
// base URL (without path) to give the SDK.
func httpClient(t *testing.T, h http.Handler, name string) (*http.Client, string) {
	if name == "loopback" {
		ts := httptest.NewServer(h)
		t.Cleanup(ts.Close)
		return ts.Client(), ts.URL
	}
	return &http.Client{Transport: NewTransport(h)}, "http://sie.local"
}

func TestOpenAIClient(t *testing.T) {
	s := testServer(t, Options{})
	eng, ctx := testEngine(t), ctxT(t)
	dir := testAliases["dense"]
	want, err := eng.Embed(ctx, dir, testTexts, sie.NoPrompt())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range transportNames {
		t.Run(name, func(t *testing.T) {
			f := &flaky{h: s}
			hc, base := httpClient(t, f, name)
			client := openai.NewClient(option.WithBaseURL(base+"/v1/"), option.WithHTTPClient(hc))
			for _, format := range []openai.EmbeddingNewParamsEncodingFormat{openai.EmbeddingNewParamsEncodingFormatFloat, openai.EmbeddingNewParamsEncodingFormatBase64} {
				res, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
					Model: "dense", Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: testTexts}, EncodingFormat: format,
				})
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Data) != len(want) || res.Usage.PromptTokens == 0 {
					t.Fatalf("%s: %+v", format, res)
				}
				for i, d := range res.Data {
					sameVec64(t, fmt.Sprintf("%s %d", format, i), d.Embedding, want[i])
				}
			}
			// dimensions, with a retried request (429 first).
			f.arm()
			res, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
				Model: "dense", Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String(testTexts[0])}, Dimensions: openai.Int(16),
			})
			if err != nil {
				t.Fatal(err)
			}
			f.retried(t)
			sameVec64(t, "dimensions", res.Data[0].Embedding, l2Norm(want[0][:16]))

			// Errors arrive as *openai.Error with the status and code.
			for _, c := range []struct {
				params openai.EmbeddingNewParams
				status int
				code   string
			}{
				{openai.EmbeddingNewParams{Model: "nope", Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("x")}}, 404, "model_not_found"},
				{openai.EmbeddingNewParams{Model: "dense", Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", ""}}}, 400, ""},
				{openai.EmbeddingNewParams{Model: "rerank", Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("x")}}, 400, ""},
			} {
				_, err := client.Embeddings.New(ctx, c.params)
				var oe *openai.Error
				if !errors.As(err, &oe) || oe.StatusCode != c.status || oe.Code != c.code || oe.Message == "" {
					t.Errorf("%s: got %v, want *openai.Error %d %q", c.params.Model, err, c.status, c.code)
				}
			}
			models, err := client.Models.List(ctx)
			if err != nil || len(models.Data) != len(testAliases) {
				t.Errorf("models: %v %+v", err, models)
			}
			m, err := client.Models.Get(ctx, "splade")
			if err != nil || m.ID != "splade" {
				t.Errorf("model: %v %+v", err, m)
			}
		})
	}
}

func TestCohereClient(t *testing.T) {
	s := testServer(t, Options{})
	eng, ctx := testEngine(t), ctxT(t)
	for _, name := range transportNames {
		t.Run(name, func(t *testing.T) {
			f := &flaky{h: s}
			hc, base := httpClient(t, f, name)
			co := cohereclient.NewClient(cohereclient.WithBaseURL(base), cohereclient.WithHTTPClient(hc))

			want, err := eng.Embed(ctx, testAliases["prompted"], testTexts, sie.Query())
			if err != nil {
				t.Fatal(err)
			}
			f.arm() // retried: cohere-go re-sends the same *http.Request
			emb, err := co.V2.Embed(ctx, &cohere.V2EmbedRequest{
				Model: "prompted", Texts: testTexts, InputType: cohere.EmbedInputTypeSearchQuery,
				EmbeddingTypes: []cohere.EmbeddingType{cohere.EmbeddingTypeFloat, cohere.EmbeddingTypeInt8, cohere.EmbeddingTypeUint8,
					cohere.EmbeddingTypeBinary, cohere.EmbeddingTypeUbinary, cohere.EmbeddingTypeBase64},
			})
			if err != nil {
				t.Fatal(err)
			}
			f.retried(t)
			e := emb.Embeddings
			for i, w := range want {
				sameVec64(t, fmt.Sprintf("float %d", i), e.Float[i], w)
				sameVec(t, fmt.Sprintf("base64 %d", i), decodeBase64Floats(t, e.Base64[i]), w)
				qi, _ := sie.Quantize(w, sie.Int8)
				qu, _ := sie.Quantize(w, sie.Uint8)
				qb, _ := sie.Quantize(w, sie.Binary)
				for k := range w {
					if e.Int8[i][k] != int(int8(qi.Data[k])) || e.Uint8[i][k] != int(qu.Data[k]) {
						t.Fatalf("text %d value %d: int8 %d uint8 %d", i, k, e.Int8[i][k], e.Uint8[i][k])
					}
				}
				for k, b := range qb.Data {
					if e.Ubinary[i][k] != int(b) || e.Binary[i][k] != int(b)-128 {
						t.Fatalf("text %d byte %d: ubinary %d binary %d, want %d", i, k, e.Ubinary[i][k], e.Binary[i][k], b)
					}
				}
			}
			// No input_type: cohere-go sends "input_type":"", meaning none.
			plain, err := eng.Embed(ctx, testAliases["prompted"], testTexts[:1], sie.NoPrompt())
			if err != nil {
				t.Fatal(err)
			}
			emb, err = co.V2.Embed(ctx, &cohere.V2EmbedRequest{Model: "prompted", Texts: testTexts[:1]})
			if err != nil {
				t.Fatal(err)
			}
			sameVec64(t, "no input_type", emb.Embeddings.Float[0], plain[0])

			q := "what is the capital of France?"
			sig, err := eng.Rerank(ctx, testAliases["rerank"], q, rerankDocs, sie.NoPrompt(), sie.ScoreActivation(sie.ScoreSigmoid))
			if err != nil {
				t.Fatal(err)
			}
			rr, err := co.V2.Rerank(ctx, &cohere.V2RerankRequest{Model: "rerank", Query: q, Documents: rerankDocs, TopN: cohere.Int(2)})
			if err != nil {
				t.Fatal(err)
			}
			if len(rr.Results) != 2 {
				t.Fatalf("%d results, want 2", len(rr.Results))
			}
			for i, r := range rr.Results {
				if r.Index != sig[i].Index || float32(r.RelevanceScore) != sig[i].Score {
					t.Errorf("v2 result %d: %d %v, want %+v", i, r.Index, r.RelevanceScore, sig[i])
				}
			}
			docs := []*cohere.RerankRequestDocumentsItem{{String: rerankDocs[0]}, {RerankDocument: map[string]string{"text": rerankDocs[1]}}, {String: rerankDocs[2]}, {String: rerankDocs[3]}}
			model := "rerank"
			v1, err := co.Rerank(ctx, &cohere.RerankRequest{Model: &model, Query: q, Documents: docs, ReturnDocuments: cohere.Bool(true)})
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range v1.Results {
				if r.Index != sig[i].Index || float32(r.RelevanceScore) != sig[i].Score || r.Document == nil || r.Document.Text != rerankDocs[r.Index] {
					t.Errorf("v1 result %d: %+v, want %+v", i, r, sig[i])
				}
			}
			// Errors: typed by status.
			_, err = co.V2.Embed(ctx, &cohere.V2EmbedRequest{Model: "nope", Texts: []string{"x"}})
			var nf *cohere.NotFoundError
			if !errors.As(err, &nf) {
				t.Errorf("unknown model: %T %v, want *cohere.NotFoundError", err, err)
			}
			_, err = co.V2.Embed(ctx, &cohere.V2EmbedRequest{Model: "dense", Texts: []string{"x"}, EmbeddingTypes: []cohere.EmbeddingType{"int4"}})
			var br *cohere.BadRequestError
			if !errors.As(err, &br) {
				t.Errorf("unknown embedding type: %T %v, want *cohere.BadRequestError", err, err)
			}
		})
	}
}
