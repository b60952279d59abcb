package verify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sie-project/sie"
	"github.com/sie-project/sie/internal/golden"
	"github.com/sie-project/sie/verify"
)

var (
	engOnce sync.Once
	eng     *sie.Engine
	engErr  error
)

// engine is one Engine for the package's tests.
func engine(t *testing.T) *sie.Engine {
	t.Helper()
	engOnce.Do(func() { eng, engErr = sie.Open(sie.Options{}) })
	if engErr != nil {
		t.Fatal(engErr)
	}
	return eng
}

// model is a small sentence-transformers checkpoint (mean pooling, Normalize).
var model = golden.Dir("bert-mean")

// corpus is 24 short texts and 3 long ones.
func corpus() []string {
	short := []string{
		"A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby.",
		"A man is riding a horse.", "A woman is playing violin.", "Two men pushed carts through the woods.",
		"A monkey is playing drums.", "The cat sat on the mat.", "It rained all day in the city.",
		"She sold sea shells by the shore.", "The train leaves at noon.", "Birds fly south in winter.",
		"He painted the fence white.", "The market opens early.", "A child laughs at the clown.",
		"Coffee keeps me awake.", "The river runs to the sea.", "Snow covered the mountain top.",
		"They built a house of stone.", "The dog chased the ball.", "Music fills the empty hall.",
		"A storm is coming tonight.", "She reads a book every week.", "The bridge spans the valley.",
	}
	long := []string{
		"The history of the old city is long and complicated, with many wars, plagues, fires and floods that shaped the streets, the markets and the people who lived there for centuries before the modern era began.",
		"When the expedition finally reached the northern coast after months of walking through forests and over frozen rivers, the explorers found an abandoned village with empty houses and boats still tied to the shore.",
		"Researchers measured the temperature of the lake every morning for ten years and found that the water warmed slowly in spring, stayed warm through a long summer and cooled quickly when the autumn winds arrived.",
	}
	return append(append([]string(nil), short[:12]...), append(long[:1], append(short[12:], long[1:]...)...)...)
}

// fake is an httptest server speaking one wire format over the Engine.
// prepare changes the texts before they are embedded and post the vectors
// after, to build legs that differ from sie in one known way.
func fake(t *testing.T, api verify.API, prepare func(string) string, post func([]float32) []float32) *httptest.Server {
	t.Helper()
	e := engine(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var texts []string
		var model string
		var wantPath string
		var body map[string]json.RawMessage
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "want a JSON POST", http.StatusBadRequest)
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		field := "input"
		switch api {
		case verify.TEI:
			wantPath, field = "/embed", "inputs"
		case verify.Cohere:
			wantPath, field = "/v2/embed", "texts"
			var types []string
			_ = json.Unmarshal(body["embedding_types"], &types)
			var it string
			_ = json.Unmarshal(body["input_type"], &it)
			if len(types) != 1 || types[0] != "float" || it != "search_document" {
				http.Error(w, fmt.Sprintf("embedding_types %v, input_type %q", types, it), http.StatusBadRequest)
				return
			}
		case verify.Infinity:
			wantPath = "/embeddings"
		default:
			wantPath = "/v1/embeddings"
		}
		if r.URL.Path != wantPath {
			http.Error(w, "no route "+r.URL.Path, http.StatusNotFound)
			return
		}
		if err := json.Unmarshal(body[field], &texts); err != nil {
			http.Error(w, field+": "+err.Error(), http.StatusBadRequest)
			return
		}
		if api == verify.TEI && len(texts) > 32 {
			http.Error(w, `{"error":"batch size > 32","error_type":"Validation"}`, http.StatusRequestEntityTooLarge)
			return
		}
		if api != verify.TEI {
			_ = json.Unmarshal(body["model"], &model)
			if model != "the-model" {
				http.Error(w, "model "+model, http.StatusNotFound)
				return
			}
		}
		in := make([]string, len(texts))
		for i, s := range texts {
			in[i] = s
			if prepare != nil {
				in[i] = prepare(s)
			}
		}
		// The OpenAI-compatible servers apply no prompt template.
		vecs, err := e.Embed(r.Context(), modelDir, in, sie.NoPrompt())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if post != nil {
			for i := range vecs {
				vecs[i] = post(vecs[i])
			}
		}
		w.Header().Set("Content-Type", "application/json")
		switch api {
		case verify.TEI:
			_ = json.NewEncoder(w).Encode(vecs)
		case verify.Cohere:
			_ = json.NewEncoder(w).Encode(map[string]any{"id": "x", "embeddings": map[string]any{"float": vecs}, "texts": texts})
		default:
			type datum struct {
				Object    string    `json:"object"`
				Index     int       `json:"index"`
				Embedding []float32 `json:"embedding"`
			}
			data := make([]datum, len(vecs))
			for i, v := range vecs { // reversed: clients must order by index
				data[len(vecs)-1-i] = datum{"embedding", i, v}
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": model})
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

var modelDir = model

func sieLeg(t *testing.T) verify.Leg {
	return verify.ServiceLeg{Service: engine(t), Model: modelDir}
}

func TestCompareSameCheckpointEveryAPI(t *testing.T) {
	texts := corpus()
	for _, api := range []verify.API{verify.OpenAI, verify.TEI, verify.Cohere, verify.Infinity} {
		t.Run(string(api), func(t *testing.T) {
			srv := fake(t, api, nil, nil)
			other := verify.HTTPLeg{URL: srv.URL, API: api, Model: "the-model"}
			var calls int
			rep, err := verify.Compare(context.Background(), texts, sieLeg(t), other,
				verify.CompareOptions{Batch: 10, Progress: func(done, total int) {
					calls++
					if total != 2*len(texts) || done > total {
						t.Errorf("progress %d of %d", done, total)
					}
				}})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Pass || rep.Min < 0.99999 || rep.Count != len(texts) || len(rep.Hints) != 0 {
				t.Fatalf("same checkpoint: pass %v, min %.7f, count %d, hints %q", rep.Pass, rep.Min, rep.Count, rep.Hints)
			}
			if calls != 6 { // 3 batches of at most 10 per leg
				t.Errorf("%d progress calls, want 6", calls)
			}
		})
	}
}

func TestHTTPLegEndpoint(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.Path+" "+r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"data":[{"index":0,"embedding":[1,0]}]}`)
	}))
	defer srv.Close()
	for _, u := range []string{srv.URL, srv.URL + "/", srv.URL + "/v1", srv.URL + "/v1/embeddings"} {
		leg := verify.HTTPLeg{URL: u, API: verify.OpenAI, APIKey: "k"}
		if _, err := leg.Embed(context.Background(), []string{"x"}, false); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range got {
		if g != "/v1/embeddings Bearer k" {
			t.Errorf("request %q, want /v1/embeddings with the bearer token", g)
		}
	}
	// A provider error reaches the caller with its status and message.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":{"message":"model not found"}}`, http.StatusNotFound)
	}))
	defer bad.Close()
	_, err := verify.HTTPLeg{URL: bad.URL, API: verify.TEI}.Embed(context.Background(), []string{"x"}, false)
	if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "model not found") {
		t.Errorf("error %v, want the status and the provider's message", err)
	}
}

func TestCompareNormalisation(t *testing.T) {
	texts := corpus()
	// A leg that skips the Normalize module: the same directions, other lengths.
	srv := fake(t, verify.TEI, nil, func(v []float32) []float32 {
		out := make([]float32, len(v))
		s := float32(2 + v[0]) // a different length per item
		for i := range v {
			out[i] = v[i] * s
		}
		return out
	})
	rep, err := verify.Compare(context.Background(), texts, sieLeg(t), verify.HTTPLeg{URL: srv.URL, API: verify.TEI}, verify.CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pass || rep.Min < 0.99999 {
		t.Fatalf("pass %v, min cosine %.6f: want a failure on norms alone", rep.Pass, rep.Min)
	}
	wantHint(t, rep, "normalisation: sie's vectors are unit length but the other leg's are not")
}

func TestComparePrefix(t *testing.T) {
	texts := corpus()
	srv := fake(t, verify.OpenAI, func(s string) string { return "passage: " + s }, nil)
	rep, err := verify.Compare(context.Background(), texts, sieLeg(t), verify.HTTPLeg{URL: srv.URL, API: verify.OpenAI, Model: "the-model"}, verify.CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("prefix: min %.4f mean %.4f", rep.Min, rep.Mean)
	if rep.Pass {
		t.Fatal("a leg with a prefix passed")
	}
	wantHint(t, rep, "prefix:")
}

func TestCompareTruncation(t *testing.T) {
	texts := corpus()
	// The other leg keeps only the first 12 words of a text, as a server
	// with a shorter maximum length would.
	srv := fake(t, verify.Infinity, func(s string) string {
		w := strings.Fields(s)
		return strings.Join(w[:min(len(w), 12)], " ")
	}, nil)
	rep, err := verify.Compare(context.Background(), texts, sieLeg(t), verify.HTTPLeg{URL: srv.URL, API: verify.Infinity, Model: "the-model"}, verify.CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pass || rep.Failing != 3 {
		t.Fatalf("pass %v with %d failing items, want the 3 long ones", rep.Pass, rep.Failing)
	}
	for _, w := range rep.Worst[:3] {
		if w.Chars < 150 {
			t.Errorf("worst item %d has %d characters, want one of the long texts", w.Index, w.Chars)
		}
	}
	wantHint(t, rep, "truncation:")
}

func wantHint(t *testing.T, rep *verify.Report, prefix string) {
	t.Helper()
	for _, h := range rep.Hints {
		if strings.HasPrefix(h, prefix) {
			return
		}
	}
	t.Errorf("hints %q, want one starting %q", rep.Hints, prefix)
}

func TestCompareStats(t *testing.T) {
	// Hand-made legs: item i of the other leg is at angle θ_i from sie's.
	angles := []float64{0, 0.01, 0.02, 0.1, 0.5}
	a, b := map[string][]float32{}, map[string][]float32{}
	var texts []string
	for i, th := range angles {
		s := fmt.Sprint("t", i)
		texts = append(texts, s)
		a[s] = []float32{1, 0}
		b[s] = []float32{float32(math.Cos(th)), float32(math.Sin(th))}
	}
	rep, err := verify.Compare(context.Background(), texts, mapLeg(a), mapLeg(b), verify.CompareOptions{MinCosine: 0.99, Worst: 2})
	if err != nil {
		t.Fatal(err)
	}
	// cos 0.5 = 0.8775826, cos 0.1 = 0.9950042, cos 0.02 = 0.9998000, cos 0.01 = 0.9999500
	mean := (1 + 0.9999500 + 0.9998000 + 0.9950042 + 0.8775826) / 5
	if rep.Count != 5 || math.Abs(rep.Min-0.8775826) > 1e-6 || math.Abs(rep.P1-0.8775826) > 1e-6 ||
		math.Abs(rep.Mean-mean) > 1e-6 || rep.Failing != 1 || rep.Pass {
		t.Errorf("count %d min %.7f p1 %.7f mean %.7f failing %d pass %v", rep.Count, rep.Min, rep.P1, rep.Mean, rep.Failing, rep.Pass)
	}
	if len(rep.Worst) != 2 || rep.Worst[0].Index != 4 || rep.Worst[1].Index != 3 {
		t.Errorf("worst %+v, want items 4 then 3", rep.Worst)
	}
	// Different dimensions are an error, not a failure.
	b["t0"] = []float32{1, 0, 0}
	if _, err := verify.Compare(context.Background(), texts, mapLeg(a), mapLeg(b), verify.CompareOptions{}); err == nil || !strings.Contains(err.Error(), "dimensions") {
		t.Errorf("error %v, want one about dimensions", err)
	}
}

// mapLeg embeds each text to a fixed vector.
type mapLeg map[string][]float32

func (m mapLeg) Embed(_ context.Context, texts []string, isQuery bool) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, s := range texts {
		v, ok := m[s]
		if !ok {
			return nil, fmt.Errorf("no vector for %q", s)
		}
		out[i] = v
	}
	return out, nil
}

func TestReadVectors(t *testing.T) {
	in := "[1, 2.5]\n\n{\"embedding\": [3, 4], \"index\": 1}\n"
	v, err := verify.ReadVectors(strings.NewReader(in))
	if err != nil || len(v) != 2 || v[0][1] != 2.5 || v[1][0] != 3 {
		t.Fatalf("%v %v", v, err)
	}
	for _, bad := range []string{"{\"vector\": [1]}", "\"text\"", "[1, \"a\"]"} {
		if _, err := verify.ReadVectors(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%q: error %v, want one naming line 1", bad, err)
		}
	}
}

func TestReadBEIR(t *testing.T) {
	docs, err := verify.ReadDocs(strings.NewReader(`{"_id": "d1", "title": "Paris", "text": "is in France."}
{"_id": 7, "text": "seven"}
"plain"
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []verify.Doc{{"d1", "Paris is in France."}, {"7", "seven"}, {"2", "plain"}}
	if fmt.Sprint(docs) != fmt.Sprint(want) {
		t.Errorf("docs %v, want %v", docs, want)
	}
	q, err := verify.ReadQrels(strings.NewReader("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t2\nq2\td1\t0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 2 || q["q1"]["d2"] != 2 || q["q2"]["d1"] != 0 {
		t.Errorf("qrels %v", q)
	}
	if _, err := verify.ReadQrels(strings.NewReader("q1\td1\t1\nq1\td2\tx\n")); err == nil {
		t.Error("a non-integer score after the first line was accepted")
	}
}

func TestScoreHandComputed(t *testing.T) {
	// Ranking d3 d1 d5 d2; relevant d1 (2), d2 (1), d9 (1, never retrieved).
	// recall@3 = 1/3. DCG@10 = 2/log2(3) + 1/log2(5) = 1.2618595 + 0.4306766 = 1.6925361;
	// IDCG@10 = 2 + 1/log2(3) + 1/log2(4) = 3.1309298; nDCG = 0.5405858.
	// MRR@10 = 1/2.
	m := verify.Score([]string{"d3", "d1", "d5", "d2"}, map[string]int{"d1": 2, "d2": 1, "d9": 1, "d3": 0}, 3)
	want := verify.Metrics{Recall: 1.0 / 3, NDCG10: 0.5405858, MRR10: 0.5}
	if !near(m, want, 1e-6) {
		t.Errorf("got %+v, want %+v", m, want)
	}
}

func near(a, b verify.Metrics, tol float64) bool {
	return math.Abs(a.Recall-b.Recall) <= tol && math.Abs(a.NDCG10-b.NDCG10) <= tol && math.Abs(a.MRR10-b.MRR10) <= tol
}

// labelled is a small labelled set with hand-placed 2-d vectors: corpus a,
// b, c, d at 0°, 30°, 60°, 90°; the sie leg puts q1 at 10° and q2 at 50°, the
// baseline q1 at 80° and q2 at 0°.
func labelled() (queries, docs []verify.Doc, qrels verify.Qrels, sieVecs, baseVecs mapLeg) {
	at := func(deg float64) []float32 {
		r := deg * math.Pi / 180
		return []float32{float32(math.Cos(r)), float32(math.Sin(r))}
	}
	queries = []verify.Doc{{"q1", "first query"}, {"q2", "second query"}, {"q3", "unjudged query"}}
	docs = []verify.Doc{{"a", "doc a"}, {"b", "doc b"}, {"c", "doc c"}, {"d", "doc d"}}
	qrels = verify.Qrels{"q1": {"b": 1, "d": 2}, "q2": {"a": 1}, "q3": {"a": 0}}
	sieVecs = mapLeg{"doc a": at(0), "doc b": at(30), "doc c": at(60), "doc d": at(90),
		"first query": at(10), "second query": at(50), "unjudged query": at(45)}
	baseVecs = mapLeg{"doc a": at(0), "doc b": at(30), "doc c": at(60), "doc d": at(90),
		"first query": at(80), "second query": at(0), "unjudged query": at(45)}
	return
}

func TestRetrievalHandComputed(t *testing.T) {
	queries, docs, qrels, sieVecs, baseVecs := labelled()
	rep, err := verify.Retrieval(context.Background(), queries, docs, qrels, sieVecs, baseVecs, verify.RetrievalOptions{K: 2})
	if err != nil {
		t.Fatal(err)
	}
	// sie:  q1 ranks a b c d: recall@2 1/2; DCG b@2 + d@4 = 1/log2(3) + 2/log2(5) = 1.4922829,
	//       IDCG 2 + 1/log2(3) = 2.6309298, nDCG 0.5672074; MRR 1/2.
	//       q2 ranks c b d a: recall 0; nDCG 1/log2(5) = 0.4306766; MRR 1/4.
	// base: q1 ranks d c b a: recall 1/2; DCG 2 + 1/2 = 2.5, nDCG 0.9502344; MRR 1.
	//       q2 ranks a b c d: recall 1, nDCG 1, MRR 1.
	perQuery := map[string][2]verify.Metrics{
		"q1": {{0.5, 0.5672074, 0.5}, {0.5, 0.9502344, 1}},
		"q2": {{0, 0.4306766, 0.25}, {1, 1, 1}},
	}
	if rep.Queries != 2 || rep.Corpus != 4 || len(rep.PerQuery) != 2 {
		t.Fatalf("%d queries, %d documents, %d rows: want q3 (no relevant document) left out", rep.Queries, rep.Corpus, len(rep.PerQuery))
	}
	for _, q := range rep.PerQuery {
		w := perQuery[q.ID]
		if !near(q.Sie, w[0], 1e-6) || !near(q.Baseline, w[1], 1e-6) || !near(q.Diff, verify.Metrics{
			Recall: w[0].Recall - w[1].Recall, NDCG10: w[0].NDCG10 - w[1].NDCG10, MRR10: w[0].MRR10 - w[1].MRR10}, 1e-6) {
			t.Errorf("%s: got %+v, want sie %+v baseline %+v", q.ID, q, w[0], w[1])
		}
	}
	sieAll := verify.Metrics{Recall: 0.25, NDCG10: (0.5672074 + 0.4306766) / 2, MRR10: 0.375}
	baseAll := verify.Metrics{Recall: 0.75, NDCG10: (0.9502344 + 1) / 2, MRR10: 1}
	if !near(rep.Sie, sieAll, 1e-6) || !near(rep.Baseline, baseAll, 1e-6) {
		t.Errorf("overall sie %+v baseline %+v, want %+v and %+v", rep.Sie, rep.Baseline, sieAll, baseAll)
	}
	var b strings.Builder
	if err := rep.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"recall@2", "nDCG@10", "MRR@10", "overall", "0.2500", "0.7500", "-0.5000"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

func TestComparePoolingHint(t *testing.T) {
	// Every item about 60° off (cosine ≈ 0.5): what CLS against mean
	// pooling of one checkpoint looks like.
	a, b := map[string][]float32{}, map[string][]float32{}
	var texts []string
	for i := range 6 {
		s := fmt.Sprint("t", i)
		texts = append(texts, s)
		th := 1.0 + 0.05*float64(i)
		a[s] = []float32{1, 0}
		b[s] = []float32{float32(math.Cos(th)), float32(math.Sin(th))}
	}
	rep, err := verify.Compare(context.Background(), texts, mapLeg(a), mapLeg(b), verify.CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantHint(t, rep, "pooling:")
}
