package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sie-project/sie"
	"github.com/sie-project/sie/internal/hub/hubtest"
)

// The fields `sie models --json` and `sie info --json` must carry for every
// entry, named as SIE names them.
var entryFields = []string{"id", "hf_repo", "revision", "architecture", "outputs", "max_length", "pooling",
	"normalize", "query_template", "doc_template", "default_instruction", "prompts", "matryoshka_dims",
	"profiles", "score_activation", "license", "params", "sources"}

func TestModelsCommand(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"models", "--json"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	var entries []map[string]any
	if err := json.Unmarshal(out.Bytes(), &entries); err != nil {
		t.Fatalf("not one JSON array: %v", err)
	}
	if len(entries) < 55 {
		t.Fatalf("%d entries, want at least 55", len(entries))
	}
	ids := map[string]bool{}
	for _, e := range entries {
		for _, f := range entryFields {
			if _, ok := e[f]; !ok {
				t.Errorf("%v: no field %q", e["id"], f)
			}
		}
		o, _ := e["outputs"].(map[string]any)
		for _, k := range []string{"dense", "sparse", "multivector", "score"} {
			if _, ok := o[k]; !ok {
				t.Errorf("%v: outputs has no %q", e["id"], k)
			}
		}
		ids[e["id"].(string)] = true
	}
	for _, id := range []string{"intfloat/e5-base-v2", "intfloat/e5-small-v2", "intfloat/e5-large-v2",
		"Alibaba-NLP/gte-Qwen2-1.5B-instruct", "NovaSearch/stella_en_400M_v5", "BAAI/bge-reranker-v2-m3",
		"BAAI/bge-small-en-v1.5", "BAAI/bge-base-en-v1.5", "BAAI/bge-large-en-v1.5",
		"sentence-transformers/all-MiniLM-L6-v2", "BAAI/bge-m3"} {
		if !ids[id] {
			t.Errorf("%s is not listed", id)
		}
	}

	out.Reset()
	if err := run(context.Background(), []string{"models"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if !strings.HasPrefix(lines[0], "MODEL") || len(lines) != len(entries)+2 {
		t.Fatalf("table: %d lines, header %q", len(lines), lines[0])
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "intfloat/e5-base-v2 ") && !strings.Contains(l, "d768") {
			t.Errorf("e5-base-v2 row %q lacks d768", l)
		}
	}
	if err := run(context.Background(), []string{"models", "extra"}, nil, &out); err == nil {
		t.Error("models with an argument: no error")
	}
}

func TestInfoCommand(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("SIE_CACHE", cache)
	info := func(args ...string) map[string]any {
		t.Helper()
		var out bytes.Buffer
		if err := run(context.Background(), append([]string{"info"}, args...), nil, &out); err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(out.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v", out.String(), err)
		}
		return m
	}
	m := info("--json", "intfloat/e5-base-v2")
	for _, f := range entryFields {
		if _, ok := m[f]; !ok {
			t.Errorf("no field %q", f)
		}
	}
	if m["query_template"] != "query: {text}" || m["doc_template"] != "passage: {text}" || m["cached"] != false {
		t.Errorf("e5-base-v2: %v", m)
	}
	// Flags after MODEL work too; a profile narrows the outputs.
	m = info("BAAI/bge-m3:sparse", "--json")
	o := m["outputs"].(map[string]any)
	if o["sparse"] != float64(250002) || o["dense"] != float64(0) || m["profile"] != "sparse" || len(m["profiles"].([]any)) != 4 {
		t.Errorf("bge-m3:sparse: %v", m)
	}

	// A checkpoint in the cache is reported with its snapshot folder: pull
	// one from a fake hub at the entry's pinned commit, then ask offline.
	hub := hubtest.New(t)
	hub.ServeAt("intfloat/e5-base-v2", revisionOf(t, "intfloat/e5-base-v2"), map[string][]byte{
		"config.json": []byte("{}"), "tokenizer.json": []byte("{}"), "model.safetensors": []byte("weights"),
	})
	dir, err := sie.Pull(context.Background(), "intfloat/e5-base-v2", sie.Options{Hub: sie.HubOptions{Endpoint: hub.URL}})
	if err != nil {
		t.Fatal(err)
	}
	hub.ResetRequests()
	m = info("--json", "intfloat/e5-base-v2")
	if m["cached"] != true || m["cache_path"] != dir {
		t.Errorf("cached: %v at %v, want true at %s", m["cached"], m["cache_path"], dir)
	}
	if n := len(hub.Requests()); n != 0 {
		t.Errorf("sie info sent %d requests", n)
	}

	var out bytes.Buffer
	if err := run(context.Background(), []string{"info", "BAAI/bge-m3"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"profile sparse", "profile colbert", "profile hybrid", "multivector (1024 per token)", "cached             no"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text info lacks %q:\n%s", want, out.String())
		}
	}
	for _, args := range [][]string{{"info"}, {"info", "nobody/nothing"}, {"info", "BAAI/bge-m3:nope"}, {"info", "a/b", "c/d"}} {
		if err := run(context.Background(), args, nil, &out); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

// revisionOf returns an entry's pinned revision from sie info --json.
func revisionOf(t *testing.T, id string) string {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"info", "--json", id}, nil, &out); err != nil {
		t.Fatal(err)
	}
	var m struct{ Revision string }
	if err := json.Unmarshal(out.Bytes(), &m); err != nil || m.Revision == "" {
		t.Fatalf("%s: revision %q, %v", id, m.Revision, err)
	}
	return m.Revision
}
