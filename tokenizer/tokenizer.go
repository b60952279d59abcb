package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"sync"
	"unicode/utf8"
	"unsafe"
)

// Errors returned by Encode and friends. Truncation errors carry the same
// meaning as the Rust crate's TruncationError variants.
var (
	// ErrInvalidUTF8 is wrapped by encode errors when an input is not valid
	// UTF-8 (the Rust crate only ever sees valid strings).
	ErrInvalidUTF8 = errors.New("tokenizer: input is not valid UTF-8")
	// ErrSequenceTooShort: the sequence that the strategy allows to truncate
	// is too short to respect max_length.
	ErrSequenceTooShort = errors.New("tokenizer: truncation error: sequence to truncate too short to respect the provided max_length")
	// ErrSecondSequenceNotProvided: strategy OnlySecond on a single sequence
	// that needs truncating.
	ErrSecondSequenceNotProvided = errors.New("tokenizer: truncation error: second sequence not provided")
)

// Encoding is the result of encoding one input (or one pair).
type Encoding struct {
	IDs, TypeIDs, AttentionMask, SpecialTokensMask []int
	Tokens                                         []string
	// Offsets are byte offsets into the ORIGINAL input string the token came
	// from (the first or the second text of a pair); [0,0] for special
	// tokens added by the post-processor.
	Offsets [][2]int
}

// Tokenizer encodes text as described by a tokenizer.json file. It is
// immutable and safe for concurrent use.
type Tokenizer struct {
	normalizer    normalizer
	preTokenizer  preTokenizer
	model         model
	postProcessor postProcessor
	decoder       decoder // parsed and checked; encoding does not use it
	added         *addedVocab
	truncation    *Truncation
	padding       *Padding
	vocabSize     int
	pool          *sync.Pool
}

// FromFile loads a tokenizer.json file.
func FromFile(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return FromJSON(data)
}

// FromJSON parses the contents of a tokenizer.json file. Any component whose
// "type" is not implemented makes it fail with an error naming the type.
func FromJSON(data []byte) (*Tokenizer, error) {
	var top struct {
		Version       *string         `json:"version"`
		Truncation    json.RawMessage `json:"truncation"`
		Padding       json.RawMessage `json:"padding"`
		AddedTokens   json.RawMessage `json:"added_tokens"`
		Normalizer    json.RawMessage `json:"normalizer"`
		PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
		Model         json.RawMessage `json:"model"`
		PostProcessor json.RawMessage `json:"post_processor"`
		Decoder       json.RawMessage `json:"decoder"`
	}
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if top.Version != nil && *top.Version != "1.0" {
		return nil, fmt.Errorf("tokenizer: unknown tokenizer version %q", *top.Version)
	}
	t := &Tokenizer{pool: newPool()}
	var err error
	if t.truncation, err = parseTruncation(top.Truncation); err != nil {
		return nil, err
	}
	if t.padding, err = parsePadding(top.Padding); err != nil {
		return nil, err
	}
	if t.normalizer, err = buildNormalizer(top.Normalizer); err != nil {
		return nil, err
	}
	if t.preTokenizer, err = buildPreTokenizer(top.PreTokenizer); err != nil {
		return nil, err
	}
	if t.model, err = buildModel(top.Model); err != nil {
		return nil, err
	}
	if t.postProcessor, err = buildPostProcessor(top.PostProcessor); err != nil {
		return nil, err
	}
	if t.decoder, err = buildDecoder(top.Decoder); err != nil {
		return nil, err
	}
	toks, err := parseAddedTokens(top.AddedTokens)
	if err != nil {
		return nil, err
	}
	if t.added, err = newAddedVocab(toks, t.model, t.normalizer); err != nil {
		return nil, err
	}
	// get_vocab_size(true): distinct strings among the model vocabulary and
	// the added tokens.
	t.vocabSize = t.model.size()
	for c := range t.added.byContent {
		if _, ok := t.model.tokenToID(c); !ok {
			t.vocabSize++
		}
	}
	// The post-processor adds its special tokens by id, whatever the
	// vocabulary holds (BertProcessing defaults to 101 and 102): an id
	// outside the vocabulary would index past the model's embedding table.
	for _, enc := range []func() (*Encoding, error){
		func() (*Encoding, error) { return t.Encode("", true) },
		func() (*Encoding, error) { return t.EncodePair("", "", true) },
	} {
		e, err := enc()
		if err != nil {
			continue // a template that cannot apply fails at Encode too
		}
		for _, id := range e.IDs {
			if id < 0 || id >= t.vocabSize {
				return nil, fmt.Errorf("tokenizer: post-processor adds token id %d, outside the vocabulary of %d tokens", id, t.vocabSize)
			}
		}
	}
	return t, nil
}

// Truncation returns the truncation settings in effect (nil when disabled).
func (t *Tokenizer) Truncation() *Truncation {
	if t.truncation == nil {
		return nil
	}
	c := *t.truncation
	return &c
}

// Padding returns the file's padding block (nil when absent). Encode never pads.
func (t *Tokenizer) Padding() *Padding {
	if t.padding == nil {
		return nil
	}
	c := *t.padding
	return &c
}

// WithTruncation returns a copy of t, sharing its vocabulary, that truncates
// with tr (nil disables truncation). Invalid settings make Encode fail.
func (t *Tokenizer) WithTruncation(tr *Truncation) *Tokenizer {
	c := *t
	c.pool = newPool()
	if tr != nil {
		cp := *tr
		c.truncation = &cp
	} else {
		c.truncation = nil
	}
	return &c
}

// TokenToID returns the id of a token (added tokens first, then the model).
func (t *Tokenizer) TokenToID(tok string) (int, bool) {
	if id, ok := t.added.byContent[tok]; ok {
		return id, true
	}
	return t.model.tokenToID(tok)
}

// IDToToken returns the token of an id (added tokens first, then the model).
// Like the crate, a normalized added token is returned in normalized form.
func (t *Tokenizer) IDToToken(id int) (string, bool) {
	if a, ok := t.added.byID[id]; ok {
		return a.pattern, true
	}
	return t.model.idToToken(id)
}

// VocabSize is the vocabulary size including added tokens (the crate's
// get_vocab_size(true)).
func (t *Tokenizer) VocabSize() int { return t.vocabSize }

// NumSpecialTokensToAdd is how many tokens the post-processor adds to a
// single sequence (pair=false) or a pair.
func (t *Tokenizer) NumSpecialTokensToAdd(pair bool) int {
	if t.postProcessor == nil {
		return 0
	}
	return t.postProcessor.addedTokens(pair)
}

// Encode encodes one text. With addSpecialTokens the post-processor adds its
// special tokens ([CLS] ... [SEP] etc.). An empty text yields only special
// tokens. Invalid UTF-8 input returns an error wrapping ErrInvalidUTF8.
func (t *Tokenizer) Encode(text string, addSpecialTokens bool) (*Encoding, error) {
	return t.encode(text, "", false, addSpecialTokens)
}

// EncodePair encodes a pair of texts (e.g. query and passage for a
// cross-encoder). Offsets of the second text's tokens refer to b.
func (t *Tokenizer) EncodePair(a, b string, addSpecialTokens bool) (*Encoding, error) {
	return t.encode(a, b, true, addSpecialTokens)
}

// EncodeBatch encodes texts in parallel. On failure it returns the first
// error (by input index).
func (t *Tokenizer) EncodeBatch(texts []string, addSpecialTokens bool) ([]*Encoding, error) {
	out := make([]*Encoding, len(texts))
	errs := make([]error, len(texts))
	workers := runtime.GOMAXPROCS(0)
	if workers > len(texts) {
		workers = len(texts)
	}
	if workers <= 1 {
		for i, s := range texts {
			if out[i], errs[i] = t.Encode(s, addSpecialTokens); errs[i] != nil {
				return nil, fmt.Errorf("tokenizer: input %d: %w", i, errs[i])
			}
		}
		return out, nil
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= len(texts) {
					return
				}
				out[i], errs[i] = t.Encode(texts[i], addSpecialTokens)
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("tokenizer: input %d: %w", i, err)
		}
	}
	return out, nil
}

func (t *Tokenizer) encode(a, b string, pair, addSpecial bool) (enc *Encoding, err error) {
	if !utf8.ValidString(a) || (pair && !utf8.ValidString(b)) {
		return nil, ErrInvalidUTF8
	}
	if len(a) > math.MaxInt32/2 || len(b) > math.MaxInt32/2 {
		return nil, errors.New("tokenizer: input too long")
	}
	if t.truncation != nil {
		if err := t.truncation.validate(); err != nil {
			return nil, err
		}
	}
	ws := t.pool.Get().(*workspace)
	defer func() {
		ws.release()
		t.pool.Put(ws)
	}()

	ea := ws.newEnc()
	if err := t.encodeSequence(ws, a, 0, ea); err != nil {
		return nil, err
	}
	encs := ws.encList[:0]
	encs = append(encs, ea)
	if pair {
		eb := ws.newEnc()
		if err := t.encodeSequence(ws, b, 1, eb); err != nil {
			return nil, err
		}
		encs = append(encs, eb)
	}
	ws.encList = encs
	if err := t.truncate(encs, addSpecial); err != nil {
		return nil, err
	}
	return t.postProcess(ws, encs, addSpecial)
}

// encodeSequence runs added-token extraction, normalization,
// pre-tokenization and the model over one text.
func (t *Tokenizer) encodeSequence(ws *workspace, text string, typeID int, out *seqEnc) error {
	out.text = text
	splits := ws.splits[:0]
	// 1. Added tokens matched on the raw text (normalized=false).
	// The matcher only reads its input, so view the string's bytes in place.
	raw := unsafe.Slice(unsafe.StringData(text), len(text))
	ws.matches, ws.matchIDs = t.added.findMatches(raw, t.added.raw, ws.matches[:0], ws.matchIDs[:0])
	rawMatches := append(ws.rawMatches[:0], ws.matches...)
	rawIDs := append(ws.rawIDs[:0], ws.matchIDs...)
	ws.rawMatches, ws.rawIDs = rawMatches, rawIDs
	for k, m := range rawMatches {
		if m.start == m.end {
			continue
		}
		if id := rawIDs[k]; id >= 0 {
			splits = append(splits, split{added: id, value: text[m.start:m.end], off: span{int32(m.start), int32(m.end)}})
			continue
		}
		// 2. Normalize the remaining pieces one by one, then match the
		// normalized added tokens inside them.
		n := ws.newNormalized()
		n.reset(text[m.start:m.end], m.start)
		if t.normalizer != nil {
			if err := t.normalizer.normalize(ws, n); err != nil {
				return err
			}
		}
		if len(n.s) == 0 {
			continue
		}
		if t.added.norm == nil {
			splits = append(splits, split{n: n, start: 0, end: len(n.s), added: -1})
			continue
		}
		ws.matches, ws.matchIDs = t.added.findMatches(n.s, t.added.norm, ws.matches[:0], ws.matchIDs[:0])
		for j, nm := range ws.matches {
			if nm.start == nm.end {
				continue
			}
			if id := ws.matchIDs[j]; id >= 0 {
				var v string
				if a := t.added.byID[id]; a != nil && a.pattern == string(n.s[nm.start:nm.end]) {
					v = a.pattern // the usual case; no allocation
				} else {
					v = string(n.s[nm.start:nm.end])
				}
				splits = append(splits, split{added: id, value: v,
					off: span{n.align[nm.start].start, n.align[nm.end-1].end}})
				continue
			}
			splits = append(splits, split{n: n, start: nm.start, end: nm.end, added: -1})
		}
	}
	ws.splits = splits

	// 3. Pre-tokenize.
	if t.preTokenizer != nil {
		var err error
		out2, err := t.preTokenizer.preTokenize(ws, splits, ws.splits2[:0])
		if err != nil {
			return err
		}
		ws.splits2 = out2
		splits = out2
	}

	// 4. Model, with the crate's early exit when truncating: stop
	// tokenizing once max_length tokens exist (counted over whole splits).
	limit, left := -1, false
	if tr := t.truncation; tr != nil && (tr.Strategy != "OnlySecond" || typeID != 0) {
		limit, left = tr.MaxLength, tr.Direction == "Left"
	}
	first, last := 0, len(splits)
	if limit >= 0 {
		total := 0
		if left {
			first = len(splits)
			for i := len(splits) - 1; i >= 0; i-- {
				first = i
				if splits[i].added >= 0 {
					total++
					continue
				}
				var err error
				if total, err = t.countTokens(ws, &splits[i], total); err != nil {
					return err
				}
				if total >= limit {
					break
				}
			}
		} else {
			last = 0
			for i := range splits {
				last = i + 1
				if splits[i].added >= 0 {
					total++
					continue
				}
				var err error
				if total, err = t.countTokens(ws, &splits[i], total); err != nil {
					return err
				}
				if total >= limit {
					break
				}
			}
		}
	}
	for i := first; i < last; i++ {
		sp := &splits[i]
		if sp.added >= 0 {
			ws.inputRefs = true
			out.push(sp.added, typeID, sp.value, [2]int{int(sp.off.start), int(sp.off.end)}, false)
			continue
		}
		toks, err := t.tokensOf(ws, sp)
		if err != nil {
			return err
		}
		for _, tk := range toks {
			a := sp.n.align[sp.start+tk.start]
			z := sp.n.align[sp.start+tk.end-1]
			out.push(tk.id, typeID, tk.value, [2]int{int(a.start), int(z.end)}, false)
		}
	}
	return nil
}

// tokensOf returns the model tokens of a split, reusing a cached result
// from the early-exit pass when there is one.
func (t *Tokenizer) tokensOf(ws *workspace, sp *split) ([]token, error) {
	if sp.cached {
		return ws.tokCache[sp.tokStart:sp.tokEnd], nil
	}
	var err error
	ws.tokens, err = t.model.tokenize(ws, sp.n.s[sp.start:sp.end], ws.tokens[:0])
	return ws.tokens, err
}

func (t *Tokenizer) countTokens(ws *workspace, sp *split, total int) (int, error) {
	start := len(ws.tokCache)
	var err error
	ws.tokCache, err = t.model.tokenize(ws, sp.n.s[sp.start:sp.end], ws.tokCache)
	if err != nil {
		return total, err
	}
	sp.cached, sp.tokStart, sp.tokEnd = true, start, len(ws.tokCache)
	return total + len(ws.tokCache) - start, nil
}

// truncate applies the crate's truncate_encodings before post-processing.
func (t *Tokenizer) truncate(encs []*seqEnc, addSpecial bool) error {
	tr := t.truncation
	if tr == nil {
		return nil
	}
	maxLen := tr.MaxLength
	if n := t.NumSpecialTokensToAdd(len(encs) == 2); addSpecial && n > 0 {
		if maxLen < n {
			// The crate subtracts with wrapping usize arithmetic: the budget
			// becomes huge and nothing is truncated.
			return nil
		}
		maxLen -= n
	}
	left := tr.Direction == "Left"
	if maxLen == 0 {
		for _, e := range encs {
			e.truncate(0, left)
		}
		return nil
	}
	total := 0
	for _, e := range encs {
		total += e.len()
	}
	if total <= maxLen {
		return nil
	}
	toRemove := total - maxLen
	switch tr.Strategy {
	case "OnlyFirst", "OnlySecond":
		i := 0
		if tr.Strategy == "OnlySecond" {
			if len(encs) < 2 {
				return ErrSecondSequenceNotProvided
			}
			i = 1
		}
		if encs[i].len() <= toRemove {
			return ErrSequenceTooShort
		}
		encs[i].truncate(encs[i].len()-toRemove, left)
	default: // LongestFirst
		if len(encs) == 1 {
			encs[0].truncate(total-toRemove, left)
			return nil
		}
		n1, n2 := encs[0].len(), encs[1].len()
		swap := n1 > n2
		if swap {
			n1, n2 = n2, n1
		}
		if n1 > maxLen {
			n2 = n1
		} else {
			n2 = max(n1, maxLen-n1)
		}
		if n1+n2 > maxLen {
			n1 = maxLen / 2
			n2 = n1 + maxLen%2
		}
		if swap {
			n1, n2 = n2, n1
		}
		encs[0].truncate(n1, left)
		encs[1].truncate(n2, left)
	}
	return nil
}

// postProcess adds special tokens (or merges plainly without a
// post-processor) and copies the result out of the workspace.
func (t *Tokenizer) postProcess(ws *workspace, encs []*seqEnc, addSpecial bool) (*Encoding, error) {
	if t.postProcessor != nil {
		// The crate's PostProcessor::process resets type ids to the
		// sequence index before process_encodings.
		for i, e := range encs {
			e.setTypeIDs(i)
		}
		var err error
		if encs, err = t.postProcessor.processEncodings(ws, encs, addSpecial); err != nil {
			return nil, err
		}
	}
	n := 0
	for _, e := range encs {
		n += e.len()
	}
	// One backing array for the four int slices (capped so that appending
	// to one cannot overwrite another).
	ints := make([]int, 4*n)
	out := &Encoding{
		IDs:               ints[0:0:n],
		TypeIDs:           ints[n : n : 2*n],
		AttentionMask:     ints[2*n : 2*n : 3*n],
		SpecialTokensMask: ints[3*n : 3*n : 4*n],
		Tokens:            make([]string, 0, n),
		Offsets:           make([][2]int, 0, n),
	}
	for _, e := range encs {
		out.IDs = append(out.IDs, e.ids...)
		out.TypeIDs = append(out.TypeIDs, e.typeIDs...)
		out.AttentionMask = append(out.AttentionMask, e.am...)
		out.SpecialTokensMask = append(out.SpecialTokensMask, e.stm...)
		out.Tokens = append(out.Tokens, e.tokens...)
		out.Offsets = append(out.Offsets, e.offsets...)
	}
	return out, nil
}

// ---- workspace: per-call scratch memory, pooled ----

type workspace struct {
	norms  []*normalized
	nNorm  int
	encs   []*seqEnc
	nEnc   int
	splits []split
	// splits2 receives the pre-tokenizer output; spare split buffers serve
	// nested Sequence pre-tokenizers.
	splits2                     []split
	spare                       [][]split
	matches                     []match
	matchIDs                    []int
	rawMatches                  []match
	rawIDs                      []int
	tokens                      []token
	tokCache                    []token
	encList                     []*seqEnc
	changes, changes2, changes3 []runeChange
	pending                     []cccEntry
	// inputRefs: some token string of this call refers to the input.
	inputRefs bool
}

func newWorkspace() *workspace { return &workspace{} }

func newPool() *sync.Pool {
	return &sync.Pool{New: func() any { return newWorkspace() }}
}

func (ws *workspace) newNormalized() *normalized {
	if ws.nNorm == len(ws.norms) {
		ws.norms = append(ws.norms, &normalized{})
	}
	n := ws.norms[ws.nNorm]
	ws.nNorm++
	return n
}

func (ws *workspace) newEnc() *seqEnc {
	if ws.nEnc == len(ws.encs) {
		ws.encs = append(ws.encs, &seqEnc{})
	}
	e := ws.encs[ws.nEnc]
	ws.nEnc++
	e.reset()
	return e
}

func (ws *workspace) getSplits() []split {
	if k := len(ws.spare); k > 0 {
		s := ws.spare[k-1]
		ws.spare = ws.spare[:k-1]
		return s[:0]
	}
	return nil
}

func (ws *workspace) putSplits(s []split) { ws.spare = append(ws.spare, s[:0]) }

// release forgets per-call state; buffers are kept for reuse unless a huge
// input made them large enough to be worth dropping.
func (ws *workspace) release() {
	const keep = 1 << 16
	ws.nNorm, ws.nEnc = 0, 0
	ws.tokCache = ws.tokCache[:0]
	clear(ws.splits)
	clear(ws.splits2)
	clear(ws.encList)
	for _, n := range ws.norms {
		if cap(n.s) > keep {
			*n = normalized{}
		}
	}
	for _, e := range ws.encs {
		if cap(e.ids) > keep {
			*e = seqEnc{}
		}
		// Added-token strings may point into the caller's input; drop them
		// so a pooled workspace does not keep inputs alive.
		if ws.inputRefs {
			clear(e.tokens[:cap(e.tokens)])
		}
		e.text = ""
	}
	ws.inputRefs = false
	if cap(ws.splits) > keep {
		ws.splits, ws.splits2 = nil, nil
	}
	if cap(ws.tokCache) > keep {
		ws.tokCache = nil
	}
}
