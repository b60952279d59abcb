package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// seqEnc is an encoding under construction (the crate's Encoding, minus the
// fields this package does not expose).
type seqEnc struct {
	ids, typeIDs, stm, am []int
	tokens                []string
	offsets               [][2]int
	// text is the original input the offsets point into.
	text string
}

func (e *seqEnc) reset() {
	e.ids, e.typeIDs, e.stm, e.am = e.ids[:0], e.typeIDs[:0], e.stm[:0], e.am[:0]
	e.tokens, e.offsets = e.tokens[:0], e.offsets[:0]
	e.text = ""
}

func (e *seqEnc) len() int { return len(e.ids) }

func (e *seqEnc) push(id, typeID int, tok string, off [2]int, special bool) {
	e.ids = append(e.ids, id)
	e.typeIDs = append(e.typeIDs, typeID)
	e.tokens = append(e.tokens, tok)
	e.offsets = append(e.offsets, off)
	s := 0
	if special {
		s = 1
	}
	e.stm = append(e.stm, s)
	e.am = append(e.am, 1)
}

func (e *seqEnc) appendEnc(o *seqEnc) {
	if e.text == "" {
		e.text = o.text
	}
	e.ids = append(e.ids, o.ids...)
	e.typeIDs = append(e.typeIDs, o.typeIDs...)
	e.tokens = append(e.tokens, o.tokens...)
	e.offsets = append(e.offsets, o.offsets...)
	e.stm = append(e.stm, o.stm...)
	e.am = append(e.am, o.am...)
}

func (e *seqEnc) setTypeIDs(t int) {
	for i := range e.typeIDs {
		e.typeIDs[i] = t
	}
}

// truncate keeps maxLen tokens from the start (right truncation) or end.
func (e *seqEnc) truncate(maxLen int, left bool) {
	n := len(e.ids)
	if maxLen >= n {
		return
	}
	a, b := 0, maxLen
	if left {
		a, b = n-maxLen, n
	}
	cut := func(s []int) []int { return append(s[:0], s[a:b]...) }
	e.ids, e.typeIDs, e.stm, e.am = cut(e.ids), cut(e.typeIDs), cut(e.stm), cut(e.am)
	e.tokens = append(e.tokens[:0], e.tokens[a:b]...)
	e.offsets = append(e.offsets[:0], e.offsets[a:b]...)
}

// postProcessor adds special tokens and merges the sequences.
type postProcessor interface {
	// addedTokens is how many tokens process adds (for the truncation budget).
	addedTokens(pair bool) int
	// processEncodings is the crate's PostProcessor::process_encodings.
	processEncodings(ws *workspace, encs []*seqEnc, addSpecial bool) ([]*seqEnc, error)
}

type postProcessorFactory func(raw json.RawMessage) (postProcessor, error)

// postProcessorTypes maps the JSON "type" of a post-processor to its constructor.
var postProcessorTypes = map[string]postProcessorFactory{}

func registerPostProcessor(name string, f postProcessorFactory) { postProcessorTypes[name] = f }

func buildPostProcessor(raw json.RawMessage) (postProcessor, error) {
	if isNull(raw) {
		return nil, nil
	}
	typ, err := componentType(raw)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: post_processor: %w", err)
	}
	f, ok := postProcessorTypes[typ]
	if !ok {
		return nil, fmt.Errorf("tokenizer: unsupported post_processor type %q", typ)
	}
	return f(raw)
}

func init() {
	registerPostProcessor("BertProcessing", newBertProcessing)
	registerPostProcessor("RobertaProcessing", newRobertaProcessing)
	registerPostProcessor("TemplateProcessing", newTemplateProcessing)
	registerPostProcessor("Sequence", newSequenceProcessing)
}

// specialPair decodes the crate's ("[SEP]", 102) tuples.
type specialPair struct {
	tok string
	id  int
}

func (p *specialPair) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || len(raw) != 2 {
		return fmt.Errorf("expected [token, id], got %s", b)
	}
	if err := json.Unmarshal(raw[0], &p.tok); err != nil {
		return err
	}
	return json.Unmarshal(raw[1], &p.id)
}

// ---- BertProcessing: [CLS] A [SEP] (B [SEP]) ----

type bertProcessing struct{ sep, cls specialPair }

func newBertProcessing(raw json.RawMessage) (postProcessor, error) {
	c := struct {
		Sep *specialPair `json:"sep"`
		Cls *specialPair `json:"cls"`
	}{}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("tokenizer: BertProcessing: %w", err)
	}
	p := &bertProcessing{sep: specialPair{"[SEP]", 102}, cls: specialPair{"[CLS]", 101}}
	if c.Sep != nil {
		p.sep = *c.Sep
	}
	if c.Cls != nil {
		p.cls = *c.Cls
	}
	return p, nil
}

func (p *bertProcessing) addedTokens(pair bool) int {
	if pair {
		return 3
	}
	return 2
}

func (p *bertProcessing) processEncodings(ws *workspace, encs []*seqEnc, addSpecial bool) ([]*seqEnc, error) {
	if !addSpecial {
		return encs, nil
	}
	out := make([]*seqEnc, 0, len(encs))
	for i, e := range encs {
		n := ws.newEnc()
		if i == 0 {
			n.push(p.cls.id, 0, p.cls.tok, [2]int{}, true)
			n.appendEnc(e)
			n.push(p.sep.id, 0, p.sep.tok, [2]int{}, true)
		} else {
			n.appendEnc(e)
			n.push(p.sep.id, 1, p.sep.tok, [2]int{}, true)
		}
		out = append(out, n)
	}
	return out, nil
}

// ---- RobertaProcessing: <s> A </s> (</s> B </s>), all type ids 0 ----

type robertaProcessing struct {
	sep, cls                    specialPair
	trimOffsets, addPrefixSpace bool
}

func newRobertaProcessing(raw json.RawMessage) (postProcessor, error) {
	c := struct {
		Sep            *specialPair `json:"sep"`
		Cls            *specialPair `json:"cls"`
		TrimOffsets    *bool        `json:"trim_offsets"`
		AddPrefixSpace *bool        `json:"add_prefix_space"`
	}{}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("tokenizer: RobertaProcessing: %w", err)
	}
	p := &robertaProcessing{sep: specialPair{"</s>", 2}, cls: specialPair{"<s>", 0}, trimOffsets: true, addPrefixSpace: true}
	if c.Sep != nil {
		p.sep = *c.Sep
	}
	if c.Cls != nil {
		p.cls = *c.Cls
	}
	if c.TrimOffsets != nil {
		p.trimOffsets = *c.TrimOffsets
	}
	if c.AddPrefixSpace != nil {
		p.addPrefixSpace = *c.AddPrefixSpace
	}
	return p, nil
}

func (p *robertaProcessing) addedTokens(pair bool) int {
	if pair {
		return 4
	}
	return 2
}

func (p *robertaProcessing) processEncodings(ws *workspace, encs []*seqEnc, addSpecial bool) ([]*seqEnc, error) {
	if p.trimOffsets {
		for _, e := range encs {
			trimByteLevelOffsets(e, p.addPrefixSpace)
		}
	}
	for _, e := range encs {
		e.setTypeIDs(0)
	}
	if !addSpecial {
		return encs, nil
	}
	out := make([]*seqEnc, 0, len(encs))
	for i, e := range encs {
		n := ws.newEnc()
		if i == 0 {
			n.push(p.cls.id, 0, p.cls.tok, [2]int{}, true)
		} else {
			n.push(p.sep.id, 0, p.sep.tok, [2]int{}, true)
		}
		n.appendEnc(e)
		n.push(p.sep.id, 0, p.sep.tok, [2]int{}, true)
		out = append(out, n)
	}
	return out, nil
}

// trimByteLevelOffsets is the crate's byte_level::process_offsets: a token's
// offsets skip its leading/trailing spaces (or 'Ġ'). The crate counts those
// characters and moves the offsets by that many positions; the bindings (and
// so the oracle) apply this to character offsets, which here means stepping
// over that many characters of the original text.
func trimByteLevelOffsets(e *seqEnc, addPrefixSpace bool) {
	isSpace := func(r rune) bool { return r == 'Ġ' || isWhitespace(r) }
	for i, tok := range e.tokens {
		lead, trail := 0, 0
		for _, r := range tok {
			if !isSpace(r) {
				break
			}
			lead++
		}
		for j := len(tok); j > 0; {
			r, sz := utf8.DecodeLastRuneInString(tok[:j])
			if !isSpace(r) {
				break
			}
			trail++
			j -= sz
		}
		if lead == 0 && trail == 0 {
			continue
		}
		off := &e.offsets[i]
		if lead > 0 {
			isFirst := i == 0 || off[0] == 0
			if isFirst && addPrefixSpace && lead == 1 {
				lead = 0
			}
			// min(start + lead chars, end)
			p := off[0]
			for k := 0; k < lead && p < off[1]; k++ {
				p += charLenAt(e.text, p)
			}
			off[0] = min(p, off[1])
		}
		if trail > 0 {
			// Only when end (in characters) >= trail: step back trail
			// characters, but not before start.
			p, k := off[1], 0
			for ; k < trail && p > 0; k++ {
				p -= charLenBefore(e.text, p)
			}
			if k == trail {
				off[1] = max(p, off[0])
			}
		}
	}
}

// charLenAt is the byte length of the character at byte offset p of s (1
// when s does not cover p, e.g. offsets without a source text).
func charLenAt(s string, p int) int {
	if p < 0 || p >= len(s) {
		return 1
	}
	_, sz := utf8.DecodeRuneInString(s[p:])
	return sz
}

func charLenBefore(s string, p int) int {
	if p <= 0 || p > len(s) {
		return 1
	}
	_, sz := utf8.DecodeLastRuneInString(s[:p])
	return sz
}

// ---- TemplateProcessing ----

type templatePiece struct {
	special bool
	seqB    bool   // for sequence pieces: B instead of A
	id      string // special token key
	typeID  int
}

type templateSpecial struct {
	ids    []int
	tokens []string
}

type templateProcessing struct {
	single, pair           []templatePiece
	specials               map[string]templateSpecial
	addedSingle, addedPair int
}

func (t *templatePiece) UnmarshalJSON(b []byte) error {
	var c struct {
		Sequence *struct {
			ID     string `json:"id"`
			TypeID int    `json:"type_id"`
		} `json:"Sequence"`
		SpecialToken *struct {
			ID     string `json:"id"`
			TypeID int    `json:"type_id"`
		} `json:"SpecialToken"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return err
	}
	switch {
	case c.Sequence != nil:
		switch c.Sequence.ID {
		case "A":
		case "B":
			t.seqB = true
		default:
			return fmt.Errorf("unknown sequence id %q", c.Sequence.ID)
		}
		t.typeID = c.Sequence.TypeID
	case c.SpecialToken != nil:
		t.special, t.id, t.typeID = true, c.SpecialToken.ID, c.SpecialToken.TypeID
	default:
		return fmt.Errorf("unknown template piece %s", b)
	}
	if t.typeID < 0 {
		return errors.New("negative type_id")
	}
	return nil
}

func newTemplateProcessing(raw json.RawMessage) (postProcessor, error) {
	var c struct {
		Single        []templatePiece `json:"single"`
		Pair          []templatePiece `json:"pair"`
		SpecialTokens map[string]struct {
			ID     string   `json:"id"`
			IDs    []int    `json:"ids"`
			Tokens []string `json:"tokens"`
		} `json:"special_tokens"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("tokenizer: TemplateProcessing: %w", err)
	}
	t := &templateProcessing{single: c.Single, pair: c.Pair, specials: map[string]templateSpecial{}}
	for k, v := range c.SpecialTokens {
		if len(v.IDs) != len(v.Tokens) {
			return nil, fmt.Errorf("tokenizer: TemplateProcessing: special token %q: ids and tokens must be of the same length", k)
		}
		t.specials[k] = templateSpecial{ids: v.IDs, tokens: v.Tokens}
	}
	count := func(tpl []templatePiece) (int, error) {
		n := 0
		for _, p := range tpl {
			if !p.special {
				continue
			}
			s, ok := t.specials[p.id]
			if !ok {
				// The crate would panic while encoding; refuse the file instead.
				return 0, fmt.Errorf("tokenizer: TemplateProcessing: missing special token %q", p.id)
			}
			n += len(s.ids)
		}
		return n, nil
	}
	var err error
	if t.addedSingle, err = count(t.single); err != nil {
		return nil, err
	}
	if t.addedPair, err = count(t.pair); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *templateProcessing) addedTokens(pair bool) int {
	if pair {
		return t.addedPair
	}
	return t.addedSingle
}

func (t *templateProcessing) processEncodings(ws *workspace, encs []*seqEnc, addSpecial bool) ([]*seqEnc, error) {
	var tpl []templatePiece
	switch len(encs) {
	case 1:
		tpl = t.single
	case 2:
		tpl = t.pair
	default:
		return nil, fmt.Errorf("tokenizer: TemplateProcessing: cannot process %d encodings", len(encs))
	}
	out := make([]*seqEnc, 0, len(tpl))
	used := 0
	for _, p := range tpl {
		if p.special {
			if !addSpecial {
				continue
			}
			s := t.specials[p.id]
			n := ws.newEnc()
			for i, id := range s.ids {
				n.push(id, p.typeID, s.tokens[i], [2]int{}, true)
			}
			out = append(out, n)
			continue
		}
		i := 0
		if p.seqB {
			i = 1
		}
		if i >= len(encs) {
			return nil, errors.New("tokenizer: TemplateProcessing: template uses sequence B without a pair")
		}
		// The first use of a sequence takes it over (it belongs to this
		// call); a template naming it again gets a copy.
		n := encs[i]
		if used&(1<<i) != 0 {
			n = ws.newEnc()
			n.appendEnc(encs[i])
		}
		used |= 1 << i
		n.setTypeIDs(p.typeID)
		out = append(out, n)
	}
	return out, nil
}

// ---- Sequence ----

type sequenceProcessing []postProcessor

func newSequenceProcessing(raw json.RawMessage) (postProcessor, error) {
	var c struct {
		Processors []json.RawMessage `json:"processors"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("tokenizer: post_processor Sequence: %w", err)
	}
	seq := make(sequenceProcessing, 0, len(c.Processors))
	for _, r := range c.Processors {
		p, err := buildPostProcessor(r)
		if err != nil {
			return nil, err
		}
		if p != nil {
			seq = append(seq, p)
		}
	}
	return seq, nil
}

func (s sequenceProcessing) addedTokens(pair bool) int {
	n := 0
	for _, p := range s {
		n += p.addedTokens(pair)
	}
	return n
}

func (s sequenceProcessing) processEncodings(ws *workspace, encs []*seqEnc, addSpecial bool) ([]*seqEnc, error) {
	var err error
	for _, p := range s {
		if encs, err = p.processEncodings(ws, encs, addSpecial); err != nil {
			return nil, err
		}
	}
	return encs, nil
}
