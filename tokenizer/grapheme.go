package tokenizer

import (
	"sort"
	"unicode/utf8"
)

// Extended grapheme clusters (UAX #29, Unicode 17.0), as the crate's
// unicode-segmentation 1.13 computes them with graphemes(true). Only the
// Precompiled normalizer needs them. The property data is in
// grapheme_tables.go (tools/oracle/gen_grapheme_tables.js).

// Grapheme_Cluster_Break classes (props & 0x0f); the numbering is the
// generator's.
const (
	gcOther = iota
	gcCR
	gcLF
	gcControl
	gcExtend
	gcZWJ
	gcRegionalIndicator
	gcPrepend
	gcSpacingMark
	gcL
	gcV
	gcT
	gcLV
	gcLVT
)

// Property flags above the class.
const (
	gfExtPict       = 0x10
	gfInCBConsonant = 0x20
	gfInCBLinker    = 0x40
	gfInCBExtend    = 0x80
)

var asciiGrapheme [128]uint8

func init() {
	for c := rune(0); c < 128; c++ {
		asciiGrapheme[c] = graphemePropsTable(c)
	}
}

// graphemeProps returns the class and flags of r.
func graphemeProps(r rune) uint8 {
	if r >= 0 && r < 128 {
		return asciiGrapheme[r]
	}
	return graphemePropsTable(r)
}

func graphemePropsTable(r rune) uint8 {
	c := uint32(r)
	n := len(graphemeRanges) / 3
	i := sort.Search(n, func(i int) bool { return graphemeRanges[3*i+1] >= c })
	if i < n && graphemeRanges[3*i] <= c {
		return uint8(graphemeRanges[3*i+2])
	}
	return 0
}

// graphemeState is the left context that the pairwise rules need, all of it
// inside the current cluster (GB9c and GB11 sequences are glued together by
// GB9, and a break inside a run of regional indicators leaves an even count
// behind it).
type graphemeState struct {
	prev          uint8 // props of the previous character
	riCount       int   // regional indicators ending at prev
	pict          bool  // ExtPict Extend* ends at prev
	zwjAfterPict  bool  // ExtPict Extend* ZWJ ends at prev
	incbConsonant bool  // InCB Consonant [Extend|Linker]* ends at prev
	incbLinker    bool  // ... with at least one Linker
}

func (st *graphemeState) start(p uint8) {
	*st = graphemeState{}
	st.push(p)
}

func (st *graphemeState) push(p uint8) {
	class := p & 0x0f
	if class == gcRegionalIndicator {
		st.riCount++
	} else {
		st.riCount = 0
	}
	switch {
	case p&gfExtPict != 0:
		st.pict, st.zwjAfterPict = true, false
	case class == gcExtend:
		st.zwjAfterPict = false
	case class == gcZWJ:
		st.zwjAfterPict, st.pict = st.pict, false
	default:
		st.pict, st.zwjAfterPict = false, false
	}
	switch {
	case p&gfInCBConsonant != 0:
		st.incbConsonant, st.incbLinker = true, false
	case p&gfInCBLinker != 0:
		st.incbLinker = st.incbConsonant
	case p&gfInCBExtend != 0:
	default:
		st.incbConsonant, st.incbLinker = false, false
	}
	st.prev = p
}

// breaks reports whether there is a cluster boundary between the context
// and a next character with properties p.
func (st *graphemeState) breaks(p uint8) bool {
	a, b := st.prev&0x0f, p&0x0f
	switch {
	case a == gcCR && b == gcLF: // GB3
		return false
	case a == gcControl || a == gcCR || a == gcLF: // GB4
		return true
	case b == gcControl || b == gcCR || b == gcLF: // GB5
		return true
	case a == gcL && (b == gcL || b == gcV || b == gcLV || b == gcLVT): // GB6
		return false
	case (a == gcLV || a == gcV) && (b == gcV || b == gcT): // GB7
		return false
	case (a == gcLVT || a == gcT) && b == gcT: // GB8
		return false
	case b == gcExtend || b == gcZWJ: // GB9
		return false
	case b == gcSpacingMark: // GB9a
		return false
	case a == gcPrepend: // GB9b
		return false
	case p&gfInCBConsonant != 0 && st.incbLinker: // GB9c
		return false
	case a == gcZWJ && p&gfExtPict != 0 && st.zwjAfterPict: // GB11
		return false
	case a == gcRegionalIndicator && b == gcRegionalIndicator && st.riCount%2 == 1: // GB12, GB13
		return false
	}
	return true // GB999
}

// graphemeEnd returns the end of the extended grapheme cluster that starts
// at byte i of s (i < len(s); s valid UTF-8).
func graphemeEnd(s []byte, i int) int {
	r, sz := rune(s[i]), 1
	if r >= utf8.RuneSelf {
		r, sz = utf8.DecodeRune(s[i:])
	}
	var st graphemeState
	st.start(graphemeProps(r))
	j := i + sz
	for j < len(s) {
		c := s[j]
		// Fast path: printable ASCII after an ordinary character always
		// starts a new cluster.
		if c >= 0x20 && c < 0x7f && st.prev&0x0f != gcPrepend {
			break
		}
		r, sz = rune(c), 1
		if r >= utf8.RuneSelf {
			r, sz = utf8.DecodeRune(s[j:])
		}
		p := graphemeProps(r)
		if st.breaks(p) {
			break
		}
		st.push(p)
		j += sz
	}
	return j
}
