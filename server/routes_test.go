package server

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/sie-project/sie"
)

// Each test sends recorded requests (the bytes a client puts on the wire)
// and checks the answer against the Go API on the same Engine.

var testTexts = []string{"hello world", "Café au lait, s'il vous plaît", "The quick brown fox jumps over the lazy dog."}

func TestOpenAIEmbeddings(t *testing.T) {
	s := testServer(t, Options{})
	eng, ctx := testEngine(t), ctxT(t)
	dir := testAliases["dense"]
	want, err := eng.Embed(ctx, dir, testTexts, sie.NoPrompt())
	if err != nil {
		t.Fatal(err)
	}
	toks, err := eng.Tokenize(ctx, dir, testTexts, sie.NoPrompt())
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, tk := range toks {
		total += len(tk)
	}
	for _, path := range []string{"/v1/embeddings", "/embeddings", "//v1/embeddings"} {
		code, hdr, body := do(t, s, "POST", path, `{"input":["hello world","Café au lait, s'il vous plaît","The quick brown fox jumps over the lazy dog."],"model":"dense"}`)
		if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		var res struct {
			Object string `json:"object"`
			Model  string `json:"model"`
			Data   []struct {
				Object    string    `json:"object"`
				Index     int       `json:"index"`
				Embedding []float32 `json:"embedding"`
			} `json:"data"`
			Usage struct{ PromptTokens, TotalTokens int } `json:"usage"`
		}
		mustJSON(t, body, &res)
		if res.Object != "list" || res.Model != "dense" || len(res.Data) != len(want) {
			t.Fatalf("%s: %s", path, body)
		}
		for i, d := range res.Data {
			if d.Index != i || d.Object != "embedding" {
				t.Errorf("data[%d] = index %d object %q", i, d.Index, d.Object)
			}
			sameVec(t, fmt.Sprintf("%s data[%d]", path, i), d.Embedding, want[i])
		}
		var usage struct {
			Usage struct {
				PromptTokens int `json:"prompt_tokens"`
				TotalTokens  int `json:"total_tokens"`
			} `json:"usage"`
		}
		mustJSON(t, body, &usage)
		if usage.Usage.PromptTokens != total || usage.Usage.TotalTokens != total {
			t.Errorf("usage %+v, want %d tokens", usage.Usage, total)
		}
	}

	// A single string, the default model (no "model"), base64.
	code, _, body := do(t, s, "POST", "/v1/embeddings", `{"input":"hello world","encoding_format":"base64"}`)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var b64 struct {
		Model string `json:"model"`
		Data  []struct {
			Embedding string `json:"embedding"`
		} `json:"data"`
	}
	mustJSON(t, body, &b64)
	sameVec(t, "base64", decodeBase64Floats(t, b64.Data[0].Embedding), want[0])
	if b64.Model != "dense" {
		t.Errorf("model %q, want the default's name", b64.Model)
	}

	// dimensions: cut and re-normalised, as Encode with Dims does.
	enc, err := eng.Encode(ctx, dir, testTexts[:1], sie.EncodeOptions{NoPrompt: true, Dims: 16})
	if err != nil {
		t.Fatal(err)
	}
	code, _, body = do(t, s, "POST", "/v1/embeddings", `{"input":["hello world"],"model":"dense","dimensions":16}`)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var dres struct {
		Data []struct{ Embedding []float32 } `json:"data"`
	}
	mustJSON(t, body, &dres)
	got := dres.Data[0].Embedding
	if len(got) != 16 {
		t.Fatalf("%d dims, want 16", len(got))
	}
	for i := range got {
		if d := got[i] - enc[0].Dense[i]; d > 1e-6 || d < -1e-6 {
			t.Fatalf("dims 16: value %d %v, want %v", i, got[i], enc[0].Dense[i])
		}
	}

	// Token ids of the model's own vocabulary embed like the text.
	ids := make([]string, len(toks[0]))
	for i, tk := range toks[0] {
		ids[i] = fmt.Sprint(tk.ID)
	}
	code, _, body = do(t, s, "POST", "/v1/embeddings", `{"input":[[`+strings.Join(ids, ",")+`]],"model":"dense"}`)
	if code != 200 {
		t.Fatalf("token ids: %d %s", code, body)
	}
	mustJSON(t, body, &dres)
	sameVec(t, "token ids", dres.Data[0].Embedding, want[0])
	// cl100k ids (as LangChain sends) are out of this vocabulary: a clear 400.
	code, _, body = do(t, s, "POST", "/v1/embeddings", `{"input":[[9906,1917,100255]],"model":"dense"}`)
	if code != 400 || !strings.Contains(string(body), "vocabulary") {
		t.Errorf("foreign token ids: %d %s, want 400 naming the vocabulary", code, body)
	}
}

func TestOpenAIModels(t *testing.T) {
	s := testServer(t, Options{})
	code, _, body := do(t, s, "GET", "/v1/models", "")
	var list OpenAIModelList
	mustJSON(t, body, &list)
	var ids []string
	for _, m := range list.Data {
		ids = append(ids, m.ID)
		if m.Object != "model" {
			t.Errorf("object %q", m.Object)
		}
	}
	if code != 200 || list.Object != "list" || !slices.Equal(ids, []string{"colbert", "dense", "prompted", "rerank", "splade"}) {
		t.Fatalf("%d %s", code, body)
	}
	if code, _, body := do(t, s, "GET", "/v1/models/rerank", ""); code != 200 || !strings.Contains(string(body), `"id":"rerank"`) {
		t.Errorf("GET /v1/models/rerank: %d %s", code, body)
	}
	if code, _, body := do(t, s, "GET", "/v1/models/gpt-4", ""); code != 404 || !strings.Contains(string(body), "model_not_found") {
		t.Errorf("GET /v1/models/gpt-4: %d %s", code, body)
	}
	code, _, body = do(t, s, "GET", "/models", "")
	if code != 200 || !strings.Contains(string(body), `"capabilities"`) {
		t.Errorf("GET /models: %d %s", code, body)
	}
}

func TestTEIEmbed(t *testing.T) {
	s := testServer(t, Options{})
	eng, ctx := testEngine(t), ctxT(t)
	dir := testAliases["dense"]
	want, err := eng.Embed(ctx, dir, testTexts, sie.NoPrompt())
	if err != nil {
		t.Fatal(err)
	}
	code, hdr, body := do(t, s, "POST", "/embed", `{"inputs":["hello world","Café au lait, s'il vous plaît","The quick brown fox jumps over the lazy dog."]}`)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if hdr.Get("X-Compute-Tokens") == "" {
		t.Error("no X-Compute-Tokens header")
	}
	var got [][]float32
	mustJSON(t, body, &got)
	for i := range want {
		// normalize defaults to true: L2 of the model's vector.
		sameVec(t, fmt.Sprintf("embed %d", i), got[i], l2Norm(want[i]))
	}
	// normalize false gives the model's own vector; prompt_name applies
	// the named prompt; the model may be named by field or header.
	wantQ, err := eng.Embed(ctx, dir, testTexts[:1], sie.Prompt("query"))
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []struct{ body, header string }{
		{`{"inputs":"hello world","normalize":false,"prompt_name":"query","model":"dense"}`, ""},
		{`{"inputs":"hello world","normalize":false,"prompt_name":"query"}`, "dense"},
	} {
		code, _, body = do(t, s, "POST", "/embed", req.body, "X-SIE-Model", req.header)
		if code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		mustJSON(t, body, &got)
		sameVec(t, "prompt_name query", got[0], wantQ[0])
	}
	// dimensions: truncate, then normalise.
	code, _, body = do(t, s, "POST", "/embed", `{"inputs":"hello world","dimensions":8}`)
	mustJSON(t, body, &got)
	if code != 200 || len(got[0]) != 8 {
		t.Fatalf("%d %s", code, body)
	}
	sameVec(t, "dimensions 8", got[0], l2Norm(want[0][:8]))

	// Over-long input: truncated by default (as Embed does), refused with
	// truncate false, cut at the start with truncation_direction Left.
	long := strings.Repeat("word ", 400)
	wantLong, err := eng.Embed(ctx, dir, []string{long}, sie.NoPrompt())
	if err != nil {
		t.Fatal(err)
	}
	code, _, body = do(t, s, "POST", "/embed", `{"inputs":"`+long+`","normalize":false}`)
	mustJSON(t, body, &got)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	sameVec(t, "truncated", got[0], wantLong[0])
	code, _, body = do(t, s, "POST", "/embed", `{"inputs":"`+long+`","truncate":false}`)
	if code != 422 || !strings.Contains(string(body), "must have less than") || !strings.Contains(string(body), `"error_type":"Validation"`) {
		t.Errorf("truncate false: %d %s", code, body)
	}
	left := "alpha beta gamma " + strings.Repeat("word ", 400)
	code, _, body = do(t, s, "POST", "/embed", `{"inputs":"`+left+`","normalize":false,"truncation_direction":"Left"}`)
	mustJSON(t, body, &got)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	sameVec(t, "truncated at the start", got[0], wantLong[0]) // only "word" tokens survive on the left
}

func TestTEISparseAndAll(t *testing.T) {
	s := testServer(t, Options{})
	eng, ctx := testEngine(t), ctxT(t)
	want, err := eng.Encode(ctx, testAliases["splade"], testTexts, sie.EncodeOptions{Outputs: sie.Sparse, NoPrompt: true})
	if err != nil {
		t.Fatal(err)
	}
	code, _, body := do(t, s, "POST", "/embed_sparse", `{"inputs":["hello world","Café au lait, s'il vous plaît","The quick brown fox jumps over the lazy dog."],"model":"splade"}`)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var sparse [][]TEISparseValue
	mustJSON(t, body, &sparse)
	for i, w := range want {
		if len(sparse[i]) != len(w.Sparse.Indices) || len(sparse[i]) == 0 {
			t.Fatalf("text %d: %d entries, want %d", i, len(sparse[i]), len(w.Sparse.Indices))
		}
		for k, e := range sparse[i] {
			if e.Index != w.Sparse.Indices[k] || e.Value != w.Sparse.Values[k] {
				t.Fatalf("text %d entry %d: %+v, want %d:%v", i, k, e, w.Sparse.Indices[k], w.Sparse.Values[k])
			}
		}
	}
	wantM, err := eng.Encode(ctx, testAliases["colbert"], testTexts, sie.EncodeOptions{Outputs: sie.Multivector, NoPrompt: true})
	if err != nil {
		t.Fatal(err)
	}
	code, _, body = do(t, s, "POST", "/embed_all", `{"inputs":["hello world","Café au lait, s'il vous plaît","The quick brown fox jumps over the lazy dog."],"model":"colbert"}`)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var all [][][]float32
	mustJSON(t, body, &all)
	for i, w := range wantM {
		if len(all[i]) != len(w.Multivector) {
			t.Fatalf("text %d: %d token vectors, want %d", i, len(all[i]), len(w.Multivector))
		}
		for k := range w.Multivector {
			sameVec(t, fmt.Sprintf("text %d token %d", i, k), all[i][k], w.Multivector[k])
		}
	}
	// A dense model has no sparse output: TEI's 424.
	if code, _, body := do(t, s, "POST", "/embed_sparse", `{"inputs":"x"}`); code != 424 {
		t.Errorf("embed_sparse on a dense model: %d %s", code, body)
	}
}

var rerankDocs = []string{"Paris is the capital of France.", "Berlin is in Germany.", "The capital of France is Paris, a large city.", "Bananas are yellow."}

func TestRerankRoutes(t *testing.T) {
	s := testServer(t, Options{})
	eng, ctx := testEngine(t), ctxT(t)
	dir := testAliases["rerank"]
	q := "what is the capital of France?"
	sig, err := eng.Rerank(ctx, dir, q, rerankDocs, sie.NoPrompt(), sie.ScoreActivation(sie.ScoreSigmoid))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := eng.Rerank(ctx, dir, q, rerankDocs, sie.NoPrompt(), sie.ScoreActivation(sie.ScoreRaw))
	if err != nil {
		t.Fatal(err)
	}
	docsJSON := `["Paris is the capital of France.","Berlin is in Germany.","The capital of France is Paris, a large city.","Bananas are yellow."]`

	// TEI: {"query","texts"} → sorted [{"index","score","text"?}].
	code, _, body := do(t, s, "POST", "/rerank", `{"query":"what is the capital of France?","texts":`+docsJSON+`,"return_text":true,"model":"rerank"}`)
	var tei []TEIRank
	mustJSON(t, body, &tei)
	if code != 200 || len(tei) != len(sig) {
		t.Fatalf("%d %s", code, body)
	}
	for i, h := range sig {
		if tei[i].Index != h.Index || tei[i].Score != h.Score || tei[i].Text == nil || *tei[i].Text != rerankDocs[h.Index] {
			t.Errorf("TEI result %d: %+v, want %+v", i, tei[i], h)
		}
	}
	_, _, body = do(t, s, "POST", "/rerank", `{"query":"what is the capital of France?","texts":`+docsJSON+`,"raw_scores":true,"model":"rerank"}`)
	tei = nil
	mustJSON(t, body, &tei)
	for i, h := range raw {
		if tei[i].Index != h.Index || tei[i].Score != h.Score || tei[i].Text != nil {
			t.Errorf("TEI raw result %d: %+v, want %+v", i, tei[i], h)
		}
	}

	// Infinity: {"query","documents"} → {"results":[{"relevance_score","index","document"}]}.
	code, _, body = do(t, s, "POST", "/rerank", `{"query":"what is the capital of France?","documents":`+docsJSON+`,"top_n":2,"return_documents":true,"model":"rerank"}`)
	var inf InfinityRerankResponse
	mustJSON(t, body, &inf)
	if code != 200 || inf.Object != "rerank" || len(inf.Results) != 2 {
		t.Fatalf("%d %s", code, body)
	}
	for i, r := range inf.Results {
		if r.Index != sig[i].Index || r.RelevanceScore != sig[i].Score || r.Document == nil || *r.Document != rerankDocs[r.Index] {
			t.Errorf("Infinity result %d: %+v, want %+v", i, r, sig[i])
		}
	}

	// Cohere v2: top_n; v1: object documents and return_documents.
	code, _, body = do(t, s, "POST", "/v2/rerank", `{"model":"rerank","query":"what is the capital of France?","documents":`+docsJSON+`,"top_n":3}`)
	var co CohereRerankResponse
	mustJSON(t, body, &co)
	if code != 200 || len(co.Results) != 3 || co.ID == "" {
		t.Fatalf("%d %s", code, body)
	}
	for i, r := range co.Results {
		if r.Index != sig[i].Index || r.RelevanceScore != sig[i].Score || r.Document != nil {
			t.Errorf("Cohere v2 result %d: %+v, want %+v", i, r, sig[i])
		}
	}
	objs := `[{"text":"Paris is the capital of France.","id":"a"},"Berlin is in Germany.",{"text":"The capital of France is Paris, a large city."},{"text":"Bananas are yellow."}]`
	code, _, body = do(t, s, "POST", "/v1/rerank", `{"model":"rerank","query":"what is the capital of France?","documents":`+objs+`,"return_documents":true}`)
	mustJSON(t, body, &co)
	if code != 200 || len(co.Results) != 4 {
		t.Fatalf("%d %s", code, body)
	}
	for i, r := range co.Results {
		if r.Index != sig[i].Index || r.RelevanceScore != sig[i].Score || r.Document["text"] != rerankDocs[r.Index] {
			t.Errorf("Cohere v1 result %d: %+v, want %+v", i, r, sig[i])
		}
	}

	// A multivector model reranks by MaxSim.
	ms, err := eng.Rerank(ctx, testAliases["colbert"], q, rerankDocs, sie.NoPrompt())
	if err != nil {
		t.Fatal(err)
	}
	code, _, body = do(t, s, "POST", "/rerank", `{"query":"what is the capital of France?","texts":`+docsJSON+`,"model":"colbert"}`)
	tei = nil
	mustJSON(t, body, &tei)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	for i, h := range ms {
		if tei[i].Index != h.Index || tei[i].Score != h.Score {
			t.Errorf("MaxSim result %d: %+v, want %+v", i, tei[i], h)
		}
	}
	// An embedding model is not a reranker: TEI's 424.
	if code, _, body := do(t, s, "POST", "/rerank", `{"query":"q","texts":["a"],"model":"dense"}`); code != 424 {
		t.Errorf("rerank on a dense model: %d %s", code, body)
	}
}

func TestCohereEmbed(t *testing.T) {
	s := testServer(t, Options{})
	eng, ctx := testEngine(t), ctxT(t)
	dir := testAliases["prompted"]
	for _, c := range []struct {
		inputType string
		opts      []sie.Option
	}{
		{"search_query", []sie.Option{sie.Query()}},
		{"search_document", nil},
		{"", []sie.Option{sie.NoPrompt()}},
	} {
		want, err := eng.Embed(ctx, dir, testTexts, c.opts...)
		if err != nil {
			t.Fatal(err)
		}
		code, _, body := do(t, s, "POST", "/v2/embed", `{"texts":["hello world","Café au lait, s'il vous plaît","The quick brown fox jumps over the lazy dog."],"model":"prompted","input_type":"`+c.inputType+`","embedding_types":["float","int8","uint8","binary","ubinary","base64"]}`)
		if code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		var res struct {
			ResponseType string           `json:"response_type"`
			Embeddings   CohereEmbeddings `json:"embeddings"`
			Texts        []string         `json:"texts"`
			Meta         CohereMeta       `json:"meta"`
		}
		mustJSON(t, body, &res)
		if res.ResponseType != "embeddings_by_type" || !slices.Equal(res.Texts, testTexts) || res.Meta.BilledUnits["input_tokens"] == 0 {
			t.Fatalf("%s", body)
		}
		e := res.Embeddings
		for i, w := range want {
			what := fmt.Sprintf("input_type %q text %d", c.inputType, i)
			sameVec(t, what+" float", e.Float[i], w)
			sameVec(t, what+" base64", decodeBase64Floats(t, e.Base64[i]), w)
			qi, _ := sie.Quantize(w, sie.Int8)
			qu, _ := sie.Quantize(w, sie.Uint8)
			qb, _ := sie.Quantize(w, sie.Binary)
			for k := range w {
				if e.Int8[i][k] != int(int8(qi.Data[k])) || e.Uint8[i][k] != int(qu.Data[k]) {
					t.Fatalf("%s: int8/uint8 value %d differs from sie's quantization", what, k)
				}
			}
			if len(e.Ubinary[i]) != len(w)/8 {
				t.Fatalf("%s: %d ubinary bytes, want %d", what, len(e.Ubinary[i]), len(w)/8)
			}
			for k := range e.Ubinary[i] {
				// packbits(x > 0), most significant bit first; binary = ubinary − 128.
				var bits int
				for j := 0; j < 8; j++ {
					if w[8*k+j] > 0 {
						bits |= 0x80 >> j
					}
				}
				if e.Ubinary[i][k] != bits || e.Ubinary[i][k] != int(qb.Data[k]) || e.Binary[i][k] != bits-128 {
					t.Fatalf("%s: byte %d ubinary %d binary %d, want %d and %d", what, k, e.Ubinary[i][k], e.Binary[i][k], bits, bits-128)
				}
			}
		}
	}
	// v1 without embedding_types answers embeddings_floats.
	want, err := eng.Embed(ctx, dir, testTexts[:1], sie.NoPrompt())
	if err != nil {
		t.Fatal(err)
	}
	code, _, body := do(t, s, "POST", "/v1/embed", `{"texts":["hello world"],"model":"prompted"}`)
	var v1 struct {
		ResponseType string      `json:"response_type"`
		Embeddings   [][]float32 `json:"embeddings"`
	}
	mustJSON(t, body, &v1)
	if code != 200 || v1.ResponseType != "embeddings_floats" {
		t.Fatalf("%d %s", code, body)
	}
	sameVec(t, "v1 floats", v1.Embeddings[0], want[0])
	// truncate NONE refuses an over-long text.
	code, _, body = do(t, s, "POST", "/v2/embed", `{"texts":["`+strings.Repeat("word ", 600)+`"],"model":"prompted","truncate":"NONE","input_type":""}`)
	if code != 400 || !strings.Contains(string(body), `"message"`) {
		t.Errorf("truncate NONE: %d %s", code, body)
	}
}

func TestTokenizeInfoHealth(t *testing.T) {
	s := testServer(t, Options{})
	eng, ctx := testEngine(t), ctxT(t)
	want, err := eng.Tokenize(ctx, testAliases["dense"], testTexts[:2], sie.NoPrompt())
	if err != nil {
		t.Fatal(err)
	}
	code, _, body := do(t, s, "POST", "/tokenize", `{"inputs":["hello world","Café au lait, s'il vous plaît"]}`)
	var got [][]sie.Token
	mustJSON(t, body, &got)
	if code != 200 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%d %s\nwant %v", code, body, want)
	}
	info, err := eng.Info(ctx, testAliases["dense"])
	if err != nil {
		t.Fatal(err)
	}
	code, _, body = do(t, s, "GET", "/info", "")
	var ti TEIInfo
	mustJSON(t, body, &ti)
	if code != 200 || ti.MaxInputLength != info.MaxLength || ti.Dims != info.Dims || ti.ServedModelName != "dense" {
		t.Errorf("%d %s", code, body)
	}
	for _, p := range []string{"/health", "/healthz", "/readyz", "/"} {
		if code, _, body := do(t, s, "GET", p, ""); code != 200 {
			t.Errorf("GET %s: %d %s", p, code, body)
		}
	}
}

func TestSIERoutes(t *testing.T) {
	s := testServer(t, Options{})
	eng, ctx := testEngine(t), ctxT(t)
	dir := testAliases["dense"]
	want, err := eng.Encode(ctx, dir, testTexts, sie.EncodeOptions{IsQuery: true, DType: sie.Int8})
	if err != nil {
		t.Fatal(err)
	}
	code, _, body := do(t, s, "POST", "/v1/encode/dense", `{"items":[{"text":"hello world"},{"text":"Café au lait, s'il vous plaît"},{"text":"The quick brown fox jumps over the lazy dog."}],"params":{"output_types":["dense"],"output_dtype":"int8","is_query":true}}`)
	var res EncodeResponse
	mustJSON(t, body, &res)
	if code != 200 || len(res.Items) != 3 {
		t.Fatalf("%d %s", code, body)
	}
	for i, w := range want {
		d := res.Items[i].Dense
		if d.DType != "int8" || string(d.Data) != string(w.Quantized.Data) || d.Scale != w.Quantized.Scale {
			t.Errorf("item %d: %+v, want %+v", i, d, w.Quantized)
		}
	}
	wantSM, err := eng.Encode(ctx, testAliases["splade"], testTexts, sie.EncodeOptions{Outputs: sie.Sparse})
	if err != nil {
		t.Fatal(err)
	}
	code, _, body = do(t, s, "POST", "/v1/encode/splade", `{"items":[{"text":"hello world"},{"text":"Café au lait, s'il vous plaît"},{"text":"The quick brown fox jumps over the lazy dog."}],"params":{"output_types":["sparse"]}}`)
	mustJSON(t, body, &res)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	for i, w := range wantSM {
		if fmt.Sprint(*res.Items[i].Sparse) != fmt.Sprint(*w.Sparse) {
			t.Errorf("sparse item %d differs", i)
		}
	}
	q := "what is the capital of France?"
	wantR, err := eng.Rerank(ctx, testAliases["rerank"], q, rerankDocs, sie.TopK(2))
	if err != nil {
		t.Fatal(err)
	}
	code, _, body = do(t, s, "POST", "/v1/score/rerank", `{"query":{"text":"what is the capital of France?"},"items":[{"text":"Paris is the capital of France."},{"text":"Berlin is in Germany."},{"text":"The capital of France is Paris, a large city."},{"text":"Bananas are yellow."}],"params":{"top_k":2}}`)
	var sr ScoreResponse
	mustJSON(t, body, &sr)
	if code != 200 || len(sr.Scores) != 2 {
		t.Fatalf("%d %s", code, body)
	}
	for i, h := range wantR {
		if sr.Scores[i].Index != h.Index || sr.Scores[i].Score != h.Score {
			t.Errorf("score %d: %+v, want %+v", i, sr.Scores[i], h)
		}
	}
	if code, _, body := do(t, s, "POST", "/v1/encode/nope", `{"items":[{"text":"x"}]}`); code != http.StatusNotFound || !strings.Contains(string(body), `"code":"model_not_found"`) {
		t.Errorf("unknown model: %d %s", code, body)
	}
}
