package tokenizer

import (
	"sync"
	"unicode/utf8"
)

// Hand-written scanners for the Split regexes that byte-level BPE files use.
// The crate runs them through Oniguruma; these scanners reproduce Oniguruma's
// leftmost-first backtracking result for exactly these patterns, with the
// character classes probed from the crate (bpe_unicode_tables.go). Any other
// pattern goes through regexp2 (see split.go).

// regexGPT2 is the GPT-2 pattern (ByteLevel with use_regex, and GPT-2 /
// RoBERTa style Split pre-tokenizers).
const regexGPT2 = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

// regexQwen2 is the Qwen2 / Qwen2.5 / Qwen3 pattern.
const regexQwen2 = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

// regexLlama3 is the Llama-3 pattern (the Qwen one with \p{N}{1,3}).
const regexLlama3 = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

type scanKind uint8

const (
	scanGPT2 scanKind = iota + 1
	scanQwen2
	scanLlama3
)

// scannerFor returns the scanner kind for a known pattern (0 if none).
func scannerFor(pattern string) scanKind {
	switch pattern {
	case regexGPT2:
		return scanGPT2
	case regexQwen2:
		return scanQwen2
	case regexLlama3:
		return scanLlama3
	}
	return 0
}

// Character class bits (Oniguruma's view).
const (
	clsL     = 1 << iota // \p{L}
	clsN                 // \p{N}
	clsS                 // \s
	clsCR                // \r or \n
	clsFoldS             // (?i:s), and so on for the contraction letters
	clsFoldT
	clsFoldM
	clsFoldD
)

// Second byte of class bits for the two-letter contractions.
const (
	cls2FoldR = 1 << iota
	cls2FoldE
	cls2FoldV
	cls2FoldL
)

var (
	bmpClassOnce sync.Once
	bmpClass     []uint8 // class bits of every BMP code point
	bmpClass2    []uint8
)

func initBMPClasses() {
	bmpClass = make([]uint8, 0x10000)
	bmpClass2 = make([]uint8, 0x10000)
	fill := func(t rangeTable, bit uint8) {
		for i := 0; i+1 < len(t); i += 2 {
			for c := t[i]; c <= t[i+1] && c < 0x10000; c++ {
				bmpClass[c] |= bit
			}
		}
	}
	fill(tabOnigL, clsL)
	fill(tabOnigN, clsN)
	fill(tabOnigSpace, clsS)
	bmpClass['\r'] |= clsCR
	bmpClass['\n'] |= clsCR
	for letter, bit := range map[byte]uint8{'s': clsFoldS, 't': clsFoldT, 'm': clsFoldM, 'd': clsFoldD} {
		for _, r := range foldContraction[letter] {
			bmpClass[r] |= bit
		}
	}
	for letter, bit := range map[byte]uint8{'r': cls2FoldR, 'e': cls2FoldE, 'v': cls2FoldV, 'l': cls2FoldL} {
		for _, r := range foldContraction[letter] {
			bmpClass2[r] |= bit
		}
	}
}

// runeClass returns the class bits of r (the fold bits only below U+10000,
// where every folding code point lies).
func runeClass(r rune) (uint8, uint8) {
	if r < 0x10000 {
		return bmpClass[r], bmpClass2[r]
	}
	var c uint8
	if tabOnigL.contains(r) {
		c |= clsL
	}
	if tabOnigN.contains(r) {
		c |= clsN
	}
	if tabOnigSpace.contains(r) {
		c |= clsS
	}
	return c, 0
}

// scanner walks a text for one of the known patterns.
type scanner struct {
	kind scanKind
	s    []byte
}

// at decodes the character at byte i: class bits, second class bits, size.
// Past the end it returns size 0 and no class.
func (sc *scanner) at(i int) (uint8, uint8, int) {
	if i >= len(sc.s) {
		return 0, 0, 0
	}
	c := sc.s[i]
	if c < utf8.RuneSelf {
		return bmpClass[c], bmpClass2[c], 1
	}
	r, sz := utf8.DecodeRune(sc.s[i:])
	a, b := runeClass(r)
	return a, b, sz
}

// appendScanMatches appends the matches of the pattern kind over s. For
// these patterns every position starts a match, so the matches tile s.
func appendScanMatches(kind scanKind, s []byte, out []match) []match {
	bmpClassOnce.Do(initBMPClasses)
	sc := scanner{kind: kind, s: s}
	for i := 0; i < len(s); {
		e := sc.next(i)
		out = append(out, match{i, e, true})
		i = e
	}
	return out
}

// next returns the end of the match that starts at i (i < len(s)).
func (sc *scanner) next(i int) int {
	s := sc.s
	c0, _, n0 := sc.at(i)
	ci := sc.kind != scanGPT2 // contractions are case-insensitive

	// 's|'t|'re|'ve|'m|'ll|'d
	if s[i] == '\'' {
		c1, c1b, n1 := sc.at(i + 1)
		if n1 > 0 {
			j := i + 1 + n1
			if ci {
				if c1&(clsFoldS|clsFoldT|clsFoldM|clsFoldD) != 0 {
					return j
				}
				if c1b&(cls2FoldR|cls2FoldV|cls2FoldL) != 0 {
					_, c2b, n2 := sc.at(j)
					if (c1b&(cls2FoldR|cls2FoldV) != 0 && c2b&cls2FoldE != 0) || (c1b&cls2FoldL != 0 && c2b&cls2FoldL != 0) {
						return j + n2
					}
				}
			} else {
				switch s[i+1] {
				case 's', 't', 'm', 'd':
					return j
				case 'r', 'v':
					if j < len(s) && s[j] == 'e' {
						return j + 1
					}
				case 'l':
					if j < len(s) && s[j] == 'l' {
						return j + 1
					}
				}
			}
		}
	}

	switch sc.kind {
	case scanGPT2:
		// ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+'
		j, cj := i, c0
		if s[i] == ' ' {
			if c1, _, n1 := sc.at(i + 1); n1 > 0 && c1&(clsL|clsN|clsS) != clsS {
				j, cj = i+1, c1
			}
		}
		switch {
		case cj&clsL != 0:
			return sc.run(j, clsL, clsL)
		case cj&clsN != 0:
			return sc.run(j, clsN, clsN)
		case cj&(clsS|clsL|clsN) == 0:
			return sc.run(j, clsS|clsL|clsN, 0)
		}
	default:
		// [^\r\n\p{L}\p{N}]?\p{L}+
		if c0&clsL != 0 {
			return sc.run(i, clsL, clsL)
		}
		if c0&(clsCR|clsN) == 0 {
			if c1, _, n1 := sc.at(i + n0); n1 > 0 && c1&clsL != 0 {
				return sc.run(i+n0, clsL, clsL)
			}
		}
		// \p{N} or \p{N}{1,3}
		if c0&clsN != 0 {
			if sc.kind == scanQwen2 {
				return i + n0
			}
			j := i + n0
			for k := 1; k < 3; k++ {
				c, _, n := sc.at(j)
				if n == 0 || c&clsN == 0 {
					break
				}
				j += n
			}
			return j
		}
		// ' ?[^\s\p{L}\p{N}]+[\r\n]*'
		j, cj := i, c0
		if s[i] == ' ' {
			if c1, _, n1 := sc.at(i + 1); n1 > 0 && c1&(clsS|clsL|clsN) == 0 {
				j, cj = i+1, c1
			}
		}
		if cj&(clsS|clsL|clsN) == 0 {
			e := sc.run(j, clsS|clsL|clsN, 0)
			for e < len(s) && (s[e] == '\r' || s[e] == '\n') {
				e++
			}
			return e
		}
		// '\s*[\r\n]+': up to the last \r or \n of the whitespace run.
		if c0&clsS != 0 {
			lastCR := -1
			k := i
			for k < len(s) {
				c, _, n := sc.at(k)
				if c&clsS == 0 {
					break
				}
				if c&clsCR != 0 {
					lastCR = k
				}
				k += n
			}
			if lastCR >= 0 {
				return lastCR + 1
			}
		}
	}
	// '\s+(?!\S)' then '\s+'
	if c0&clsS != 0 {
		k, last := i, i
		for k < len(s) {
			c, _, n := sc.at(k)
			if c&clsS == 0 {
				break
			}
			last = k
			k += n
		}
		if k < len(s) && last > i {
			return last // leave the last whitespace for the next word
		}
		return k
	}
	// Unreachable for these patterns (every character is L, N, \s or
	// other); consume one character to stay safe.
	return i + max(n0, 1)
}

// run returns the end of the run starting at i of characters whose class
// bits masked by mask equal want.
func (sc *scanner) run(i int, mask, want uint8) int {
	for i < len(sc.s) {
		c, _, n := sc.at(i)
		if c&mask != want {
			break
		}
		i += n
	}
	return i
}
