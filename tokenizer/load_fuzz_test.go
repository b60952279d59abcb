package tokenizer

import (
	"encoding/json"
	"testing"
)

// shrinkSpec cuts a tokenizer.json down to its first entries (ids below
// keep, the first merges) so that it is a small fuzzing seed that still
// carries the spec's normalizer, pre-tokenizer, post-processor and decoder.
func shrinkSpec(t testing.TB, name string, keep int) []byte {
	var m map[string]any
	if err := json.Unmarshal(specJSON(t, name), &m); err != nil {
		t.Fatal(err)
	}
	if model, ok := m["model"].(map[string]any); ok {
		switch v := model["vocab"].(type) {
		case map[string]any:
			for k, id := range v {
				if f, ok := id.(float64); !ok || f >= float64(keep) {
					delete(v, k)
				}
			}
		case []any:
			model["vocab"] = v[:min(len(v), keep)]
		}
		if merges, ok := model["merges"].([]any); ok {
			model["merges"] = merges[:min(len(merges), keep/4)]
		}
	}
	if added, ok := m["added_tokens"].([]any); ok {
		var kept []any
		for _, a := range added {
			if e, ok := a.(map[string]any); ok {
				if id, ok := e["id"].(float64); ok && id < float64(keep) {
					kept = append(kept, a)
				}
			}
		}
		m["added_tokens"] = kept
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzFromJSON loads tokenizer.json files (not only encodes with them): no
// panic, no hang, and no allocation by a size the file claims, such as a
// fixed padding length of a trillion tokens; a file that loads must encode.
func FuzzFromJSON(f *testing.F) {
	for _, name := range fuzzSpecs {
		f.Add(shrinkSpec(f, name, 300))
	}
	f.Add([]byte(`{"model":{"type":"WordLevel","vocab":{"a":0,"[UNK]":1},"unk_token":"[UNK]"},"padding":{"strategy":{"Fixed":1000000000000},"pad_id":0}}`))
	f.Add([]byte(`{"model":{"type":"WordLevel","vocab":{"a":0,"[UNK]":1},"unk_token":"[UNK]"},"padding":{"strategy":"BatchLongest","pad_to_multiple_of":4611686018427387904}}`))
	f.Add([]byte(`{"model":{"type":"WordPiece","vocab":{"a":0,"[UNK]":1},"unk_token":"[UNK]","max_input_chars_per_word":-1},"truncation":{"max_length":-5,"stride":0,"strategy":"LongestFirst"}}`))
	f.Add([]byte(`{"model":{"type":"Unigram","vocab":[["a",-1],["b",1e308]],"unk_id":7}}`))
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":["a b","b c"]},"added_tokens":[{"id":99999999999,"content":"x"}]}`))
	texts := []string{"Hello world, ça va? 你好 🙂 don't", "", "a b ab ba"}
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := FromJSON(data)
		if err != nil {
			return
		}
		for _, text := range texts {
			e, err := tk.Encode(text, true)
			if err != nil {
				continue
			}
			if len(e.IDs) > 1<<16 {
				t.Fatalf("%d ids for %d bytes of text", len(e.IDs), len(text))
			}
			checkEncoding(t, tk, e, []string{text}, func(int) int { return 0 })
		}
	})
}
