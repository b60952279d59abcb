package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// Split, Digits and Punctuation pre-tokenizers, and the crate's five split
// delimiter behaviours.

func init() {
	registerPreTokenizer("Split", newSplitPreTokenizer)
	registerPreTokenizer("Digits", newDigitsPreTokenizer)
	registerPreTokenizer("Punctuation", newPunctuationPreTokenizer)
}

// splitMode is the crate's SplitDelimiterBehavior.
type splitMode uint8

const (
	modeRemoved splitMode = iota
	modeIsolated
	modeMergedWithPrevious
	modeMergedWithNext
	modeContiguous
)

func parseSplitMode(raw json.RawMessage, def splitMode) (splitMode, error) {
	if isNull(raw) {
		return def, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, err
	}
	switch s {
	case "Removed":
		return modeRemoved, nil
	case "Isolated":
		return modeIsolated, nil
	case "MergedWithPrevious":
		return modeMergedWithPrevious, nil
	case "MergedWithNext":
		return modeMergedWithNext, nil
	case "Contiguous":
		return modeContiguous, nil
	}
	return 0, fmt.Errorf("unknown split behavior %q", s)
}

// appendModeSplits turns the pieces of split sp (contiguous, covering it,
// possibly empty) into sub-splits as NormalizedString::split does, dropping
// empty results.
func appendModeSplits(sp split, pieces []match, mode splitMode, out []split) []split {
	emit := func(a, b int) {
		if a < b {
			out = append(out, split{n: sp.n, start: sp.start + a, end: sp.start + b, added: -1})
		}
	}
	switch mode {
	case modeRemoved:
		for _, p := range pieces {
			if !p.isMatch {
				emit(p.start, p.end)
			}
		}
	case modeIsolated:
		for _, p := range pieces {
			emit(p.start, p.end)
		}
	case modeContiguous, modeMergedWithPrevious:
		// Extend the previous piece instead of starting a new one when the
		// flag repeats (Contiguous) or a match follows a non-match
		// (MergedWithPrevious).
		curA, curB, have, prev := 0, 0, false, false
		for _, p := range pieces {
			extend := p.isMatch == prev
			if mode == modeMergedWithPrevious {
				extend = p.isMatch && !prev
			}
			if extend && have {
				curB = p.end
			} else {
				if have {
					emit(curA, curB)
				}
				curA, curB, have = p.start, p.end, true
			}
			prev = p.isMatch
		}
		if have {
			emit(curA, curB)
		}
	case modeMergedWithNext:
		// Walking backwards, a match is merged into the piece after it.
		start := len(out)
		curA, curB, have, prev := 0, 0, false, false
		for i := len(pieces) - 1; i >= 0; i-- {
			p := pieces[i]
			if p.isMatch && !prev && have {
				curA = p.start
			} else {
				if have {
					emit(curA, curB)
				}
				curA, curB, have = p.start, p.end, true
			}
			prev = p.isMatch
		}
		if have {
			emit(curA, curB)
		}
		for i, j := start, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out
}

// ---- patterns ----

// splitPattern lists the pieces of s: matches and the gaps between them,
// covering s, as the crate's Pattern::find_matches (s is never empty here).
type splitPattern interface {
	appendPieces(s []byte, out []match) ([]match, error)
}

// piecesFrom converts successive matches into pieces, like find_matches.
func piecesFrom(n int, ms []match, out []match) []match {
	prev := 0
	for _, m := range ms {
		if prev != m.start {
			out = append(out, match{prev, m.start, false})
		}
		out = append(out, match{m.start, m.end, true})
		prev = m.end
	}
	if prev != n {
		out = append(out, match{prev, n, false})
	}
	return out
}

// onigFindAll iterates find the way the onig crate's find_iter does: after
// an empty match that ends where the previous match ended, the search moves
// on by one character.
func onigFindAll(s []byte, find func(from int) (int, int, bool, error), out []match) ([]match, error) {
	lastEnd, lastMatchEnd := 0, -1
	for lastEnd <= len(s) {
		a, b, ok, err := find(lastEnd)
		if err != nil {
			return out, err
		}
		if !ok {
			break
		}
		if a == b && lastMatchEnd == b {
			if lastEnd < len(s) {
				_, sz := utf8.DecodeRune(s[lastEnd:])
				lastEnd += sz
			} else {
				lastEnd++
			}
			continue
		}
		lastEnd, lastMatchEnd = b, b
		out = append(out, match{a, b, true})
	}
	return out, nil
}

// scanPattern is a known regex handled by a hand-written scanner.
type scanPattern struct{ kind scanKind }

func (p scanPattern) appendPieces(s []byte, out []match) ([]match, error) {
	return appendScanMatches(p.kind, s, out), nil
}

// literalPattern is a SplitPattern::String (an escaped regex in the crate).
type literalPattern struct{ lit []byte }

func (p literalPattern) appendPieces(s []byte, out []match) ([]match, error) {
	var ms []match
	ms, err := onigFindAll(s, func(from int) (int, int, bool, error) {
		if from > len(s) {
			return 0, 0, false, nil
		}
		i := bytes.Index(s[from:], p.lit)
		if i < 0 {
			return 0, 0, false, nil
		}
		return from + i, from + i + len(p.lit), true, nil
	}, ms)
	if err != nil {
		return out, err
	}
	return piecesFrom(len(s), ms, out), nil
}

// regexPattern is any other SplitPattern::Regex, run by regexp2. Its
// Unicode classes are Go's, which may differ from Oniguruma's on recently
// assigned code points.
type regexPattern struct{ re *regexp2.Regexp }

func (p regexPattern) appendPieces(s []byte, out []match) ([]match, error) {
	runes := []rune(string(s))
	byteAt := make([]int, len(runes)+1)
	for i, k := 0, 0; k < len(runes); k++ {
		byteAt[k] = i
		i += utf8.RuneLen(runes[k])
		byteAt[k+1] = i
	}
	runeAt := func(b int) int { // byte offset (on a boundary) to rune index
		lo, hi := 0, len(runes)
		for lo < hi {
			mid := (lo + hi) / 2
			if byteAt[mid] < b {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		return lo
	}
	var ms []match
	ms, err := onigFindAll(s, func(from int) (int, int, bool, error) {
		k := runeAt(from)
		if k > len(runes) {
			return 0, 0, false, nil
		}
		m, err := p.re.FindRunesMatchStartingAt(runes, k)
		if err != nil || m == nil {
			return 0, 0, false, err
		}
		return byteAt[m.Index], byteAt[m.Index+m.Length], true, nil
	}, ms)
	if err != nil {
		return out, err
	}
	return piecesFrom(len(s), ms, out), nil
}

// charPattern is a character predicate (the crate's Pattern for Fn(char)).
type charPattern func(rune) bool

func (p charPattern) appendPieces(s []byte, out []match) ([]match, error) {
	return charMatches(s, p, out), nil
}

// compileSplitPattern builds the matcher for {"String": s} or {"Regex": r}.
func compileSplitPattern(raw json.RawMessage) (splitPattern, error) {
	var c struct {
		String *string `json:"String"`
		Regex  *string `json:"Regex"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	switch {
	case c.String != nil:
		return literalPattern{lit: []byte(*c.String)}, nil
	case c.Regex != nil:
		if k := scannerFor(*c.Regex); k != 0 {
			return scanPattern{kind: k}, nil
		}
		re, err := regexp2.Compile(*c.Regex, regexp2.None)
		if err != nil {
			return nil, err
		}
		return regexPattern{re: re}, nil
	}
	return nil, errors.New(`pattern must be {"String": ...} or {"Regex": ...}`)
}

// ---- Split ----

type splitPreTokenizer struct {
	pattern splitPattern
	mode    splitMode
	invert  bool
}

func newSplitPreTokenizer(raw json.RawMessage) (preTokenizer, error) {
	var c struct {
		Pattern  json.RawMessage `json:"pattern"`
		Behavior json.RawMessage `json:"behavior"`
		Invert   *bool           `json:"invert"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("tokenizer: Split: %w", err)
	}
	if isNull(c.Pattern) || isNull(c.Behavior) || c.Invert == nil {
		return nil, errors.New("tokenizer: Split: pattern, behavior and invert are required")
	}
	p, err := compileSplitPattern(c.Pattern)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: Split: %w", err)
	}
	mode, err := parseSplitMode(c.Behavior, modeRemoved)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: Split: %w", err)
	}
	return &splitPreTokenizer{pattern: p, mode: mode, invert: *c.Invert}, nil
}

func (p *splitPreTokenizer) preTokenize(ws *workspace, in, out []split) ([]split, error) {
	return splitWith(ws, in, out, p.pattern, p.mode, p.invert)
}

// splitWith applies a pattern and behaviour to every non-added split.
func splitWith(ws *workspace, in, out []split, pat splitPattern, mode splitMode, invert bool) ([]split, error) {
	for _, sp := range in {
		if sp.added >= 0 {
			out = append(out, sp)
			continue
		}
		s := sp.n.s[sp.start:sp.end]
		var err error
		if sc, ok := pat.(scanPattern); ok && mode == modeIsolated && !invert {
			// Matches tile the text: emit them directly.
			bmpClassOnce.Do(initBMPClasses)
			scn := scanner{kind: sc.kind, s: s}
			for i := 0; i < len(s); {
				e := scn.next(i)
				out = append(out, split{n: sp.n, start: sp.start + i, end: sp.start + e, added: -1})
				i = e
			}
			continue
		}
		ws.matches, err = pat.appendPieces(s, ws.matches[:0])
		if err != nil {
			return out, err
		}
		if invert {
			for i := range ws.matches {
				ws.matches[i].isMatch = !ws.matches[i].isMatch
			}
		}
		out = appendModeSplits(sp, ws.matches, mode, out)
	}
	return out, nil
}

// ---- Digits ----

type digitsPreTokenizer struct{ individual bool }

func newDigitsPreTokenizer(raw json.RawMessage) (preTokenizer, error) {
	var c struct {
		IndividualDigits *bool `json:"individual_digits"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("tokenizer: Digits: %w", err)
	}
	return digitsPreTokenizer{individual: c.IndividualDigits != nil && *c.IndividualDigits}, nil
}

// isRustNumeric is Rust's char::is_numeric.
func isRustNumeric(r rune) bool {
	if r < 128 {
		return r >= '0' && r <= '9'
	}
	return tabNumeric.contains(r)
}

func (d digitsPreTokenizer) preTokenize(ws *workspace, in, out []split) ([]split, error) {
	mode := modeContiguous
	if d.individual {
		mode = modeIsolated
	}
	return splitWith(ws, in, out, charPattern(isRustNumeric), mode, false)
}

// ---- Punctuation ----

type punctuationPreTokenizer struct{ mode splitMode }

func newPunctuationPreTokenizer(raw json.RawMessage) (preTokenizer, error) {
	var c struct {
		Behavior json.RawMessage `json:"behavior"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("tokenizer: Punctuation: %w", err)
	}
	mode, err := parseSplitMode(c.Behavior, modeIsolated)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: Punctuation: %w", err)
	}
	return punctuationPreTokenizer{mode: mode}, nil
}

func (p punctuationPreTokenizer) preTokenize(ws *workspace, in, out []split) ([]split, error) {
	// ASCII punctuation or Unicode P*: the same test as BertPreTokenizer.
	return splitWith(ws, in, out, charPattern(isBertPunct), p.mode, false)
}
