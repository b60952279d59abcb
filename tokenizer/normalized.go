package tokenizer

import "unicode/utf8"

// span is a half-open byte range [start, end) of the ORIGINAL input.
type span struct{ start, end int32 }

// normalized is a piece of text under normalization. For every byte of s,
// align holds the original span of the character it came from (all bytes of
// one character share a span, as in the crate's NormalizedString). Spans are
// absolute offsets into the caller's input, so sub-ranges need no shifting.
type normalized struct {
	s     []byte
	align []span
	// origStart/origEnd delimit the original text this piece covers.
	origStart, origEnd int32

	// Double buffers reused by transformations.
	s2     []byte
	align2 []span
}

// reset loads text (a slice of the original input starting at byte offset
// base) with identity alignments.
func (n *normalized) reset(text string, base int) {
	n.s = append(n.s[:0], text...)
	n.align = n.align[:0]
	for i := 0; i < len(text); {
		_, sz := utf8.DecodeRuneInString(text[i:])
		sp := span{int32(base + i), int32(base + i + sz)}
		for k := 0; k < sz; k++ {
			n.align = append(n.align, sp)
		}
		i += sz
	}
	n.origStart, n.origEnd = int32(base), int32(base+len(text))
}

func (n *normalized) swap() {
	n.s, n.s2 = n.s2, n.s
	n.align, n.align2 = n.align2, n.align
}

// fastPathOK reports whether the crate's transform() covers the whole string.
// transform() first maps the full original range to a normalized range, which
// skips leading zero-width alignments; with none (the usual case) per-char
// fast paths below give exactly the crate's result.
func (n *normalized) fastPathOK() bool {
	return len(n.align) == 0 || n.align[0].start != n.align[0].end
}

// transform applies a (rune, change) stream exactly like the crate's
// NormalizedString::transform (whole-string form) with initialOffset chars
// removed at the start.
func (n *normalized) transform(dest []runeChange, initialOffset int) {
	// Normalized range covered by the original range 0..len: starts at the
	// first non-zero-width alignment (or at the end when there is none).
	nStart := len(n.s)
	for i, a := range n.align {
		if a.start != a.end {
			nStart = i
			break
		}
	}
	out := append(n.s2[:0], n.s[:nStart]...)
	outAlign := append(n.align2[:0], n.align[:nStart]...)

	pos := nStart // next unconsumed byte in n.s
	next := func() int {
		if pos >= len(n.s) {
			return 0
		}
		_, sz := utf8.DecodeRune(n.s[pos:])
		return sz
	}
	for k := 0; k < initialOffset; k++ {
		pos += next()
	}
	var buf [utf8.UTFMax]byte
	for _, d := range dest {
		var a span
		if d.change > 0 {
			if pos >= 1 {
				a = n.align[pos-1]
			} else {
				a = span{n.origStart, n.origStart}
			}
		} else {
			if pos < len(n.align) {
				a = n.align[pos]
			}
			pos += next()
			for k := 0; k < -d.change; k++ {
				pos += next()
			}
		}
		sz := utf8.EncodeRune(buf[:], d.r)
		out = append(out, buf[:sz]...)
		for k := 0; k < sz; k++ {
			outAlign = append(outAlign, a)
		}
	}
	n.s2, n.align2 = out, outAlign
	n.swap()
}

// appendRune writes r with alignment a into the secondary buffers.
func (n *normalized) appendRune(r rune, a span) {
	if r < utf8.RuneSelf {
		n.s2 = append(n.s2, byte(r))
		n.align2 = append(n.align2, a)
		return
	}
	var buf [utf8.UTFMax]byte
	sz := utf8.EncodeRune(buf[:], r)
	n.s2 = append(n.s2, buf[:sz]...)
	for k := 0; k < sz; k++ {
		n.align2 = append(n.align2, a)
	}
}

func (n *normalized) appendString(s string, a span) {
	n.s2 = append(n.s2, s...)
	for k := 0; k < len(s); k++ {
		n.align2 = append(n.align2, a)
	}
}

// expand replaces every character by zero or more characters, each of which
// takes the alignment of its source character. This is what the crate's
// filter, map, lowercase and handle_chinese_chars amount to when
// fastPathOK() holds. f appends the replacement of r (at alignment a) via
// appendRune/appendString and returns nothing.
func (n *normalized) expand(f func(n *normalized, r rune, a span)) {
	n.s2 = n.s2[:0]
	n.align2 = n.align2[:0]
	for i := 0; i < len(n.s); {
		c := n.s[i]
		if c < utf8.RuneSelf {
			f(n, rune(c), n.align[i])
			i++
			continue
		}
		r, sz := utf8.DecodeRune(n.s[i:])
		f(n, r, n.align[i])
		i += sz
	}
	n.swap()
}

// expandGeneric is expand() for the rare case where transform() does not
// cover the whole string: build the crate's (rune, change) stream and replay
// it through transform(). f must be a pure filter/map (0 or 1 output char)
// or a pure expansion (1 or more), as every single crate transform is.
func (n *normalized) expandGeneric(ws *workspace, f func(n *normalized, r rune, a span)) {
	dest := ws.changes[:0]
	removed := 0
	initial := 0
	seenKept := false
	for i := 0; i < len(n.s); {
		r, sz := utf8.DecodeRune(n.s[i:])
		i += sz
		// Run f into a scratch buffer to see what r becomes.
		n.s2 = n.s2[:0]
		n.align2 = n.align2[:0]
		f(n, r, span{})
		if len(n.s2) == 0 {
			removed++
			continue
		}
		if seenKept {
			if removed > 0 {
				attachRemoved(dest, removed)
			}
		} else {
			initial = removed
		}
		removed = 0
		seenKept = true
		first := true
		for k := 0; k < len(n.s2); {
			o, osz := utf8.DecodeRune(n.s2[k:])
			k += osz
			ch := 1
			if first {
				ch = 0
				first = false
			}
			dest = append(dest, runeChange{o, ch})
		}
	}
	if seenKept && removed > 0 {
		attachRemoved(dest, removed)
	}
	ws.changes = dest
	n.transform(dest, initial)
}

// attachRemoved records n removed chars on the last kept character, like
// the crate's filter() does with (char, -n).
func attachRemoved(dest []runeChange, removed int) {
	for j := len(dest) - 1; j >= 0; j-- {
		if dest[j].change <= 0 {
			dest[j].change = -removed
			return
		}
	}
}

// apply runs f through the fast or generic path.
func (n *normalized) apply(ws *workspace, f func(n *normalized, r rune, a span)) {
	if n.fastPathOK() {
		n.expand(f)
	} else {
		n.expandGeneric(ws, f)
	}
}

// isASCII reports whether the normalized text is pure ASCII.
func (n *normalized) isASCII() bool {
	for _, c := range n.s {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
