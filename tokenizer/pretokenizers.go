package tokenizer

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// split is one piece of a sequence on its way to the model: either a byte
// range of a normalized piece, or an added token already resolved to an id.
type split struct {
	n          *normalized
	start, end int
	added      int // token id when this split is an added token, else -1
	value      string
	off        span
	// cached: the model already ran on this split during the truncation
	// early exit; its tokens are ws.tokCache[tokStart:tokEnd].
	cached           bool
	tokStart, tokEnd int
}

// preTokenizer cuts splits into smaller ones. Splits that are added tokens
// must be passed through untouched; empty splits must be dropped.
type preTokenizer interface {
	preTokenize(ws *workspace, in []split, out []split) ([]split, error)
}

type preTokenizerFactory func(raw json.RawMessage) (preTokenizer, error)

// preTokenizerTypes maps the JSON "type" of a pre-tokenizer to its constructor.
var preTokenizerTypes = map[string]preTokenizerFactory{}

func registerPreTokenizer(name string, f preTokenizerFactory) { preTokenizerTypes[name] = f }

func buildPreTokenizer(raw json.RawMessage) (preTokenizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	typ, err := componentType(raw)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: pre_tokenizer: %w", err)
	}
	f, ok := preTokenizerTypes[typ]
	if !ok {
		return nil, fmt.Errorf("tokenizer: unsupported pre_tokenizer type %q", typ)
	}
	return f(raw)
}

func init() {
	registerPreTokenizer("BertPreTokenizer", func(json.RawMessage) (preTokenizer, error) { return bertPreTokenizer{}, nil })
	registerPreTokenizer("Whitespace", func(json.RawMessage) (preTokenizer, error) { return whitespacePreTokenizer{}, nil })
	registerPreTokenizer("WhitespaceSplit", func(json.RawMessage) (preTokenizer, error) { return whitespaceSplitPreTokenizer{}, nil })
	registerPreTokenizer("Sequence", newSequencePreTokenizer)
}

// splitBehavior says what happens to the characters a pattern matches
// (the crate's SplitDelimiterBehavior; MergedWithPrevious, MergedWithNext
// and Contiguous are to be added with the pre-tokenizers that use them).
type splitBehavior int

const (
	behaviorRemoved splitBehavior = iota
	behaviorIsolated
)

// match is a contiguous byte range [start, end) of a split, flagged when the
// pattern matched it. A list of matches covers the split exactly.
type match struct {
	start, end int
	isMatch    bool
}

// charMatches lists, for the text s, each character satisfying pred as its
// own match and the runs between them as non-matches (the crate's Pattern
// impl for Fn(char) -> bool).
func charMatches(s []byte, pred func(rune) bool, out []match) []match {
	last := 0
	for i := 0; i < len(s); {
		r, sz := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, sz = utf8.DecodeRune(s[i:])
		}
		if pred(r) {
			if last < i {
				out = append(out, match{last, i, false})
			}
			out = append(out, match{i, i + sz, true})
			last = i + sz
		}
		i += sz
	}
	if last < len(s) {
		out = append(out, match{last, len(s), false})
	}
	return out
}

// applyBehavior turns matches of split sp into sub-splits appended to out.
func applyBehavior(sp split, ms []match, behavior splitBehavior, out []split) []split {
	emit := func(a, b int) {
		if a < b {
			out = append(out, split{n: sp.n, start: sp.start + a, end: sp.start + b, added: -1})
		}
	}
	switch behavior {
	case behaviorRemoved:
		for _, m := range ms {
			if !m.isMatch {
				emit(m.start, m.end)
			}
		}
	case behaviorIsolated:
		for _, m := range ms {
			emit(m.start, m.end)
		}
	}
	return out
}

// splitOnChars applies a character-predicate split to every non-added split.
func splitOnChars(ws *workspace, in, out []split, pred func(rune) bool, behavior splitBehavior) []split {
	for _, sp := range in {
		if sp.added >= 0 {
			out = append(out, sp)
			continue
		}
		ws.matches = charMatches(sp.n.s[sp.start:sp.end], pred, ws.matches[:0])
		out = applyBehavior(sp, ws.matches, behavior, out)
	}
	return out
}

// ---- BertPreTokenizer ----

type bertPreTokenizer struct{}

func (bertPreTokenizer) preTokenize(ws *workspace, in, out []split) ([]split, error) {
	// Equivalent to splitting on whitespace (removed) and then isolating
	// punctuation, done in one pass.
	for _, sp := range in {
		if sp.added >= 0 {
			out = append(out, sp)
			continue
		}
		s := sp.n.s[sp.start:sp.end]
		last := 0
		for i := 0; i < len(s); {
			c := s[i]
			var ws, punct bool
			sz := 1
			if c < utf8.RuneSelf {
				p := asciiProps[c]
				ws, punct = p&propWhitespace != 0, p&propBertPunct != 0
			} else {
				var r rune
				r, sz = utf8.DecodeRune(s[i:])
				ws = isWhitespace(r)
				punct = !ws && isBertPunct(r)
			}
			if ws || punct {
				if last < i {
					out = append(out, split{n: sp.n, start: sp.start + last, end: sp.start + i, added: -1})
				}
				if punct {
					out = append(out, split{n: sp.n, start: sp.start + i, end: sp.start + i + sz, added: -1})
				}
				last = i + sz
			}
			i += sz
		}
		if last < len(s) {
			out = append(out, split{n: sp.n, start: sp.start + last, end: sp.end, added: -1})
		}
	}
	return out, nil
}

// ---- Whitespace: the regex \w+|[^\w\s]+ ----

type whitespacePreTokenizer struct{}

func (whitespacePreTokenizer) preTokenize(ws *workspace, in, out []split) ([]split, error) {
	const (
		classSpace = iota
		classWord
		classOther
	)
	classOf := func(r rune) int {
		switch {
		case isWordChar(r):
			return classWord
		case isWhitespace(r):
			return classSpace
		}
		return classOther
	}
	for _, sp := range in {
		if sp.added >= 0 {
			out = append(out, sp)
			continue
		}
		s := sp.n.s[sp.start:sp.end]
		runStart, runClass := 0, classSpace
		for i := 0; i < len(s); {
			r, sz := utf8.DecodeRune(s[i:])
			c := classOf(r)
			if c != runClass {
				if runClass != classSpace && runStart < i {
					out = append(out, split{n: sp.n, start: sp.start + runStart, end: sp.start + i, added: -1})
				}
				runStart, runClass = i, c
			}
			i += sz
		}
		if runClass != classSpace && runStart < len(s) {
			out = append(out, split{n: sp.n, start: sp.start + runStart, end: sp.end, added: -1})
		}
	}
	return out, nil
}

// ---- WhitespaceSplit ----

type whitespaceSplitPreTokenizer struct{}

func (whitespaceSplitPreTokenizer) preTokenize(ws *workspace, in, out []split) ([]split, error) {
	return splitOnChars(ws, in, out, isWhitespace, behaviorRemoved), nil
}

// ---- Sequence ----

type sequencePreTokenizer []preTokenizer

func newSequencePreTokenizer(raw json.RawMessage) (preTokenizer, error) {
	var c struct {
		PreTokenizers []json.RawMessage `json:"pretokenizers"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("tokenizer: pre_tokenizer Sequence: %w", err)
	}
	seq := make(sequencePreTokenizer, 0, len(c.PreTokenizers))
	for _, r := range c.PreTokenizers {
		p, err := buildPreTokenizer(r)
		if err != nil {
			return nil, err
		}
		if p != nil {
			seq = append(seq, p)
		}
	}
	return seq, nil
}

func (s sequencePreTokenizer) preTokenize(ws *workspace, in, out []split) ([]split, error) {
	if len(s) == 0 {
		return append(out, in...), nil
	}
	// Intermediate stages write into scratch buffers borrowed from the
	// workspace; the last stage writes into out.
	cur := in
	var borrowed []split
	for i, p := range s {
		var dst []split
		if i == len(s)-1 {
			dst = out
		} else {
			dst = ws.getSplits()
		}
		var err error
		dst, err = p.preTokenize(ws, cur, dst)
		if borrowed != nil {
			ws.putSplits(borrowed)
			borrowed = nil
		}
		if err != nil {
			return out, err
		}
		if i != len(s)-1 {
			borrowed = dst
		}
		cur = dst
	}
	return cur, nil
}
