package tokenizer

import (
	"sort"
	"unicode/utf8"
)

// Character classes and normalization forms as the Rust crate computes them.
// The data lives in unicode_tables.go, generated from the oracle; Go's own
// unicode tables are not used because the crate mixes Unicode editions (see
// tools/oracle/gen_unicode_tables.js).

// rangeTable is a sorted flat list of inclusive [lo, hi] code point pairs.
type rangeTable []uint32

func (t rangeTable) contains(r rune) bool {
	c := uint32(r)
	n := len(t) / 2
	// First pair whose hi >= c.
	i := sort.Search(n, func(i int) bool { return t[2*i+1] >= c })
	return i < n && t[2*i] <= c
}

// runeMap maps a code point to a replacement string (keys sorted ascending;
// the value of keys[i] is data[offs[i]:offs[i+1]]).
type runeMap struct {
	keys []uint32
	offs []uint32
	data string
}

func (m *runeMap) lookup(r rune) (string, bool) {
	c := uint32(r)
	i := sort.Search(len(m.keys), func(i int) bool { return m.keys[i] >= c })
	if i < len(m.keys) && m.keys[i] == c {
		return m.data[m.offs[i]:m.offs[i+1]], true
	}
	return "", false
}

type composePair struct{ a, b, c uint32 }

// ASCII property bits, precomputed from the tables so that the common case
// costs one array load.
const (
	propOther = 1 << iota
	propWhitespace
	propBertPunct
	propWord
)

var asciiProps [128]uint8

func init() {
	for c := rune(0); c < 128; c++ {
		var p uint8
		if tabOther.contains(c) {
			p |= propOther
		}
		if tabWhitespace.contains(c) {
			p |= propWhitespace
		}
		if tabBertPunct.contains(c) {
			p |= propBertPunct
		}
		if tabWord.contains(c) {
			p |= propWord
		}
		asciiProps[c] = p
	}
}

// isWhitespace is Rust's char::is_whitespace (also the regex crate's \s).
func isWhitespace(r rune) bool {
	if r < 128 {
		return asciiProps[r]&propWhitespace != 0
	}
	return tabWhitespace.contains(r)
}

// isBertControl reports the characters BertNormalizer's clean_text removes.
func isBertControl(r rune) bool {
	if r < 128 {
		return asciiProps[r]&propOther != 0
	}
	return tabOther.contains(r)
}

// isBertPunct is BertPreTokenizer's punctuation test.
func isBertPunct(r rune) bool {
	if r < 128 {
		return asciiProps[r]&propBertPunct != 0
	}
	return tabBertPunct.contains(r)
}

// isWordChar is the regex crate's \w.
func isWordChar(r rune) bool {
	if r < 128 {
		return asciiProps[r]&propWord != 0
	}
	return tabWord.contains(r)
}

func isNonspacingMark(r rune) bool { return r >= 0x300 && tabMn.contains(r) }

func isCombiningMark(r rune) bool { return r >= 0x300 && tabCombining.contains(r) }

// isChineseChar mirrors BertNormalizer's fixed list of CJK blocks.
func isChineseChar(r rune) bool {
	switch {
	case r >= 0x4E00 && r <= 0x9FFF,
		r >= 0x3400 && r <= 0x4DBF,
		r >= 0x20000 && r <= 0x2A6DF,
		r >= 0x2A700 && r <= 0x2B73F,
		r >= 0x2B740 && r <= 0x2B81F,
		r >= 0x2B920 && r <= 0x2CEAF,
		r >= 0xF900 && r <= 0xFAFF,
		r >= 0x2F800 && r <= 0x2FA1F:
		return true
	}
	return false
}

// lowerRune returns Rust's char::to_lowercase of r (one or more runes) as a
// string, or ok=false when r lowercases to itself.
func lowerRune(r rune) (string, bool) {
	if r < 128 {
		if r >= 'A' && r <= 'Z' {
			return asciiLower[r-'A' : r-'A'+1], true
		}
		return "", false
	}
	return mapLower.lookup(r)
}

const asciiLower = "abcdefghijklmnopqrstuvwxyz"

// cccRank returns a number ordered like the canonical combining class of r
// (0 for starters).
func cccRank(r rune) uint8 {
	if r < 0x300 {
		return 0
	}
	c := uint32(r)
	i := sort.Search(len(cccKeys), func(i int) bool { return cccKeys[i] >= c })
	if i < len(cccKeys) && cccKeys[i] == c {
		return cccRanks[i]
	}
	return 0
}

const (
	hangulSBase  = 0xAC00
	hangulLBase  = 0x1100
	hangulVBase  = 0x1161
	hangulTBase  = 0x11A7
	hangulLCount = 19
	hangulVCount = 21
	hangulTCount = 28
	hangulNCount = hangulVCount * hangulTCount
	hangulSCount = hangulLCount * hangulNCount
)

// decompose calls emit for each rune of the full canonical (compat=false) or
// compatibility (compat=true) decomposition of r.
func decompose(r rune, compat bool, emit func(rune)) {
	if r < 0xC0 && !(compat && r >= 0xA0) {
		emit(r)
		return
	}
	if r >= hangulSBase && r < hangulSBase+hangulSCount {
		s := r - hangulSBase
		emit(hangulLBase + s/hangulNCount)
		emit(hangulVBase + (s%hangulNCount)/hangulTCount)
		if t := s % hangulTCount; t > 0 {
			emit(hangulTBase + t)
		}
		return
	}
	var d string
	var ok bool
	if compat {
		d, ok = mapNFKD.lookup(r)
	}
	if !ok {
		d, ok = mapNFD.lookup(r)
	}
	if !ok {
		emit(r)
		return
	}
	for len(d) > 0 {
		c, n := utf8.DecodeRuneInString(d)
		emit(c)
		d = d[n:]
	}
}

// compose returns the canonical composite of (a, b), if any.
func compose(a, b rune) (rune, bool) {
	// Hangul LV and LVT syllables.
	if a >= hangulLBase && a < hangulLBase+hangulLCount && b >= hangulVBase && b < hangulVBase+hangulVCount {
		return hangulSBase + ((a-hangulLBase)*hangulVCount+(b-hangulVBase))*hangulTCount, true
	}
	if a >= hangulSBase && a < hangulSBase+hangulSCount && (a-hangulSBase)%hangulTCount == 0 &&
		b > hangulTBase && b < hangulTBase+hangulTCount {
		return a + (b - hangulTBase), true
	}
	ua, ub := uint32(a), uint32(b)
	i := sort.Search(len(composeTable), func(i int) bool {
		p := composeTable[i]
		return p.a > ua || (p.a == ua && p.b >= ub)
	})
	if i < len(composeTable) && composeTable[i].a == ua && composeTable[i].b == ub {
		return rune(composeTable[i].c), true
	}
	return 0, false
}

// runeChange is one output character of a transformation together with the
// crate's alignment hint: 0 = replaces the next input char, +1 = inserted,
// -n = replaces the next input char and removes n more after it.
type runeChange struct {
	r      rune
	change int
}

type cccEntry struct {
	ccc uint8
	runeChange
}

// decomposeChanges appends to out the (rune, change) stream that
// unicode-normalization-alignments produces for NFD/NFKD: each decomposition
// starts with change 0, continues with +1, and runs of non-starters are
// stably sorted by combining class (flags travel with their runes).
func decomposeChanges(s []byte, compat bool, out []runeChange, pending []cccEntry) ([]runeChange, []cccEntry) {
	pending = pending[:0]
	flush := func() {
		// Stable insertion sort by class; runs are short.
		for i := 1; i < len(pending); i++ {
			for j := i; j > 0 && pending[j-1].ccc > pending[j].ccc; j-- {
				pending[j-1], pending[j] = pending[j], pending[j-1]
			}
		}
		for _, p := range pending {
			out = append(out, p.runeChange)
		}
		pending = pending[:0]
	}
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRune(s[i:])
		i += n
		first := true
		decompose(r, compat, func(d rune) {
			ccc := cccRank(d)
			if ccc == 0 {
				flush()
			}
			ch := 1
			if first {
				ch = 0
				first = false
			}
			pending = append(pending, cccEntry{ccc, runeChange{d, ch}})
		})
	}
	flush()
	return out, pending
}

// recomposeChanges turns a decomposed (rune, change) stream into the composed
// stream the crate's Recompositions iterator yields, merging change hints the
// same way (a composite carries k.change + ch.change - 1).
func recomposeChanges(in []runeChange, out []runeChange, buf []runeChange) ([]runeChange, []runeChange) {
	buf = buf[:0]
	var composee runeChange
	hasComposee := false
	var lastCCC uint8
	hasLast := false
	for _, ch := range in {
		class := cccRank(ch.r)
		if !hasComposee {
			if class != 0 {
				out = append(out, ch)
				continue
			}
			composee, hasComposee = ch, true
			continue
		}
		if !hasLast {
			if r, ok := compose(composee.r, ch.r); ok {
				composee = runeChange{r, composee.change + ch.change - 1}
				continue
			}
			if class == 0 {
				out = append(out, composee)
				composee = ch
				continue
			}
			buf = append(buf, ch)
			lastCCC, hasLast = class, true
			continue
		}
		if lastCCC >= class {
			// ch is blocked from the composee.
			if class == 0 {
				out = append(out, composee)
				out = append(out, buf...)
				buf = buf[:0]
				composee = ch
				hasLast = false
				continue
			}
			buf = append(buf, ch)
			lastCCC = class
			continue
		}
		if r, ok := compose(composee.r, ch.r); ok {
			composee = runeChange{r, composee.change + ch.change - 1}
			continue
		}
		buf = append(buf, ch)
		lastCCC = class
	}
	if hasComposee {
		out = append(out, composee)
	}
	out = append(out, buf...)
	return out, buf
}
