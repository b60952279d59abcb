package server

// GET /openapi.json: an OpenAPI 3.1 description of every route, generated
// from the request and response types the handlers decode and encode, so it
// cannot drift from them. GET /docs renders it with a page served from this
// package (no asset is fetched from the network) and can send each route's
// example request.

import (
	_ "embed"
	"net/http"
	"reflect"
	"sort"
	"strings"

	"github.com/sie-project/sie"
)

// routeDoc describes one route for OpenAPI.
type routeDoc struct {
	summary string
	tag     string
	req     []any  // request body types (several: oneOf)
	resp    []any  // 200 body types (several: oneOf); nil: no JSON body
	content string // 200 content type when not JSON
	example string // example request body for /docs
}

// docs holds a routeDoc per registered pattern; a test checks that every
// route served has one.
var docs = map[string]routeDoc{
	"POST /v1/embeddings": {summary: "Create embeddings (OpenAI). No prompt is applied.", tag: "OpenAI",
		req: []any{OpenAIEmbeddingRequest{}}, resp: []any{OpenAIEmbeddingResponse{}}, example: `{"input": ["hello world", "sie serves embeddings"]}`},
	"POST /embeddings": {summary: "Create embeddings (OpenAI / Infinity without the /v1 prefix).", tag: "Infinity",
		req: []any{OpenAIEmbeddingRequest{}}, resp: []any{OpenAIEmbeddingResponse{}}, example: `{"input": "hello world"}`},
	"GET /v1/models":         {summary: "List the served models (OpenAI).", tag: "OpenAI", resp: []any{OpenAIModelList{}}},
	"GET /v1/models/{id...}": {summary: "Describe one model (OpenAI); 404 when it is not served.", tag: "OpenAI", resp: []any{OpenAIModel{}}},
	"GET /models":            {summary: "List the served models (Infinity).", tag: "Infinity", resp: []any{[]InfinityModel{}}},
	"POST /v2/embed": {summary: "Embed texts (Cohere v2). input_type selects the query or document prompt; int8/uint8 use sie's per-vector calibration, ubinary = packbits(x > 0), binary = ubinary − 128.", tag: "Cohere",
		req: []any{CohereEmbedRequest{}}, resp: []any{CohereEmbedResponse{}}, example: `{"texts": ["hello world"], "input_type": "search_document", "embedding_types": ["float", "int8", "ubinary"]}`},
	"POST /v1/embed": {summary: "Embed texts (Cohere v1): embeddings_floats without embedding_types.", tag: "Cohere",
		req: []any{CohereEmbedRequest{}}, resp: []any{CohereEmbedResponse{}}},
	"POST /v2/rerank": {summary: "Rerank documents (Cohere v2): sigmoid scores, best first.", tag: "Cohere",
		req: []any{CohereRerankRequest{}}, resp: []any{CohereRerankResponse{}}},
	"POST /v1/rerank": {summary: "Rerank documents (Cohere v1): string or object documents, rank_fields, return_documents.", tag: "Cohere",
		req: []any{CohereRerankRequest{}}, resp: []any{CohereRerankResponse{}}},
	"POST /embed": {summary: "Embed (TEI): normalize defaults to true; the model comes from \"model\", X-SIE-Model or the default.", tag: "TEI",
		req: []any{TEIEmbedRequest{}}, resp: []any{[][]float32{}}, example: `{"inputs": ["hello world"]}`},
	"POST /embed_sparse": {summary: "Sparse embeddings (TEI) of a SPLADE or BGE-M3 model.", tag: "TEI",
		req: []any{TEIEmbedRequest{}}, resp: []any{[][]TEISparseValue{}}},
	"POST /embed_all": {summary: "Per-token vectors (TEI): the multivector output of a ColBERT or BGE-M3 model.", tag: "TEI",
		req: []any{TEIEmbedRequest{}}, resp: []any{[][][]float32{}}},
	"POST /rerank": {summary: "Rerank: with \"texts\" TEI's request and sorted list, with \"documents\" Infinity's request and results.", tag: "TEI",
		req: []any{TEIRerankRequest{}, InfinityRerankRequest{}}, resp: []any{[]TEIRank{}, InfinityRerankResponse{}}},
	"POST /tokenize": {summary: "Tokenize (TEI), untruncated, special tokens added.", tag: "TEI",
		req: []any{TEITokenizeRequest{}}, resp: []any{[][]sie.Token{}}, example: `{"inputs": "hello world"}`},
	"GET /info":   {summary: "Describe the default model (TEI); ?model= names another.", tag: "TEI", resp: []any{TEIInfo{}}},
	"GET /health": {summary: "Liveness (TEI, Infinity): 200 with {\"unix\": seconds}.", tag: "TEI", resp: []any{map[string]float64{}}},
	"GET /ping":   {summary: "Liveness (TEI).", tag: "TEI", resp: []any{map[string]float64{}}},
	"POST /v1/encode/{model...}": {summary: "Encode (sie): dense, sparse and multivector outputs in any dtype, with the model's query and document templates.", tag: "sie",
		req: []any{EncodeRequest{}}, resp: []any{EncodeResponse{}}},
	"POST /v1/score/{model...}": {summary: "Score items against a query (sie): cross-encoder or MaxSim/dense/sparse/hybrid, best first.", tag: "sie",
		req: []any{ScoreRequest{}}, resp: []any{ScoreResponse{}}},
	"GET /healthz":      {summary: "Liveness (sie).", tag: "sie", resp: []any{map[string]string{}}},
	"GET /readyz":       {summary: "Readiness: 503 until the preloaded models have loaded and compiled.", tag: "sie", resp: []any{map[string]any{}}},
	"GET /metrics":      {summary: "Prometheus metrics (text format 0.0.4).", tag: "sie", content: "text/plain"},
	"GET /openapi.json": {summary: "This document.", tag: "sie", content: "application/json"},
	"GET /docs":         {summary: "An HTML page rendering this document.", tag: "sie", content: "text/html"},
}

// errorSchemas are the error envelopes, by dialect.
var errorSchemas = map[string]map[string]any{
	"OpenAIError": obj(map[string]any{"error": obj(map[string]any{
		"message": typ("string"), "type": typ("string"), "param": typ("string", "null"), "code": typ("string", "null")})}),
	"CohereError": obj(map[string]any{"id": typ("string"), "message": typ("string")}),
	"TEIError":    obj(map[string]any{"error": typ("string"), "error_type": typ("string")}),
	"SIEError":    obj(map[string]any{"error": obj(map[string]any{"message": typ("string"), "code": typ("string")})}),
}

var tagError = map[string]string{"OpenAI": "OpenAIError", "Infinity": "OpenAIError", "Cohere": "CohereError", "TEI": "TEIError", "sie": "SIEError"}

func obj(props map[string]any) map[string]any {
	return map[string]any{"type": "object", "properties": props}
}

func typ(names ...string) map[string]any {
	if len(names) == 1 {
		return map[string]any{"type": names[0]}
	}
	return map[string]any{"type": names}
}

//go:embed docs.html
var docsPage []byte

func (s *Server) docsRoutes() {
	s.docsMetrics()
	s.handle("GET /openapi.json", apiSIE, true, func(w http.ResponseWriter, r *http.Request) error {
		writeJSON(w, http.StatusOK, s.OpenAPI())
		return nil
	})
	s.handle("GET /docs", apiSIE, true, func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, err := w.Write(docsPage)
		return err
	})
}

// OpenAPI returns the OpenAPI 3.1 document of the routes this server
// serves.
func (s *Server) OpenAPI() map[string]any {
	g := &schemaGen{components: map[string]any{}}
	for name, sch := range errorSchemas {
		g.components[name] = sch
	}
	paths := map[string]any{}
	patterns := append([]string(nil), s.patterns...)
	sort.Strings(patterns)
	for _, p := range patterns {
		d, ok := docs[p]
		if !ok {
			continue // TestOpenAPIMatchesRoutes fails on this
		}
		method, path, _ := strings.Cut(p, " ")
		var params []any
		for _, seg := range strings.Split(path, "/") {
			if strings.HasPrefix(seg, "{") {
				name := strings.TrimSuffix(strings.Trim(seg, "{}"), "...")
				params = append(params, map[string]any{"name": name, "in": "path", "required": true, "schema": typ("string"),
					"description": "may contain slashes (org/name), percent-encoded or not"})
			}
		}
		path = strings.ReplaceAll(path, "...}", "}")
		op := map[string]any{"summary": d.summary, "tags": []string{d.tag},
			"operationId": strings.ToLower(method) + strings.NewReplacer("/", "_", "{", "", "}", "", ".", "_", "...", "").Replace(path)}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if d.example != "" {
			op["x-example"] = d.example
		}
		if len(d.req) > 0 {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": g.oneOf(d.req)}}}
		}
		ok200 := map[string]any{"description": "OK"}
		switch {
		case len(d.resp) > 0:
			ok200["content"] = map[string]any{"application/json": map[string]any{"schema": g.oneOf(d.resp)}}
		case d.content != "":
			ok200["content"] = map[string]any{d.content: map[string]any{"schema": typ("string")}}
		}
		errRef := map[string]any{"$ref": "#/components/schemas/" + tagError[d.tag]}
		errResp := func(desc string) map[string]any {
			return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": errRef}}}
		}
		op["responses"] = map[string]any{
			"200": ok200,
			"4XX": errResp("A caller mistake (400/422), no or wrong API key (401), unknown model (404), body too large (413), the model cannot do this (424 on TEI routes), overloaded (429, Retry-After)."),
			"5XX": errResp("Model loading (503, Retry-After) or a server failure."),
		}
		if path != "/healthz" && path != "/readyz" && path != "/health" && path != "/ping" && path != "/metrics" &&
			path != "/openapi.json" && path != "/docs" {
			op["security"] = []any{map[string]any{"bearer": []string{}}}
		}
		item, _ := paths[path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[path] = item
		}
		item[strings.ToLower(method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "sie", "version": Version,
			"description": "Embeddings and reranking in the dialects of OpenAI, Cohere, TEI and Infinity, plus sie's own routes. " +
				"The OpenAI-, TEI- and Infinity-compatible routes apply no prompt unless prompt_name asks; Cohere's input_type and sie's routes apply the model's query/document templates."},
		"paths": paths,
		"components": map[string]any{"schemas": g.components,
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer",
				"description": "Required when the server runs with --api-key."}}},
	}
}

// schemaGen turns Go types into JSON Schema (2020-12, as OpenAPI 3.1 uses),
// naming structs as components.
type schemaGen struct{ components map[string]any }

func (g *schemaGen) oneOf(vs []any) map[string]any {
	if len(vs) == 1 {
		return g.schema(reflect.TypeOf(vs[0]))
	}
	var list []any
	for _, v := range vs {
		list = append(list, g.schema(reflect.TypeOf(v)))
	}
	return map[string]any{"oneOf": list}
}

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	switch t.Kind() {
	case reflect.Pointer:
		return g.schema(t.Elem())
	case reflect.Interface:
		return map[string]any{}
	case reflect.String:
		return typ("string")
	case reflect.Bool:
		return typ("boolean")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return typ("integer")
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number", "format": map[reflect.Kind]string{reflect.Float32: "float", reflect.Float64: "double"}[t.Kind()]}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && t.Kind() == reflect.Slice {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		s := map[string]any{"type": "array", "items": g.schema(t.Elem())}
		if t.Kind() == reflect.Array {
			s["minItems"], s["maxItems"] = t.Len(), t.Len()
		}
		return s
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Struct:
		name := t.Name()
		ref := map[string]any{"$ref": "#/components/schemas/" + name}
		if _, done := g.components[name]; done {
			return ref
		}
		g.components[name] = map[string]any{} // placeholder against recursion
		props := map[string]any{}
		g.fields(t, props)
		g.components[name] = map[string]any{"type": "object", "properties": props}
		return ref
	}
	return map[string]any{}
}

func (g *schemaGen) fields(t reflect.Type, props map[string]any) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			g.fields(f.Type, props)
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = g.schema(f.Type)
	}
}
