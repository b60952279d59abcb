package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// envelope checks that body is route's error envelope and returns its
// message.
func envelope(t *testing.T, path string, body []byte) string {
	t.Helper()
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatalf("%s: error body is not JSON: %s", path, body)
	}
	switch api := routeAPI(path); api {
	case apiOpenAI, apiInfinity, apiSIE:
		e, ok := raw["error"].(map[string]any)
		if !ok {
			t.Fatalf("%s: want {\"error\": {...}}, got %s", path, body)
		}
		msg, _ := e["message"].(string)
		if api != apiSIE {
			for _, k := range []string{"type", "param", "code"} {
				if _, ok := e[k]; !ok {
					t.Errorf("%s: error has no %q: %s", path, k, body)
				}
			}
		}
		return msg
	case apiCohere:
		msg, _ := raw["message"].(string)
		if _, ok := raw["id"]; !ok || msg == "" {
			t.Fatalf("%s: want {\"id\", \"message\"}, got %s", path, body)
		}
		return msg
	default:
		msg, _ := raw["error"].(string)
		if _, ok := raw["error_type"].(string); !ok || msg == "" {
			t.Fatalf("%s: want {\"error\", \"error_type\"}, got %s", path, body)
		}
		return msg
	}
}

// routeAPI is the dialect a test request to path expects (POST /rerank
// with "documents" answers Infinity's, which the table marks itself).
func routeAPI(path string) api {
	switch {
	case strings.HasPrefix(path, "/v1/embeddings"), path == "/embeddings", strings.HasPrefix(path, "/v1/models"):
		return apiOpenAI
	case strings.HasPrefix(path, "/v2/"), path == "/v1/embed", path == "/v1/rerank":
		return apiCohere
	case strings.HasPrefix(path, "/v1/encode"), strings.HasPrefix(path, "/v1/score"):
		return apiSIE
	case strings.HasPrefix(path, "infinity:"):
		return apiInfinity
	}
	return apiTEI
}

func TestBadInput(t *testing.T) {
	s := testServer(t, Options{MaxInputs: 4, MaxBodyBytes: 4096, MaxInputChars: 1000})
	keyed := testServer(t, Options{APIKey: "sekret"})
	big := `"` + strings.Repeat("a", 5000) + `"`
	type tc struct {
		path, body string
		status     int
		contains   string
	}
	var cases []tc
	// The same mistakes on every embedding route.
	embedRoutes := map[string]string{ // route → input field
		"/v1/embeddings": "input", "/embeddings": "input", "/embed": "inputs", "/embed_sparse": "inputs",
		"/v2/embed": "texts", "/v1/embed": "texts",
	}
	invalid := func(path string) int {
		if routeAPI(path) == apiTEI {
			return 422
		}
		return 400
	}
	for path, field := range embedRoutes {
		model := `"model":"dense",`
		if path == "/embed_sparse" {
			model = `"model":"splade",`
		}
		cases = append(cases,
			tc{path, `{"` + field + `": ["a", `, invalid(path), "malformed JSON"},
			tc{path, `[1,2]`, invalid(path), ""},
			tc{path, ``, invalid(path), "empty"},
			tc{path, `{` + model + `"` + field + `": []}`, 400, ""},
			tc{path, `{` + model + `"` + field + `": [""]}`, 400, ""},
			tc{path, `{` + model + `"` + field + `": ["a","b","c","d","e"]}`, invalid(path), "4"},
			tc{path, `{` + model + `"` + field + `": [` + big + `]}`, 413, ""},
			tc{path, `{` + model + `"` + field + `": ["` + strings.Repeat("b", 1500) + `"]}`, invalid(path), "1000"},
			tc{path, `{"model":"nope","` + field + `": ["a"]}`, 404, "nope"},
			tc{path, `{"model":"../../etc","` + field + `": ["a"]}`, 404, "../../etc"},
			tc{path, `{"model":"/etc","` + field + `": ["a"]}`, 404, ""},
			tc{path, `{"model":"` + strings.ReplaceAll(testAliases["dense"], `\`, `\\`) + `","` + field + `": ["a"]}`, 404, ""},
			tc{path, `{` + model + `"` + field + `": 5}`, invalid(path), ""},
			tc{path, `{` + model + `"` + field + `": [1.5]}`, invalid(path), ""},
			tc{path, `{"model":5,"` + field + `": ["a"]}`, invalid(path), "model"},
		)
	}
	cases = append(cases,
		tc{"/v1/embeddings", `{"model":"dense"}`, 400, "input"},
		tc{"/v1/embeddings", `{"model":"dense","input":"a","encoding_format":"md5"}`, 400, "encoding_format"},
		tc{"/v1/embeddings", `{"model":"dense","input":"a","dimensions":0}`, 400, "dimensions"},
		tc{"/v1/embeddings", `{"model":"dense","input":"a","dimensions":100000}`, 400, "dimensions"},
		tc{"/v1/embeddings", `{"model":"dense","input":[[]]}`, 400, ""},
		tc{"/v1/embeddings", `{"model":"rerank","input":"a"}`, 400, "dense"},
		tc{"/v2/embed", `{"model":"dense","texts":["a"],"embedding_types":["int4"]}`, 400, "int4"},
		tc{"/v2/embed", `{"model":"dense","texts":["a"],"input_type":"poetry"}`, 400, "input_type"},
		tc{"/v2/embed", `{"model":"dense","texts":["a"],"truncate":"MIDDLE"}`, 400, "truncate"},
		tc{"/v2/embed", `{"model":"dense","images":["data:image/png;base64,AA=="]}`, 400, "images"},
		tc{"/v2/rerank", `{"model":"rerank","query":"q","documents":[]}`, 400, ""},
		tc{"/v2/rerank", `{"model":"rerank","documents":["a"]}`, 400, "query"},
		tc{"/v2/rerank", `{"model":"rerank","query":"q","documents":["a"],"top_n":0}`, 400, "top_n"},
		tc{"/v2/rerank", `{"model":"rerank","query":"q","documents":[5]}`, 400, "document"},
		tc{"/v2/rerank", `{"model":"dense","query":"q","documents":["a"]}`, 400, "re-ranker"},
		tc{"/v1/rerank", `{"model":"../x","query":"q","documents":["a"]}`, 404, ""},
		tc{"/rerank", `{"model":"rerank","query":"q","texts":[]}`, 400, ""},
		tc{"/rerank", `{"model":"rerank","texts":["a"]}`, 422, "query"},
		tc{"/rerank", `{"model":"dense","query":"q","texts":["a"]}`, 424, "re-ranker"},
		tc{"/rerank", `{"model":"rerank","query":"q","texts":["a","b","c","d","e"]}`, 422, ""},
		tc{"/embed", `{"inputs":"a","dimensions":-3}`, 422, "dimensions"},
		tc{"/embed", `{"inputs":"a","truncation_direction":"Up"}`, 422, "truncation_direction"},
		tc{"/embed", `{"inputs":"a","prompt_name":"nope"}`, 422, "nope"},
		tc{"/embed_all", `{"inputs":"a"}`, 424, "multivector"},
		tc{"/tokenize", `{"inputs":[1,2]}`, 422, ""},
		tc{"/v1/encode/dense", `{"items":[{"text":"a"}],"params":{"output_types":["colour"]}}`, 400, "colour"},
		tc{"/v1/encode/dense", `{"items":[{"text":"a"}],"params":{"output_dtype":"int4"}}`, 400, "int4"},
		tc{"/v1/encode/..%2F..%2Fetc", `{"items":[{"text":"a"}]}`, 404, ""},
		tc{"/v1/score/rerank", `{"query":{"text":"q"},"items":[{"text":"a"}],"params":{"score_by":"vibes"}}`, 400, "ScoreBy"},
	)
	for _, c := range cases {
		path := c.path
		code, hdr, body := do(t, s, "POST", path, c.body)
		if code != c.status {
			t.Errorf("POST %s %.80s: status %d, want %d: %s", path, c.body, code, c.status, body)
			continue
		}
		if !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
			t.Errorf("POST %s: Content-Type %q", path, hdr.Get("Content-Type"))
		}
		if msg := envelope(t, path, body); !strings.Contains(msg, c.contains) {
			t.Errorf("POST %s %.80s: message %q does not mention %q", path, c.body, msg, c.contains)
		}
	}
	// Infinity's rerank answers in Infinity's envelope.
	code, _, body := do(t, s, "POST", "/rerank", `{"model":"rerank","query":"q","documents":["a"],"top_n":-1}`)
	if code != 400 {
		t.Errorf("Infinity rerank top_n -1: %d %s", code, body)
	}
	envelope(t, "infinity:/rerank", body)

	// Auth: every route but the probes needs the key.
	for _, p := range []string{"/v1/embeddings", "/v2/embed", "/embed", "/v1/encode/dense", "/rerank"} {
		for _, auth := range []string{"", "Bearer wrong", "Basic sekret", "Bearer sekret2"} {
			code, _, body := do(t, keyed, "POST", p, `{"input":"a","inputs":"a","texts":["a"],"items":[{"text":"a"}],"query":"q"}`, "Authorization", auth)
			if code != http.StatusUnauthorized {
				t.Errorf("POST %s with %q: %d %s", p, auth, code, body)
				continue
			}
			envelope(t, p, body)
		}
	}
	if code, _, body := do(t, keyed, "POST", "/v1/embeddings", `{"input":"a"}`, "Authorization", "Bearer sekret"); code != 200 {
		t.Errorf("with the key: %d %s", code, body)
	}
	for _, p := range []string{"/healthz", "/readyz", "/health", "/metrics"} {
		if code, _, body := do(t, keyed, "GET", p, ""); code != 200 {
			t.Errorf("GET %s without a key: %d %s", p, code, body)
		}
	}
	if code, _, _ := do(t, keyed, "GET", "/v1/models", ""); code != 401 {
		t.Errorf("GET /v1/models without a key: %d", code)
	}
}

// TestLimits: too many concurrent requests get 429 with Retry-After, a
// model still loading 503 with Retry-After.
func TestLimits(t *testing.T) {
	s := testServer(t, Options{MaxConcurrent: 1})
	s.sem <- struct{}{} // one request in progress
	code, hdr, body := do(t, s, "POST", "/v1/embeddings", `{"input":"a"}`)
	<-s.sem
	if code != 429 || hdr.Get("Retry-After") == "" {
		t.Errorf("over the concurrency limit: %d %v %s", code, hdr, body)
	}
	s.mu.Lock()
	s.loading[testAliases["dense"]] = true
	s.mu.Unlock()
	code, hdr, body = do(t, s, "POST", "/embed", `{"inputs":"a"}`)
	code2, _, _ := do(t, s, "GET", "/readyz", "")
	s.mu.Lock()
	delete(s.loading, testAliases["dense"])
	s.mu.Unlock()
	if code != 503 || hdr.Get("Retry-After") == "" || !strings.Contains(string(body), "Unhealthy") || code2 != 503 {
		t.Errorf("model loading: %d %v %s; /readyz %d", code, hdr, body, code2)
	}
}

// FuzzRequest sends arbitrary bodies to every POST route: the answer is
// always JSON with a status below 500 (or a 2xx), never a panic.
func FuzzRequest(f *testing.F) {
	seeds := []string{
		`{"input":["hello"],"model":"dense"}`, `{"input":[[101,7592,102]]}`, `{"inputs":"x","truncate":false}`,
		`{"texts":["a"],"embedding_types":["int8","binary"],"input_type":"search_query"}`,
		`{"query":"q","texts":["a","b"],"raw_scores":true}`, `{"query":"q","documents":[{"text":"a"}],"top_n":1}`,
		`{"items":[{"text":"a"}],"params":{"output_types":["dense"],"output_dtype":"binary"}}`,
		`{"query":{"text":"q"},"items":[{"text":"a"}],"params":{"top_k":1}}`, `null`, `[]`, `{"input":{}}`, "\xff",
	}
	paths := []string{"/v1/embeddings", "/embed", "/embed_sparse", "/embed_all", "/rerank", "/tokenize", "/v2/embed",
		"/v1/embed", "/v2/rerank", "/v1/rerank", "/v1/encode/dense", "/v1/score/rerank", "/v1/encode/splade"}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	s := testServer(f, Options{MaxInputs: 8, MaxInputChars: 2000})
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		path := paths[int(route)%len(paths)]
		code, hdr, resp := do(t, s, "POST", path, body)
		if code >= 500 {
			t.Fatalf("POST %s %q: %d %s", path, body, code, resp)
		}
		if !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") || !json.Valid(resp) {
			t.Fatalf("POST %s %q: %d, not JSON: %q", path, body, code, resp)
		}
	})
}

// TestErrorsHideFolders: an error about an aliased folder names the alias,
// not the folder.
func TestErrorsHideFolders(t *testing.T) {
	s := testServer(t, Options{})
	code, _, body := do(t, s, "POST", "/v1/score/rerank", `{"query":{"text":"q"},"items":[{"text":"a"}],"params":{"score_by":"vibes"}}`)
	if code != 400 || strings.Contains(string(body), testAliases["rerank"]) || !strings.Contains(string(body), `\"rerank\"`) {
		t.Errorf("%d %s", code, body)
	}
}

// TestClientGone: a request whose client has gone away stops with the
// engine's context error, answered as 499 (never 500), and counted.
func TestClientGone(t *testing.T) {
	s := testServer(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest("POST", "/v1/embeddings", strings.NewReader(`{"input":["a","b"],"model":"dense"}`)).WithContext(ctx)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != 499 {
		t.Errorf("cancelled request: %d %s", rec.Code, rec.Body)
	}
}
