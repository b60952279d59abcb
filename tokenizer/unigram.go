package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"unicode/utf8"
)

func init() { registerModel("Unigram", newUnigram) }

// unigram is SentencePiece's Unigram model as the crate implements it
// (models/unigram/model.rs, encode_optimized): a Viterbi search for the
// segmentation with the highest total score.
//
//   - Candidates at a position are the vocabulary pieces that are prefixes of
//     the rest of the word, shortest first, then, when no piece covers
//     exactly the next character, an unknown-character edge scored
//     min_score - 10. A candidate replaces the best path to its end only
//     with a strictly higher score, so ties keep the earlier candidate.
//   - Consecutive unknown characters are fused into one token whose string
//     is their (normalized) text; each token's id is then looked up by its
//     string, so a fused string that is itself a piece gets that piece's id,
//     and with byte_fallback an unknown string becomes <0xXX> tokens (all
//     spanning the whole string) when every byte has one.
//   - Every piece is searchable, <s>, </s> and <unk> included; a piece
//     listed twice takes its last id and that entry's score.
type unigram struct {
	pieces       []string
	scores       []float64
	ids          map[string]int
	unkID        int // -1 when unk_id is null
	byteFallback bool
	unkScore     float64
	// trie over the distinct non-empty pieces; keyIDs[v] is the id of key v.
	trie    *doubleArray
	keyIDs  []int32
	byteIDs [256]int32 // id of "<0xXX>", -1 when missing
	scratch sync.Pool
}

const unigramUnkPenalty = 10.0

var errUnigramMissingUnk = errors.New("tokenizer: Unigram: Encountered an unknown token but `unk_id` is missing")

func newUnigram(raw json.RawMessage) (model, error) {
	var c struct {
		Vocab        *[][2]json.RawMessage `json:"vocab"`
		UnkID        *int                  `json:"unk_id"`
		ByteFallback bool                  `json:"byte_fallback"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("tokenizer: Unigram: %w", err)
	}
	if c.Vocab == nil {
		return nil, errors.New("tokenizer: Unigram: Missing vocab")
	}
	u := &unigram{unkID: -1, byteFallback: c.ByteFallback, ids: make(map[string]int, len(*c.Vocab))}
	u.pieces = make([]string, len(*c.Vocab))
	u.scores = make([]float64, len(*c.Vocab))
	for i, e := range *c.Vocab {
		if err := json.Unmarshal(e[0], &u.pieces[i]); err != nil {
			return nil, fmt.Errorf("tokenizer: Unigram: vocab entry %d: %w", i, err)
		}
		if err := json.Unmarshal(e[1], &u.scores[i]); err != nil {
			return nil, fmt.Errorf("tokenizer: Unigram: vocab entry %d: %w", i, err)
		}
	}
	if c.UnkID != nil {
		if *c.UnkID < 0 {
			return nil, errors.New("tokenizer: Unigram: negative unk_id")
		}
		if len(u.pieces) == 0 {
			return nil, errors.New("tokenizer: Unigram: Unable to load vocab EmptyVocabulary")
		}
		if *c.UnkID >= len(u.pieces) {
			return nil, errors.New("tokenizer: Unigram: Unable to load vocab UnkIdNotInVocabulary")
		}
		u.unkID = *c.UnkID
	}
	minScore := math.Inf(1)
	for i, p := range u.pieces {
		u.ids[p] = i
		if u.scores[i] < minScore {
			minScore = u.scores[i]
		}
	}
	u.unkScore = minScore - unigramUnkPenalty
	keys := make([]string, 0, len(u.ids))
	for p := range u.ids {
		if p != "" {
			keys = append(keys, p)
		}
	}
	u.trie = buildDoubleArray(keys)
	u.keyIDs = make([]int32, len(keys))
	for i, k := range keys {
		u.keyIDs[i] = int32(u.ids[k])
	}
	for b := range u.byteIDs {
		u.byteIDs[b] = -1
		if id, ok := u.ids[fmt.Sprintf("<0x%02X>", b)]; ok {
			u.byteIDs[b] = int32(id)
		}
	}
	u.scratch.New = func() any { return &unigramScratch{} }
	return u, nil
}

// unigramScratch holds the lattice of one word.
type unigramScratch struct {
	score []float64
	from  []int32 // start of the best last token ending here, -1 = none yet
	id    []int32
	ends  []int32 // backtracking stack
}

func (u *unigram) tokenize(ws *workspace, word []byte, out []token) ([]token, error) {
	n := len(word)
	if n == 0 {
		return out, nil
	}
	sc := u.scratch.Get().(*unigramScratch)
	defer u.scratch.Put(sc)
	if cap(sc.score) < n+1 {
		sc.score = make([]float64, n+1)
		sc.from = make([]int32, n+1)
		sc.id = make([]int32, n+1)
	}
	score, from, ids := sc.score[:n+1], sc.from[:n+1], sc.id[:n+1]
	for i := range from {
		from[i] = -1
		score[i] = 0
	}
	d := u.trie
	for start := 0; start < n; {
		base := score[start]
		mblen := 1
		if word[start] >= utf8.RuneSelf {
			_, mblen = utf8.DecodeRune(word[start:])
		}
		single := false
		// Common prefix search, shortest first.
		node := int32(0)
		for i := start; i < n; i++ {
			t := d.base[node] + int32(word[i])
			if t < 0 || int(t) >= len(d.check) || d.check[t] != node {
				break
			}
			node = t
			v := d.value[node]
			if v < 0 {
				continue
			}
			end := i + 1
			id := u.keyIDs[v]
			cand := u.scores[id] + base
			if from[end] < 0 || cand > score[end] {
				score[end], from[end], ids[end] = cand, int32(start), id
			}
			if end-start == mblen {
				single = true
			}
		}
		if !single {
			if u.unkID < 0 {
				return out, errUnigramMissingUnk
			}
			end := start + mblen
			cand := u.unkScore + base
			if from[end] < 0 || cand > score[end] {
				score[end], from[end], ids[end] = cand, int32(start), int32(u.unkID)
			}
		}
		start += mblen
	}
	// Backtrack, fusing runs of unknown tokens.
	ends := sc.ends[:0]
	for e := n; e > 0; e = int(from[e]) {
		ends = append(ends, int32(e))
	}
	sc.ends = ends
	prev := 0
	for k := len(ends) - 1; k >= 0; k-- {
		e := int(ends[k])
		if u.unkID >= 0 && int(ids[e]) == u.unkID {
			// Extend the run while the next token is unknown too.
			if k > 0 && int(ids[ends[k-1]]) == u.unkID {
				continue
			}
			out = u.pushString(out, word, prev, e)
		} else {
			id := int(ids[e])
			out = append(out, token{id: id, value: u.pieces[id], start: prev, end: e})
		}
		prev = e
	}
	return out, nil
}

// pushString emits the token for word[s:e] looked up by its string, as the
// crate's Model::tokenize does for every piece of the best path.
func (u *unigram) pushString(out []token, word []byte, s, e int) []token {
	if id, ok := u.ids[string(word[s:e])]; ok {
		return append(out, token{id: id, value: u.pieces[id], start: s, end: e})
	}
	if u.byteFallback {
		ok := true
		for _, b := range word[s:e] {
			if u.byteIDs[b] < 0 {
				ok = false
				break
			}
		}
		if ok {
			for _, b := range word[s:e] {
				id := int(u.byteIDs[b])
				out = append(out, token{id: id, value: u.pieces[id], start: s, end: e})
			}
			return out
		}
	}
	return append(out, token{id: u.unkID, value: string(word[s:e]), start: s, end: e})
}

func (u *unigram) tokenToID(tok string) (int, bool) {
	id, ok := u.ids[tok]
	return id, ok
}

func (u *unigram) idToToken(id int) (string, bool) {
	if id < 0 || id >= len(u.pieces) {
		return "", false
	}
	return u.pieces[id], true
}

func (u *unigram) size() int { return len(u.pieces) }

func (u *unigram) forEachToken(f func(string, int)) {
	for p, id := range u.ids {
		f(p, id)
	}
}
