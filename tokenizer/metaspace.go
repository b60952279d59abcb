package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

func init() { registerPreTokenizer("Metaspace", newMetaspace) }

// metaspace is the crate's Metaspace pre-tokenizer: in each split, spaces
// (U+0020 only) become the replacement character, the replacement is
// prepended (scheme "always"; "first": only to a split that starts at
// offset 0 of the input; "never"), then, with split, the text is cut before
// every replacement character (MergedWithNext).
type metaspace struct {
	repl    string
	scheme  string
	split   bool
	replLen int
}

func newMetaspace(raw json.RawMessage) (preTokenizer, error) {
	var c struct {
		Replacement    *string `json:"replacement"`
		AddPrefixSpace *bool   `json:"add_prefix_space"`
		PrependScheme  *string `json:"prepend_scheme"`
		Split          *bool   `json:"split"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("tokenizer: Metaspace: %w", err)
	}
	if c.Replacement == nil {
		return nil, errors.New(`tokenizer: Metaspace: missing "replacement"`)
	}
	if utf8.RuneCountInString(*c.Replacement) != 1 {
		return nil, fmt.Errorf("tokenizer: Metaspace: replacement %q is not one character", *c.Replacement)
	}
	m := &metaspace{repl: *c.Replacement, scheme: "always", split: true}
	m.replLen = len(m.repl)
	if c.PrependScheme != nil {
		switch *c.PrependScheme {
		case "always", "first", "never":
			m.scheme = *c.PrependScheme
		default:
			return nil, fmt.Errorf("tokenizer: Metaspace: unknown prepend_scheme %q", *c.PrependScheme)
		}
	}
	if c.AddPrefixSpace != nil && !*c.AddPrefixSpace {
		if m.scheme != "never" {
			return nil, errors.New("tokenizer: Metaspace: add_prefix_space does not match declared prepend_scheme")
		}
	}
	if c.Split != nil {
		m.split = *c.Split
	}
	return m, nil
}

func (m *metaspace) preTokenize(ws *workspace, in, out []split) ([]split, error) {
	for _, sp := range in {
		if sp.added >= 0 {
			out = append(out, sp)
			continue
		}
		if sp.start >= sp.end {
			continue
		}
		// The split's own text: spaces replaced, alignments kept.
		nn := ws.newNormalized()
		src := sp.n
		nn.s = nn.s[:0]
		nn.align = nn.align[:0]
		for i := sp.start; i < sp.end; i++ {
			if src.s[i] == ' ' {
				nn.s = append(nn.s, m.repl...)
				for k := 0; k < m.replLen; k++ {
					nn.align = append(nn.align, src.align[i])
				}
				continue
			}
			nn.s = append(nn.s, src.s[i])
			nn.align = append(nn.align, src.align[i])
		}
		// The split's original start: where its first character came from.
		nn.origStart = src.align[sp.start].start
		nn.origEnd = src.align[sp.end-1].end
		if !hasPrefixString(nn.s, m.repl) {
			switch m.scheme {
			case "always":
				nn.prepend(m.repl)
			case "first":
				if nn.origStart == 0 {
					nn.prepend(m.repl)
				}
			}
		}
		if !m.split {
			out = append(out, split{n: nn, start: 0, end: len(nn.s), added: -1})
			continue
		}
		// MergedWithNext: cut before every replacement character.
		last := 0
		for i := 0; i+m.replLen <= len(nn.s); {
			if string(nn.s[i:i+m.replLen]) == m.repl {
				if i > last {
					out = append(out, split{n: nn, start: last, end: i, added: -1})
				}
				last = i
				i += m.replLen
				continue
			}
			_, sz := utf8.DecodeRune(nn.s[i:])
			i += sz
		}
		if last < len(nn.s) {
			out = append(out, split{n: nn, start: last, end: len(nn.s), added: -1})
		}
	}
	return out, nil
}

func hasPrefixString(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[:len(s)]) == s
}
