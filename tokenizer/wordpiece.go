package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"unicode/utf8"
)

// token is a model output: id, surface string, and byte range within the word.
type token struct {
	id         int
	value      string
	start, end int
}

// model turns one pre-tokenized word into tokens.
type model interface {
	tokenize(ws *workspace, word []byte, out []token) ([]token, error)
	tokenToID(tok string) (int, bool)
	idToToken(id int) (string, bool)
	// size is the crate's Model::get_vocab_size.
	size() int
	// forEachToken visits every vocabulary entry (for the added-token union).
	forEachToken(f func(tok string, id int))
}

type modelFactory func(raw json.RawMessage) (model, error)

// modelTypes maps the JSON "type" of a model to its constructor.
var modelTypes = map[string]modelFactory{}

func registerModel(name string, f modelFactory) { modelTypes[name] = f }

func buildModel(raw json.RawMessage) (model, error) {
	if isNull(raw) {
		return nil, errors.New("tokenizer: missing model")
	}
	typ, err := componentType(raw)
	if err != nil {
		// Old files omit the model type; the crate then guesses from the
		// fields. Only the WordPiece shape is recognised here.
		var probe map[string]json.RawMessage
		if json.Unmarshal(raw, &probe) == nil {
			if _, ok := probe["continuing_subword_prefix"]; ok {
				if _, ok := probe["max_input_chars_per_word"]; ok {
					return newWordPiece(raw)
				}
			}
		}
		return nil, fmt.Errorf("tokenizer: model: %w", err)
	}
	f, ok := modelTypes[typ]
	if !ok {
		return nil, fmt.Errorf("tokenizer: unsupported model type %q", typ)
	}
	return f(raw)
}

func init() { registerModel("WordPiece", newWordPiece) }

// wordPiece is the greedy longest-match-first WordPiece model.
type wordPiece struct {
	vocab   map[string]vocabEntry
	vocabR  map[int]string
	unk     string
	prefix  string
	maxChar int
	// trie holds every vocabulary entry; entries[v] is the entry of trie
	// value v. contNode is the trie node reached by the continuing-subword
	// prefix (hasCont=false when no entry starts with it).
	trie     *doubleArray
	entries  []vocabEntry
	contNode int32
	hasCont  bool
}

func newWordPiece(raw json.RawMessage) (model, error) {
	var c struct {
		UnkToken                *string        `json:"unk_token"`
		ContinuingSubwordPrefix *string        `json:"continuing_subword_prefix"`
		MaxInputCharsPerWord    *int           `json:"max_input_chars_per_word"`
		Vocab                   map[string]int `json:"vocab"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("tokenizer: WordPiece: %w", err)
	}
	w := &wordPiece{unk: "[UNK]", prefix: "##", maxChar: 100, vocab: make(map[string]vocabEntry, len(c.Vocab))}
	if c.UnkToken != nil {
		w.unk = *c.UnkToken
	}
	if c.ContinuingSubwordPrefix != nil {
		w.prefix = *c.ContinuingSubwordPrefix
	}
	if c.MaxInputCharsPerWord != nil {
		if *c.MaxInputCharsPerWord < 0 {
			return nil, errors.New("tokenizer: WordPiece: negative max_input_chars_per_word")
		}
		w.maxChar = *c.MaxInputCharsPerWord
	}
	w.vocabR = make(map[int]string, len(c.Vocab))
	// Build the reverse map deterministically when two entries share an id.
	keys := make([]string, 0, len(c.Vocab))
	for k, id := range c.Vocab {
		if id < 0 {
			return nil, fmt.Errorf("tokenizer: WordPiece: negative id for %q", k)
		}
		keys = append(keys, k)
		w.vocab[k] = vocabEntry{id: id, tok: k}
	}
	sort.Strings(keys)
	for _, k := range keys {
		id := c.Vocab[k]
		if _, dup := w.vocabR[id]; !dup {
			w.vocabR[id] = k
		}
	}
	w.trie = buildDoubleArray(keys)
	w.entries = make([]vocabEntry, len(keys))
	for i, k := range keys {
		w.entries[i] = vocabEntry{id: c.Vocab[k], tok: k}
	}
	w.contNode, w.hasCont = w.trie.walk(0, w.prefix)
	return w, nil
}

var errMissingUnk = errors.New("tokenizer: WordPiece error: Missing [UNK] token from the vocabulary")

// vocabEntry keeps the map key next to the id so tokens can reference the
// vocabulary's own string instead of allocating.
type vocabEntry struct {
	id  int
	tok string
}

func (w *wordPiece) unkToken(word []byte, out []token) ([]token, error) {
	e, ok := w.vocab[w.unk]
	if !ok {
		return out, errMissingUnk
	}
	return append(out, token{id: e.id, value: w.unk, start: 0, end: len(word)}), nil
}

func (w *wordPiece) tokenize(ws *workspace, word []byte, out []token) ([]token, error) {
	if utf8.RuneCount(word) > w.maxChar {
		return w.unkToken(word, out)
	}
	// Greedy longest-match-first: at each position take the longest
	// vocabulary entry (with the continuing prefix after the first piece).
	// The crate tries candidates from the longest down with hash lookups;
	// a longest-prefix walk of the trie finds the same entry.
	base := len(out)
	for start := 0; start < len(word); {
		node := int32(0)
		if start > 0 {
			if !w.hasCont {
				return w.unkToken(word, out[:base])
			}
			node = w.contNode
		}
		v, n, ok := w.trie.longestPrefix(node, word[start:])
		if !ok {
			return w.unkToken(word, out[:base])
		}
		e := w.entries[v]
		out = append(out, token{id: e.id, value: e.tok, start: start, end: start + n})
		start += n
	}
	return out, nil
}

func (w *wordPiece) tokenToID(tok string) (int, bool) {
	e, ok := w.vocab[tok]
	return e.id, ok
}

func (w *wordPiece) idToToken(id int) (string, bool) {
	t, ok := w.vocabR[id]
	return t, ok
}

func (w *wordPiece) size() int { return len(w.vocab) }

func (w *wordPiece) forEachToken(f func(string, int)) {
	for k, e := range w.vocab {
		f(k, e.id)
	}
}
