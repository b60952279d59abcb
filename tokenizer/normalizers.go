package tokenizer

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// normalizer rewrites a piece of text in place, keeping alignments.
type normalizer interface {
	normalize(ws *workspace, n *normalized) error
}

type normalizerFactory func(raw json.RawMessage) (normalizer, error)

// normalizerTypes maps the JSON "type" of a normalizer to its constructor.
// New normalizers register themselves here from their own file.
var normalizerTypes = map[string]normalizerFactory{}

func registerNormalizer(name string, f normalizerFactory) { normalizerTypes[name] = f }

func buildNormalizer(raw json.RawMessage) (normalizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	typ, err := componentType(raw)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: normalizer: %w", err)
	}
	f, ok := normalizerTypes[typ]
	if !ok {
		return nil, fmt.Errorf("tokenizer: unsupported normalizer type %q", typ)
	}
	return f(raw)
}

func init() {
	registerNormalizer("BertNormalizer", newBertNormalizer)
	registerNormalizer("Lowercase", func(json.RawMessage) (normalizer, error) { return lowercaseNormalizer{}, nil })
	registerNormalizer("StripAccents", func(json.RawMessage) (normalizer, error) { return stripAccentsNormalizer{}, nil })
	registerNormalizer("NFD", func(json.RawMessage) (normalizer, error) {
		return unicodeNormalizer{compat: false, compose: false}, nil
	})
	registerNormalizer("NFKD", func(json.RawMessage) (normalizer, error) { return unicodeNormalizer{compat: true, compose: false}, nil })
	registerNormalizer("NFC", func(json.RawMessage) (normalizer, error) { return unicodeNormalizer{compat: false, compose: true}, nil })
	registerNormalizer("NFKC", func(json.RawMessage) (normalizer, error) { return unicodeNormalizer{compat: true, compose: true}, nil })
	registerNormalizer("Strip", newStripNormalizer)
	registerNormalizer("Sequence", newSequenceNormalizer)
}

// ---- BertNormalizer ----

type bertNormalizer struct {
	cleanText, handleChinese, stripAccents, lowercase bool
}

func newBertNormalizer(raw json.RawMessage) (normalizer, error) {
	// All four fields default like the crate's BertNormalizer::default().
	var c struct {
		CleanText          *bool `json:"clean_text"`
		HandleChineseChars *bool `json:"handle_chinese_chars"`
		StripAccents       *bool `json:"strip_accents"`
		Lowercase          *bool `json:"lowercase"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("tokenizer: BertNormalizer: %w", err)
	}
	b := &bertNormalizer{cleanText: true, handleChinese: true, lowercase: true}
	if c.CleanText != nil {
		b.cleanText = *c.CleanText
	}
	if c.HandleChineseChars != nil {
		b.handleChinese = *c.HandleChineseChars
	}
	if c.Lowercase != nil {
		b.lowercase = *c.Lowercase
	}
	// strip_accents: null means "follow lowercase".
	b.stripAccents = b.lowercase
	if c.StripAccents != nil {
		b.stripAccents = *c.StripAccents
	}
	return b, nil
}

func (b *bertNormalizer) normalize(ws *workspace, n *normalized) error {
	if n.fastPathOK() && n.isASCII() {
		// One in-place pass: on ASCII, NFD and Mn removal are no-ops and every
		// step keeps each kept byte's alignment.
		j := 0
		for i, c := range n.s {
			if b.cleanText {
				p := asciiProps[c]
				if p&propOther != 0 {
					continue
				}
				if p&propWhitespace != 0 {
					c = ' '
				}
			}
			if b.lowercase && c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			n.s[j] = c
			n.align[j] = n.align[i]
			j++
		}
		n.s = n.s[:j]
		n.align = n.align[:j]
		return nil
	}
	if b.cleanText {
		n.apply(ws, filterBertControl)
		n.apply(ws, mapBertWhitespace)
	}
	if b.handleChinese {
		n.apply(ws, padChinese)
	}
	if b.stripAccents {
		n.decompose(ws, false)
		n.apply(ws, filterMn)
	}
	if b.lowercase {
		n.apply(ws, lowerChar)
	}
	return nil
}

func filterBertControl(n *normalized, r rune, a span) {
	if !isBertControl(r) {
		n.appendRune(r, a)
	}
}

func mapBertWhitespace(n *normalized, r rune, a span) {
	if isWhitespace(r) {
		r = ' '
	}
	n.appendRune(r, a)
}

func padChinese(n *normalized, r rune, a span) {
	if isChineseChar(r) {
		n.appendRune(' ', a)
		n.appendRune(r, a)
		n.appendRune(' ', a)
		return
	}
	n.appendRune(r, a)
}

func filterMn(n *normalized, r rune, a span) {
	if !isNonspacingMark(r) {
		n.appendRune(r, a)
	}
}

func filterCombining(n *normalized, r rune, a span) {
	if !isCombiningMark(r) {
		n.appendRune(r, a)
	}
}

func lowerChar(n *normalized, r rune, a span) {
	if l, ok := lowerRune(r); ok {
		n.appendString(l, a)
		return
	}
	n.appendRune(r, a)
}

// ---- simple normalizers ----

type lowercaseNormalizer struct{}

func (lowercaseNormalizer) normalize(ws *workspace, n *normalized) error {
	if n.fastPathOK() && n.isASCII() {
		for i, c := range n.s {
			if c >= 'A' && c <= 'Z' {
				n.s[i] = c + 'a' - 'A'
			}
		}
		return nil
	}
	n.apply(ws, lowerChar)
	return nil
}

// stripAccentsNormalizer removes combining marks (Mn, Mc, Me) without
// decomposing first, like the crate's StripAccents.
type stripAccentsNormalizer struct{}

func (stripAccentsNormalizer) normalize(ws *workspace, n *normalized) error {
	if n.isASCII() {
		return nil
	}
	n.apply(ws, filterCombining)
	return nil
}

type unicodeNormalizer struct{ compat, compose bool }

func (u unicodeNormalizer) normalize(ws *workspace, n *normalized) error {
	if u.compose {
		n.recompose(ws, u.compat)
	} else {
		n.decompose(ws, u.compat)
	}
	return nil
}

// decompose applies NFD (compat=false) or NFKD (compat=true).
func (n *normalized) decompose(ws *workspace, compat bool) {
	if n.isASCII() {
		return
	}
	ws.changes, ws.pending = decomposeChanges(n.s, compat, ws.changes[:0], ws.pending)
	n.transform(ws.changes, 0)
}

// recompose applies NFC (compat=false) or NFKC (compat=true).
func (n *normalized) recompose(ws *workspace, compat bool) {
	if n.isASCII() {
		return
	}
	ws.changes, ws.pending = decomposeChanges(n.s, compat, ws.changes[:0], ws.pending)
	ws.changes2, ws.changes3 = recomposeChanges(ws.changes, ws.changes2[:0], ws.changes3)
	n.transform(ws.changes2, 0)
}

// ---- Strip ----

type stripNormalizer struct{ left, right bool }

func newStripNormalizer(raw json.RawMessage) (normalizer, error) {
	var c struct {
		Left  bool `json:"strip_left"`
		Right bool `json:"strip_right"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("tokenizer: Strip: %w", err)
	}
	return stripNormalizer{c.Left, c.Right}, nil
}

func (st stripNormalizer) normalize(ws *workspace, n *normalized) error {
	// Count leading and trailing whitespace characters.
	lead, leadBytes := 0, 0
	if st.left {
		for i := 0; i < len(n.s); {
			r, sz := utf8.DecodeRune(n.s[i:])
			if !isWhitespace(r) {
				break
			}
			lead++
			leadBytes += sz
			i += sz
		}
	}
	trail, trailBytes := 0, 0
	if st.right {
		for i := len(n.s); i > leadBytes; {
			r, sz := utf8.DecodeLastRune(n.s[:i])
			if !isWhitespace(r) {
				break
			}
			trail++
			trailBytes += sz
			i -= sz
		}
	}
	if lead == 0 && trail == 0 {
		return nil
	}
	// The crate keeps the middle characters with their own alignment (its
	// "-trailing" hint only ever lands on a dropped character).
	if n.fastPathOK() {
		end := len(n.s) - trailBytes
		if leadBytes > end {
			end = leadBytes
		}
		copy(n.s, n.s[leadBytes:end])
		copy(n.align, n.align[leadBytes:end])
		n.s = n.s[:end-leadBytes]
		n.align = n.align[:end-leadBytes]
		return nil
	}
	dest := ws.changes[:0]
	count := 0
	for i := 0; i < len(n.s); {
		_, sz := utf8.DecodeRune(n.s[i:])
		i += sz
		count++
	}
	idx := 0
	for i := 0; i < len(n.s); {
		r, sz := utf8.DecodeRune(n.s[i:])
		i += sz
		if idx >= lead && idx < count-trail {
			ch := 0
			if trail > 0 && idx == len(n.s)-trail-1 {
				ch = -trail
			}
			dest = append(dest, runeChange{r, ch})
		}
		idx++
	}
	ws.changes = dest
	n.transform(dest, lead)
	return nil
}

// ---- Sequence ----

type sequenceNormalizer []normalizer

func newSequenceNormalizer(raw json.RawMessage) (normalizer, error) {
	var c struct {
		Normalizers []json.RawMessage `json:"normalizers"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("tokenizer: normalizer Sequence: %w", err)
	}
	seq := make(sequenceNormalizer, 0, len(c.Normalizers))
	for _, r := range c.Normalizers {
		nz, err := buildNormalizer(r)
		if err != nil {
			return nil, err
		}
		if nz != nil {
			seq = append(seq, nz)
		}
	}
	return seq, nil
}

func (s sequenceNormalizer) normalize(ws *workspace, n *normalized) error {
	for _, nz := range s {
		if err := nz.normalize(ws, n); err != nil {
			return err
		}
	}
	return nil
}
