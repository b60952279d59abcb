package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
)

// API names a wire format an HTTPLeg speaks.
type API string

// The wire formats HTTPLeg speaks, each at its provider's route.
const (
	OpenAI   API = "openai"   // POST {base}/v1/embeddings
	TEI      API = "tei"      // POST {base}/embed
	Cohere   API = "cohere"   // POST {base}/v2/embed
	Infinity API = "infinity" // POST {base}/embeddings (OpenAI body, no /v1 unless --url-prefix)
)

// ParseAPI checks s names a known wire format.
func ParseAPI(s string) (API, error) {
	switch a := API(strings.ToLower(s)); a {
	case OpenAI, TEI, Cohere, Infinity:
		return a, nil
	}
	return "", fmt.Errorf("unknown API %q: want openai, tei, cohere or infinity", s)
}

// route is the path each API serves embeddings at.
func (a API) route() string {
	switch a {
	case TEI:
		return "/embed"
	case Cohere:
		return "/v2/embed"
	case Infinity:
		return "/embeddings"
	}
	return "/v1/embeddings"
}

// batch is the most inputs one request may carry: TEI's default
// --max-client-batch-size is 32 and Cohere takes at most 96 texts.
func (a API) batch() int {
	switch a {
	case TEI:
		return 32
	case Cohere:
		return 96
	}
	return 256
}

// HTTPLeg embeds through an embedding server. URL is the server's base URL
// (http://host:8080); the API's route is appended unless URL already ends
// with it. Queries and documents differ only for Cohere (input_type): the
// OpenAI, TEI and Infinity APIs apply no prompt, as those servers do.
type HTTPLeg struct {
	URL    string
	API    API
	Model  string       // sent as "model" (OpenAI, Infinity, Cohere); TEI serves its one model
	APIKey string       // sent as a bearer token when set
	Client *http.Client // nil: http.DefaultClient
}

func (l HTTPLeg) endpoint() string {
	u := strings.TrimRight(l.URL, "/")
	r := l.API.route()
	if strings.HasSuffix(u, r) {
		return u
	}
	// A base that already names the version (http://host/v1) gets only the
	// last segment of the route, as the OpenAI clients do.
	if l.API == OpenAI && strings.HasSuffix(u, "/v1") {
		return u + "/embeddings"
	}
	return u + r
}

// Embed implements Leg, one request per call: callers batch (Compare
// and Retrieval respect the API's request limit).
func (l HTTPLeg) Embed(ctx context.Context, texts []string, isQuery bool) ([][]float32, error) {
	var body any
	switch l.API {
	case TEI:
		body = map[string]any{"inputs": texts}
	case Cohere:
		it := "search_document"
		if isQuery {
			it = "search_query"
		}
		body = map[string]any{"model": l.Model, "texts": texts, "input_type": it, "embedding_types": []string{"float"}}
	default:
		body = map[string]any{"model": l.Model, "input": texts, "encoding_format": "float"}
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	url := l.endpoint()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if l.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+l.APIKey)
	}
	c := l.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<30))
	if err != nil {
		return nil, fmt.Errorf("POST %s: %w", url, err)
	}
	if resp.StatusCode/100 != 2 {
		msg := strings.TrimSpace(string(data))
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		return nil, fmt.Errorf("POST %s: %s: %s", url, resp.Status, msg)
	}
	vecs, err := l.decode(data)
	if err != nil {
		return nil, fmt.Errorf("POST %s: reading the %s reply: %w", url, l.API, err)
	}
	if len(vecs) != len(texts) {
		return nil, fmt.Errorf("POST %s: %d vectors for %d inputs", url, len(vecs), len(texts))
	}
	return vecs, nil
}

func (l HTTPLeg) decode(data []byte) ([][]float32, error) {
	switch l.API {
	case TEI:
		var v [][]float32
		err := json.Unmarshal(data, &v)
		return v, err
	case Cohere:
		var v struct {
			Embeddings struct {
				Float [][]float32 `json:"float"`
			} `json:"embeddings"`
		}
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, err
		}
		return v.Embeddings.Float, nil
	}
	var v struct {
		Data []struct {
			Index     int       `json:"index"`
			Embedding []float32 `json:"embedding"`
		} `json:"data"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	// The OpenAI format carries each vector's input index; order by it.
	sort.SliceStable(v.Data, func(i, j int) bool { return v.Data[i].Index < v.Data[j].Index })
	out := make([][]float32, len(v.Data))
	for i, d := range v.Data {
		if d.Index != i {
			return nil, fmt.Errorf("indexes are not 0..%d", len(v.Data)-1)
		}
		out[i] = d.Embedding
	}
	return out, nil
}
