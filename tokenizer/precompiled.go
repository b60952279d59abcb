package tokenizer

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Precompiled is SentencePiece's normalizer as stored in a model's
// precompiled_charsmap: a Darts double-array trie over UTF-8 byte strings
// whose leaf values are byte offsets into a blob of NUL-terminated
// replacement strings. The crate (spm_precompiled, applied by
// normalizers/precompiled.rs) walks the text by extended grapheme cluster:
//
//   - a cluster shorter than 6 bytes is looked up whole; if any prefix of it
//     is a key, the whole cluster is replaced by the replacement of the
//     SHORTEST such prefix (whatever follows that prefix is dropped);
//   - otherwise each character is looked up on its own, the same way.
//
// The replacements are recorded as (char, change) pairs with the crate's
// bookkeeping, quirks included (a removal at the very start of the text is
// never consumed, so the characters after it take shifted alignments), and
// replayed through normalized.transform.

func init() { registerNormalizer("Precompiled", newPrecompiled) }

type precompiled struct {
	units      []uint32
	normalized string
}

var errPrecompiledParse = errors.New("tokenizer: Precompiled: Cannot parse precompiled_charsmap")

func newPrecompiled(raw json.RawMessage) (normalizer, error) {
	var c struct {
		Charsmap *string `json:"precompiled_charsmap"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("tokenizer: Precompiled: %w", err)
	}
	if c.Charsmap == nil {
		return nil, errors.New("tokenizer: Precompiled: missing precompiled_charsmap")
	}
	// The crate decodes with the base64 crate's canonical standard engine:
	// padding required, no whitespace, no stray trailing bits.
	if bytes.ContainsAny([]byte(*c.Charsmap), "\r\n") {
		return nil, errors.New("tokenizer: Precompiled: invalid base64 in precompiled_charsmap")
	}
	data, err := base64.StdEncoding.Strict().DecodeString(*c.Charsmap)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: Precompiled: precompiled_charsmap: %w", err)
	}
	return parsePrecompiled(data)
}

// parsePrecompiled reads [u32 trie size in bytes][trie units][blob].
func parsePrecompiled(data []byte) (*precompiled, error) {
	if len(data) < 4 {
		return nil, errPrecompiledParse
	}
	size := binary.LittleEndian.Uint32(data)
	nUnits := uint64(size / 4)
	rest := data[4:]
	if uint64(len(rest)) < 4*nUnits {
		return nil, errPrecompiledParse
	}
	p := &precompiled{units: make([]uint32, nUnits)}
	for i := range p.units {
		p.units[i] = binary.LittleEndian.Uint32(rest[4*i:])
	}
	blob := rest[4*nUnits:]
	if !utf8.Valid(blob) {
		return nil, errors.New("tokenizer: Precompiled: Cannot parse precompiled_charsmap (normalized blob is not UTF-8)")
	}
	p.normalized = string(blob)
	if len(p.units) == 0 {
		// The crate would index past the end on the first lookup.
		return nil, errPrecompiledParse
	}
	return p, nil
}

// Darts unit fields.
func dartsHasLeaf(u uint32) bool  { return (u>>8)&1 == 1 }
func dartsValue(u uint32) uint32  { return u & (1<<31 - 1) }
func dartsLabel(u uint32) uint32  { return u & (1<<31 | 0xff) }
func dartsOffset(u uint32) uint32 { return (u >> 10) << ((u & (1 << 9)) >> 6) }

// firstPrefix returns the value of the shortest key that is a prefix of key
// (the first result of the crate's common_prefix_search). The search stops
// at a NUL byte.
func (p *precompiled) firstPrefix(key []byte) (uint32, bool) {
	units := p.units
	pos := dartsOffset(units[0])
	for _, c := range key {
		if c == 0 {
			break
		}
		pos ^= uint32(c)
		if uint64(pos) >= uint64(len(units)) {
			return 0, false
		}
		u := units[pos]
		if dartsLabel(u) != uint32(c) {
			return 0, false
		}
		pos ^= dartsOffset(u)
		if dartsHasLeaf(u) {
			if uint64(pos) >= uint64(len(units)) {
				return 0, false
			}
			return dartsValue(units[pos]), true
		}
	}
	return 0, false
}

// lookup returns the replacement of chunk, if some prefix of it is a key.
func (p *precompiled) lookup(chunk []byte) (string, bool, error) {
	v, ok := p.firstPrefix(chunk)
	if !ok {
		return "", false, nil
	}
	start := int(v)
	if start > len(p.normalized) || (start < len(p.normalized) && !utf8.RuneStart(p.normalized[start])) {
		return "", false, fmt.Errorf("tokenizer: Precompiled: charsmap entry points outside its strings (offset %d)", start)
	}
	end := start
	for end < len(p.normalized) && p.normalized[end] != 0 {
		end++
	}
	return p.normalized[start:end], true, nil
}

// spmReplace records that old (some characters of the text) becomes repl,
// as the crate's precompiled.rs replace() does.
func spmReplace(changes []runeChange, old []byte, repl string) []runeChange {
	diff := utf8.RuneCountInString(repl) - utf8.RuneCount(old)
	for _, r := range repl {
		changes = append(changes, runeChange{r, 0})
	}
	switch {
	case diff > 0:
		for k := len(changes) - 1; k >= len(changes)-diff; k-- {
			changes[k].change = 1
		}
	case diff < 0:
		if k := len(changes) - 1; k >= 0 {
			changes[k].change += diff
		}
	}
	return changes
}

func (p *precompiled) normalize(ws *workspace, n *normalized) error {
	s := n.s
	changes := ws.changes[:0]
	modified := false
	for i := 0; i < len(s); {
		j := graphemeEnd(s, i)
		single := false
		if j-i < 6 {
			repl, ok, err := p.lookup(s[i:j])
			if err != nil {
				return err
			}
			if ok {
				modified = true
				changes = spmReplace(changes, s[i:j], repl)
				i = j
				continue
			}
			_, sz := utf8.DecodeRune(s[i:j])
			single = i+sz == j
		}
		for k := i; k < j; {
			r, sz := rune(s[k]), 1
			if r >= utf8.RuneSelf {
				r, sz = utf8.DecodeRune(s[k:j])
			}
			if !single {
				repl, ok, err := p.lookup(s[k : k+sz])
				if err != nil {
					return err
				}
				if ok {
					modified = true
					changes = spmReplace(changes, s[k:k+sz], repl)
					k += sz
					continue
				}
			}
			changes = append(changes, runeChange{r, 0})
			k += sz
		}
		i = j
	}
	ws.changes = changes
	if modified {
		n.transform(changes, 0)
	}
	return nil
}
