package tokenizer

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// addedToken is an entry of tokenizer.json's added_tokens.
type addedToken struct {
	content                              string
	singleWord, lstrip, rstrip, isNormal bool
	special                              bool
	id                                   int
	// pattern is what is searched for: content, or its normalized form when
	// isNormal (the crate's normalized_cache).
	pattern string
}

type addedTokenJSON struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized *bool  `json:"normalized"`
	Special    bool   `json:"special"`
}

// addedVocab splits input on added tokens before the model sees it.
type addedVocab struct {
	byContent map[string]int
	byID      map[int]*addedToken
	// raw matches the original text (normalized=false tokens), norm matches
	// normalized pieces (normalized=true tokens).
	raw, norm *tokenTrie
}

// trie node children are kept in one map keyed by (node, byte).
type tokenTrie struct {
	next      map[uint64]int32
	terminal  []int32 // token id per node, -1 when none
	firstByte [256]bool
}

func newTokenTrie() *tokenTrie {
	return &tokenTrie{next: map[uint64]int32{}, terminal: []int32{-1}}
}

func (t *tokenTrie) insert(p string, id int) {
	node := int32(0)
	for i := 0; i < len(p); i++ {
		key := uint64(node)<<8 | uint64(p[i])
		nx, ok := t.next[key]
		if !ok {
			nx = int32(len(t.terminal))
			t.terminal = append(t.terminal, -1)
			t.next[key] = nx
		}
		node = nx
	}
	t.terminal[node] = int32(id)
	t.firstByte[p[0]] = true
}

// find returns the leftmost-longest match at or after from.
func (t *tokenTrie) find(s []byte, from int) (start, end, id int, ok bool) {
	for i := from; i < len(s); i++ {
		if !t.firstByte[s[i]] {
			continue
		}
		node := int32(0)
		best, bestID := -1, -1
		for j := i; j < len(s); j++ {
			nx, ok := t.next[uint64(node)<<8|uint64(s[j])]
			if !ok {
				break
			}
			node = nx
			if t.terminal[node] >= 0 {
				best, bestID = j+1, int(t.terminal[node])
			}
		}
		if best >= 0 {
			return i, best, bestID, true
		}
	}
	return 0, 0, 0, false
}

// newAddedVocab registers tokens the way the crate's AddedVocabulary::add_tokens
// does when a tokenizer.json is loaded: the "id" field is ignored; a token
// takes the id of an existing entry with the same content (added or model
// vocabulary) or the next free id.
func newAddedVocab(tokens []addedTokenJSON, m model, norm normalizer) (*addedVocab, error) {
	av := &addedVocab{byContent: map[string]int{}, byID: map[int]*addedToken{}}
	nextID := m.size()
	for _, tj := range tokens {
		if tj.Content == "" {
			continue
		}
		t := &addedToken{
			content:    tj.Content,
			singleWord: tj.SingleWord,
			lstrip:     tj.LStrip,
			rstrip:     tj.RStrip,
			isNormal:   !tj.Special,
			special:    tj.Special,
		}
		if tj.Normalized != nil {
			t.isNormal = *tj.Normalized
		}
		if id, ok := av.byContent[t.content]; ok {
			if old := av.byID[id]; old != nil && old.sameAs(t) {
				continue
			}
		}
		id, ok := av.byContent[t.content]
		if !ok {
			id, ok = m.tokenToID(t.content)
		}
		if !ok {
			id = nextID
			nextID++
		}
		t.id = id
		t.pattern = t.content
		if t.isNormal && norm != nil {
			p, err := normalizeString(norm, t.content)
			if err != nil {
				return nil, err
			}
			t.pattern = p
		}
		av.byContent[t.content] = id
		av.byID[id] = t
	}
	for _, t := range av.byID {
		if t.pattern == "" {
			continue
		}
		if t.isNormal {
			if av.norm == nil {
				av.norm = newTokenTrie()
			}
			av.norm.insert(t.pattern, t.id)
		} else {
			if av.raw == nil {
				av.raw = newTokenTrie()
			}
			av.raw.insert(t.pattern, t.id)
		}
	}
	return av, nil
}

func (t *addedToken) sameAs(o *addedToken) bool {
	return t.content == o.content && t.singleWord == o.singleWord && t.lstrip == o.lstrip &&
		t.rstrip == o.rstrip && t.isNormal == o.isNormal && t.special == o.special
}

// findMatches cuts s into (added token | plain) ranges as the crate's
// AddedVocabulary::find_matches does, applying single_word, lstrip and rstrip.
func (av *addedVocab) findMatches(s []byte, trie *tokenTrie, out []match, ids []int) ([]match, []int) {
	if trie == nil || len(s) == 0 {
		return append(out, match{0, len(s), false}), append(ids, -1)
	}
	startOffset := 0
	for from := 0; from < len(s); {
		start, stop, id, ok := trie.find(s, from)
		if !ok {
			break
		}
		from = stop
		t := av.byID[id]
		if t.singleWord {
			startSpace := start == 0 || !endsWithWord(s[:start])
			stopSpace := stop == len(s) || !startsWithWord(s[stop:])
			if !startSpace || !stopSpace {
				continue
			}
		}
		if t.lstrip {
			ns := start
			for ns > 0 {
				r, sz := utf8.DecodeLastRune(s[:ns])
				if !isWhitespace(r) {
					break
				}
				ns -= sz
			}
			start = max(ns, startOffset)
		}
		if t.rstrip {
			for stop < len(s) {
				r, sz := utf8.DecodeRune(s[stop:])
				if !isWhitespace(r) {
					break
				}
				stop += sz
			}
		}
		if startOffset < start {
			out = append(out, match{startOffset, start, false})
			ids = append(ids, -1)
		}
		out = append(out, match{start, stop, true})
		ids = append(ids, id)
		startOffset = stop
	}
	if startOffset != len(s) {
		out = append(out, match{startOffset, len(s), false})
		ids = append(ids, -1)
	}
	return out, ids
}

func endsWithWord(s []byte) bool {
	r, _ := utf8.DecodeLastRune(s)
	return len(s) > 0 && isWordChar(r)
}

func startsWithWord(s []byte) bool {
	r, _ := utf8.DecodeRune(s)
	return len(s) > 0 && isWordChar(r)
}

// normalizeString runs a normalizer over a standalone string.
func normalizeString(nz normalizer, s string) (string, error) {
	ws := newWorkspace()
	n := &normalized{}
	n.reset(s, 0)
	if err := nz.normalize(ws, n); err != nil {
		return "", err
	}
	return string(n.s), nil
}

func parseAddedTokens(raw json.RawMessage) ([]addedTokenJSON, error) {
	if isNull(raw) {
		return nil, nil
	}
	var toks []addedTokenJSON
	if err := json.Unmarshal(raw, &toks); err != nil {
		return nil, fmt.Errorf("tokenizer: added_tokens: %w", err)
	}
	return toks, nil
}
