package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// BPE model: the crate's models::bpe::BPE (ranked merges applied lowest rank
// first, leftmost first among equal ranks), with unk_token, fuse_unk,
// continuing_subword_prefix, end_of_word_suffix, byte_fallback and
// ignore_merges. Only deterministic files are accepted: dropout must be null
// or 0 (the crate treats 0 as no dropout).

func init() { registerModel("BPE", newBPE) }

type bpeModel struct {
	vocab map[string]int32
	// idTok maps id to token when ids are dense (idSet says which ids
	// exist); idMap otherwise.
	idTok []string
	idSet []bool
	idMap map[int32]string
	// merges maps a pair of ids to its rank and the id of the merged token.
	merges pairTable

	unk                  string
	hasUnk               bool
	prefix, suffix       string // continuing_subword_prefix, end_of_word_suffix ("" = none)
	fuseUnk, byteFallbck bool
	ignoreMerges         bool

	// lowRune is the id of a single-character token for code points below
	// len(lowRune) (-1 when absent), used when no prefix/suffix applies.
	lowRune []int32
	// fallback holds the ids of the <0xXX> tokens (-1 when absent).
	fallback [256]int32

	cache   *wordCache
	scratch sync.Pool // *bpeScratch
}

// bpeScratch is per-call working memory for merging one word.
type bpeScratch struct {
	syms []bpeSym
	heap []bpeMerge
	buf  []byte
}

type bpeSym struct {
	id         int32
	prev, next int32
	len        int32
}

// bpeMerge is a queued merge: ord orders by rank, then position.
type bpeMerge struct {
	ord   uint64 // rank<<32 | pos
	newID int32
}

func newBPE(raw json.RawMessage) (model, error) {
	var c struct {
		Dropout                 *float64        `json:"dropout"`
		UnkToken                *string         `json:"unk_token"`
		ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
		EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
		FuseUnk                 *bool           `json:"fuse_unk"`
		ByteFallback            *bool           `json:"byte_fallback"`
		IgnoreMerges            *bool           `json:"ignore_merges"`
		Vocab                   map[string]int  `json:"vocab"`
		Merges                  json.RawMessage `json:"merges"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("tokenizer: BPE: %w", err)
	}
	if c.Vocab == nil || isNull(c.Merges) {
		return nil, errors.New("tokenizer: BPE: missing vocab/merges")
	}
	if c.Dropout != nil {
		if *c.Dropout < 0 || *c.Dropout > 1 {
			return nil, errors.New("tokenizer: BPE: dropout should be between 0 and 1")
		}
		if *c.Dropout != 0 {
			return nil, fmt.Errorf("tokenizer: BPE: dropout %v is random; only null or 0 is supported", *c.Dropout)
		}
	}
	merges, err := parseMerges(c.Merges)
	if err != nil {
		return nil, err
	}
	m := &bpeModel{vocab: make(map[string]int32, len(c.Vocab))}
	if c.UnkToken != nil {
		m.unk, m.hasUnk = *c.UnkToken, true
	}
	if c.ContinuingSubwordPrefix != nil {
		m.prefix = *c.ContinuingSubwordPrefix
	}
	if c.EndOfWordSuffix != nil {
		m.suffix = *c.EndOfWordSuffix
	}
	m.fuseUnk = c.FuseUnk != nil && *c.FuseUnk
	m.byteFallbck = c.ByteFallback != nil && *c.ByteFallback
	m.ignoreMerges = c.IgnoreMerges != nil && *c.IgnoreMerges

	// Reverse vocabulary; when two tokens share an id, the smallest string
	// wins (deterministic; the crate's choice depends on hash order).
	keys := make([]string, 0, len(c.Vocab))
	maxID := -1
	for k, id := range c.Vocab {
		if id < 0 || id > math.MaxInt32 {
			return nil, fmt.Errorf("tokenizer: BPE: bad id %d for %q", id, k)
		}
		m.vocab[k] = int32(id)
		keys = append(keys, k)
		maxID = max(maxID, id)
	}
	sort.Strings(keys)
	if maxID < 2*len(keys)+1024 {
		m.idTok = make([]string, maxID+1)
		m.idSet = make([]bool, maxID+1)
		for _, k := range keys {
			if id := c.Vocab[k]; !m.idSet[id] {
				m.idTok[id], m.idSet[id] = k, true
			}
		}
	} else {
		m.idMap = make(map[int32]string, len(keys))
		for _, k := range keys {
			if _, dup := m.idMap[int32(c.Vocab[k])]; !dup {
				m.idMap[int32(c.Vocab[k])] = k
			}
		}
	}

	// Merges: the merged token is a + b without b's continuing prefix
	// (the crate strips len(prefix) bytes from b unconditionally). A later
	// duplicate of a pair replaces the earlier one, as in the crate's map.
	m.merges = newPairTable(len(merges))
	for rank, p := range merges {
		a, ok := m.vocab[p[0]]
		if !ok {
			return nil, fmt.Errorf("tokenizer: BPE: merge token %q out of vocabulary", p[0])
		}
		b, ok := m.vocab[p[1]]
		if !ok {
			return nil, fmt.Errorf("tokenizer: BPE: merge token %q out of vocabulary", p[1])
		}
		if len(p[1]) < len(m.prefix) {
			return nil, fmt.Errorf("tokenizer: BPE: merge token %q shorter than the continuing subword prefix", p[1])
		}
		joined := p[0] + p[1][len(m.prefix):]
		n, ok := m.vocab[joined]
		if !ok {
			return nil, fmt.Errorf("tokenizer: BPE: merge token %q out of vocabulary", joined)
		}
		m.merges.put(pairKey(a, b), uint32(rank), n)
	}

	m.lowRune = make([]int32, 0x400)
	var buf [utf8.UTFMax]byte
	for r := range m.lowRune {
		m.lowRune[r] = -1
		if id, ok := m.vocab[string(buf[:utf8.EncodeRune(buf[:], rune(r))])]; ok {
			m.lowRune[r] = id
		}
	}
	for b := range m.fallback {
		m.fallback[b] = -1
		if id, ok := m.vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.fallback[b] = id
		}
	}
	m.cache = newWordCache(bpeCacheEntries, bpeCacheArena)
	m.scratch.New = func() any { return &bpeScratch{} }
	return m, nil
}

// parseMerges accepts [["a","b"], ...] and the legacy ["a b", ...].
func parseMerges(raw json.RawMessage) ([][2]string, error) {
	var pairs [][2]string
	if err := json.Unmarshal(raw, &pairs); err == nil {
		return pairs, nil
	}
	var legacy []string
	if err := json.Unmarshal(raw, &legacy); err != nil {
		return nil, fmt.Errorf("tokenizer: BPE: merges: %w", err)
	}
	pairs = make([][2]string, 0, len(legacy))
	rank := 0
	for _, l := range legacy {
		if strings.HasPrefix(l, "#version") {
			continue
		}
		rank++
		a, b, ok := strings.Cut(l, " ")
		if !ok || strings.Contains(b, " ") {
			return nil, fmt.Errorf("tokenizer: BPE: merges text file invalid at line %d", rank)
		}
		pairs = append(pairs, [2]string{a, b})
	}
	return pairs, nil
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

func (m *bpeModel) tokenToID(tok string) (int, bool) {
	id, ok := m.vocab[tok]
	return int(id), ok
}

func (m *bpeModel) idToToken(id int) (string, bool) {
	if id < 0 || id > math.MaxInt32 {
		return "", false
	}
	if m.idTok != nil {
		if id >= len(m.idTok) || !m.idSet[id] {
			return "", false
		}
		return m.idTok[id], true
	}
	t, ok := m.idMap[int32(id)]
	return t, ok
}

func (m *bpeModel) tokOf(id int32) string {
	if m.idTok != nil {
		return m.idTok[id]
	}
	return m.idMap[id]
}

func (m *bpeModel) size() int { return len(m.vocab) }

func (m *bpeModel) forEachToken(f func(string, int)) {
	for k, id := range m.vocab {
		f(k, int(id))
	}
}

// Bounds of the per-model word cache: entries and arena bytes (an entry
// takes 2 bytes plus the word plus 5 per token, about 20 for English).
const (
	bpeCacheEntries = 1 << 18
	bpeCacheArena   = 8 << 20
)

// bpeCacheMaxWord: longer words are not cached (the crate's MAX_LENGTH).
const bpeCacheMaxWord = 256

func (m *bpeModel) tokenize(_ *workspace, word []byte, out []token) ([]token, error) {
	if len(word) == 0 {
		return out, nil
	}
	if m.ignoreMerges {
		if id, ok := m.vocab[string(word)]; ok {
			return append(out, token{id: int(id), value: m.tokOf(id), start: 0, end: len(word)}), nil
		}
	}
	if len(word) < bpeCacheMaxWord {
		if toks, ok := m.cache.get(word, m, out); ok {
			return toks, nil
		}
	}
	base := len(out)
	out, err := m.merge(word, out)
	if err != nil {
		return out[:base], err
	}
	if len(word) < bpeCacheMaxWord {
		m.cache.put(word, out[base:])
	}
	return out, nil
}

// merge is the crate's merge_word followed by word_to_tokens.
func (m *bpeModel) merge(word []byte, out []token) ([]token, error) {
	sc := m.scratch.Get().(*bpeScratch)
	defer m.scratch.Put(sc)
	syms := sc.syms[:0]
	add := func(id int32, n int) {
		k := int32(len(syms))
		if k > 0 {
			syms[k-1].next = k
		}
		syms = append(syms, bpeSym{id: id, prev: k - 1, next: -1, len: int32(n)})
	}
	unkID, unkLen, unkPending := int32(0), 0, false
	affix := m.prefix != "" || m.suffix != ""
	for i := 0; i < len(word); {
		r, sz := rune(word[i]), 1
		if r >= utf8.RuneSelf {
			r, sz = utf8.DecodeRune(word[i:])
		}
		first, last := i == 0, i+sz == len(word)
		var s []byte // the looked-up string when affixes apply
		id, found := int32(-1), false
		if !affix && int(r) < len(m.lowRune) {
			id = m.lowRune[r]
			found = id >= 0
		} else {
			s = sc.buf[:0]
			if !first {
				s = append(s, m.prefix...)
			}
			s = append(s, word[i:i+sz]...)
			if last {
				s = append(s, m.suffix...)
			}
			sc.buf = s
			id, found = m.vocab[string(s)]
		}
		if found {
			if unkPending {
				add(unkID, unkLen)
				unkPending = false
			}
			add(id, sz)
			i += sz
			continue
		}
		if m.byteFallbck {
			if s == nil {
				s = word[i : i+sz]
			}
			ok := true
			for _, b := range s {
				if m.fallback[b] < 0 {
					ok = false
					break
				}
			}
			if ok {
				// The crate adds these without flushing a pending unk.
				for _, b := range s {
					add(m.fallback[b], 1)
				}
				i += sz
				continue
			}
		}
		if m.hasUnk {
			uid, ok := m.vocab[m.unk]
			switch {
			case unkPending && m.fuseUnk:
				unkLen += sz
			case unkPending:
				add(unkID, unkLen)
				if !ok {
					return out, fmt.Errorf("tokenizer: BPE: unk token %q not found in the vocabulary", m.unk)
				}
				unkID, unkLen = uid, sz
			default:
				if !ok {
					return out, fmt.Errorf("tokenizer: BPE: unk token %q not found in the vocabulary", m.unk)
				}
				unkID, unkLen, unkPending = uid, sz, true
			}
		}
		i += sz
	}
	if unkPending {
		add(unkID, unkLen)
	}
	syms = m.mergeAll(sc, syms)
	sc.syms = syms
	pos := 0
	for _, s := range syms {
		if s.len == 0 {
			continue
		}
		// Offsets past the word (byte fallback over an affix) are clamped.
		a, b := min(pos, len(word)), min(pos+int(s.len), len(word))
		out = append(out, token{id: int(s.id), value: m.tokOf(s.id), start: a, end: b})
		pos += int(s.len)
	}
	return out, nil
}

// mergeAll is the crate's Word::merge_all without dropout: a min-queue of
// (rank, position) merges; entries made stale by earlier merges are skipped.
func (m *bpeModel) mergeAll(sc *bpeScratch, syms []bpeSym) []bpeSym {
	h := sc.heap[:0]
	for i := 0; i+1 < len(syms); i++ {
		if rank, nid, ok := m.merges.get(pairKey(syms[i].id, syms[i+1].id)); ok {
			h = heapPush(h, bpeMerge{uint64(rank)<<32 | uint64(i), nid})
		}
	}
	for len(h) > 0 {
		var top bpeMerge
		top, h = heapPop(h)
		pos := int32(top.ord)
		cur := &syms[pos]
		if cur.len == 0 || cur.next == -1 {
			continue
		}
		nx := cur.next
		right := syms[nx]
		if _, nid, ok := m.merges.get(pairKey(cur.id, right.id)); !ok || nid != top.newID {
			continue
		}
		cur.id = top.newID
		cur.len += right.len
		cur.next = right.next
		syms[nx].len = 0
		if right.next >= 0 && int(right.next) < len(syms) {
			syms[right.next].prev = pos
		}
		if cur.prev >= 0 {
			if rank, nid, ok := m.merges.get(pairKey(syms[cur.prev].id, cur.id)); ok {
				h = heapPush(h, bpeMerge{uint64(rank)<<32 | uint64(cur.prev), nid})
			}
		}
		if cur.next >= 0 && int(cur.next) < len(syms) {
			if rank, nid, ok := m.merges.get(pairKey(cur.id, syms[cur.next].id)); ok {
				h = heapPush(h, bpeMerge{uint64(rank)<<32 | uint64(pos), nid})
			}
		}
	}
	sc.heap = h
	return syms
}

func heapPush(h []bpeMerge, x bpeMerge) []bpeMerge {
	h = append(h, x)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h[p].ord <= h[i].ord {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
	return h
}

func heapPop(h []bpeMerge) (bpeMerge, []bpeMerge) {
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && h[r].ord < h[l].ord {
			c = r
		}
		if h[i].ord <= h[c].ord {
			break
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
	return top, h
}

// ---- pair table: open addressing, uint64 keys ----

type pairEntry struct {
	key   uint64
	rank  uint32
	newID int32
}

type pairTable struct {
	slots []pairEntry
	mask  uint64
	shift uint
}

const emptyPair = ^uint64(0)

func newPairTable(n int) pairTable {
	size := 16
	for size < 2*n {
		size <<= 1
	}
	t := pairTable{slots: make([]pairEntry, size), mask: uint64(size - 1)}
	for s := size; s > 1; s >>= 1 {
		t.shift++
	}
	t.shift = 64 - t.shift
	for i := range t.slots {
		t.slots[i].key = emptyPair
	}
	return t
}

func (t *pairTable) slot(key uint64) uint64 { return (key * 0x9E3779B97F4A7C15) >> t.shift }

func (t *pairTable) put(key uint64, rank uint32, newID int32) {
	for i := t.slot(key); ; i = (i + 1) & t.mask {
		e := &t.slots[i]
		if e.key == emptyPair || e.key == key {
			*e = pairEntry{key, rank, newID}
			return
		}
	}
}

func (t *pairTable) get(key uint64) (uint32, int32, bool) {
	for i := t.slot(key); ; i = (i + 1) & t.mask {
		e := &t.slots[i]
		if e.key == key {
			return e.rank, e.newID, true
		}
		if e.key == emptyPair {
			return 0, 0, false
		}
	}
}
