package tokenizer

import (
	"encoding/json"
	"fmt"
)

// ByteLevel pre-tokenizer and post-processor (GPT-2's byte-to-unicode
// mapping). The pre-tokenizer optionally prepends a space to every split
// that does not start with one, optionally splits with the GPT-2 regex,
// then replaces every byte by its printable stand-in character; each
// stand-in keeps the alignment of the original character it came from, so
// token offsets cover whole original characters.

func init() {
	registerPreTokenizer("ByteLevel", newByteLevelPreTokenizer)
	registerPostProcessor("ByteLevel", newByteLevelProcessing)
}

// byteLevelChars[b] is the UTF-8 encoding of the character standing for b;
// byteLevelWide[b] says it is two bytes long (otherwise it is b itself).
var (
	byteLevelChars [256]string
	byteLevelWide  [256]bool
)

func init() {
	n := 0
	for b := 0; b < 256; b++ {
		r := rune(b)
		printable := (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
		if !printable {
			r = rune(256 + n)
			n++
		}
		byteLevelChars[b] = string(r)
		byteLevelWide[b] = len(byteLevelChars[b]) == 2
	}
}

type byteLevelConfig struct {
	addPrefixSpace, trimOffsets, useRegex bool
}

func parseByteLevel(raw json.RawMessage, what string) (byteLevelConfig, error) {
	var c struct {
		AddPrefixSpace *bool `json:"add_prefix_space"`
		TrimOffsets    *bool `json:"trim_offsets"`
		UseRegex       *bool `json:"use_regex"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return byteLevelConfig{}, fmt.Errorf("tokenizer: %s: %w", what, err)
	}
	b := byteLevelConfig{addPrefixSpace: true, trimOffsets: true, useRegex: true}
	if c.AddPrefixSpace != nil {
		b.addPrefixSpace = *c.AddPrefixSpace
	}
	if c.TrimOffsets != nil {
		b.trimOffsets = *c.TrimOffsets
	}
	if c.UseRegex != nil {
		b.useRegex = *c.UseRegex
	}
	return b, nil
}

type byteLevelPreTokenizer struct{ cfg byteLevelConfig }

func newByteLevelPreTokenizer(raw json.RawMessage) (preTokenizer, error) {
	c, err := parseByteLevel(raw, "ByteLevel pre_tokenizer")
	if err != nil {
		return nil, err
	}
	return &byteLevelPreTokenizer{cfg: c}, nil
}

func (p *byteLevelPreTokenizer) preTokenize(ws *workspace, in, out []split) ([]split, error) {
	var src, dst *normalized
	for _, sp := range in {
		if sp.added >= 0 {
			out = append(out, sp)
			continue
		}
		if sp.start >= sp.end {
			continue
		}
		// Splits of one normalized piece share one output piece.
		if sp.n != src || dst == nil {
			src = sp.n
			dst = ws.newNormalized()
			dst.s, dst.align = dst.s[:0], dst.align[:0]
			dst.origStart, dst.origEnd = src.origStart, src.origEnd
		}
		text, align := sp.n.s[sp.start:sp.end], sp.n.align[sp.start:sp.end]
		if p.cfg.addPrefixSpace && text[0] != ' ' {
			// NormalizedString::prepend: the space takes the alignment of
			// the first character. Build the prefixed text in dst's
			// secondary buffers.
			dst.s2 = append(append(dst.s2[:0], ' '), text...)
			dst.align2 = append(append(dst.align2[:0], align[0]), align...)
			text, align = dst.s2, dst.align2
		}
		if !p.cfg.useRegex {
			out = dst.appendByteLevel(text, align, out)
			continue
		}
		bmpClassOnce.Do(initBMPClasses)
		sc := scanner{kind: scanGPT2, s: text}
		for i := 0; i < len(text); {
			e := sc.next(i)
			out = dst.appendByteLevel(text[i:e], align[i:e], out)
			i = e
		}
	}
	return out, nil
}

// appendByteLevel writes the byte-level form of one piece at the end of n
// and appends the split covering it. As in the crate's transform(), leading
// characters with an empty alignment (inserted by a normalizer at the very
// start) are outside the transformed range and stay as they are.
func (n *normalized) appendByteLevel(text []byte, align []span, out []split) []split {
	start := len(n.s)
	i := 0
	for i < len(text) && align[i].start == align[i].end {
		i++
	}
	n.s = append(n.s, text[:i]...)
	n.align = append(n.align, align[:i]...)
	// Each stand-in is one or two bytes: size the buffers once.
	need := len(n.s) + 2*(len(text)-i)
	if cap(n.s) < need {
		n.s = append(make([]byte, 0, 2*need), n.s...)
	}
	if cap(n.align) < need {
		n.align = append(make([]span, 0, 2*need), n.align...)
	}
	s, al := n.s[:need], n.align[:need]
	w := len(n.s)
	for ; i < len(text); i++ {
		c, a := text[i], align[i]
		if byteLevelWide[c] {
			cs := byteLevelChars[c]
			s[w], s[w+1] = cs[0], cs[1]
			al[w], al[w+1] = a, a
			w += 2
		} else {
			s[w] = c
			al[w] = a
			w++
		}
	}
	n.s, n.align = s[:w], al[:w]
	if w > start {
		out = append(out, split{n: n, start: start, end: w, added: -1})
	}
	return out
}

// ---- ByteLevel post-processor ----

type byteLevelProcessing struct{ cfg byteLevelConfig }

func newByteLevelProcessing(raw json.RawMessage) (postProcessor, error) {
	c, err := parseByteLevel(raw, "ByteLevel post_processor")
	if err != nil {
		return nil, err
	}
	return &byteLevelProcessing{cfg: c}, nil
}

func (p *byteLevelProcessing) addedTokens(bool) int { return 0 }

func (p *byteLevelProcessing) processEncodings(_ *workspace, encs []*seqEnc, _ bool) ([]*seqEnc, error) {
	if p.cfg.trimOffsets {
		for _, e := range encs {
			trimByteLevelOffsets(e, p.cfg.addPrefixSpace)
		}
	}
	return encs, nil
}
