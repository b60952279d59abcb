package sie

// Multivector outputs: ColBERT in PyLate's layout (pylate.models.ColBERT:
// tokenize with markers and query expansion, Dense projection, skiplist,
// per-token normalisation) and BGE-M3's colbert_linear head (FlagEmbedding's
// _colbert_embedding / _process_colbert_vecs), plus late-interaction scoring.

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/sie-project/sie/arch"
	"github.com/sie-project/sie/tokenizer"
)

// multiHead is a model's multivector output: every token's hidden state
// projected and L2-normalised, then filtered on the host.
type multiHead struct {
	proj pooling // Dense modules only, applied per token
	dim  int

	// dropFirst drops the first token's vector (BGE-M3 returns none for <s>).
	dropFirst bool
	// meanOverQuery divides MaxSim by the number of query vectors
	// (FlagEmbedding's colbert_score); PyLate sums.
	meanOverQuery bool
	// pylate is set for ColBERT checkpoints in PyLate's layout.
	pylate *pylateConfig
}

// pylateConfig is what config_sentence_transformers.json sets for a PyLate
// ColBERT model, resolved against the tokenizer.
type pylateConfig struct {
	queryMarker, docMarker int32 // -1 when the prefix is empty
	queryLen, docLen       int
	expand                 bool // do_query_expansion: pad queries to queryLen with expansionID
	attendExpansion        bool // attend_to_expansion_tokens
	expansionID            int32
	skip                   map[int32]bool       // document tokens whose vectors are dropped
	qtok, dtok             *tokenizer.Tokenizer // truncating to the length before the marker
}

// pylateSettings is PyLate's part of config_sentence_transformers.json.
type pylateSettings struct {
	QueryPrefix     *string  `json:"query_prefix"`
	DocumentPrefix  *string  `json:"document_prefix"`
	QueryLength     int      `json:"query_length"`
	DocumentLength  int      `json:"document_length"`
	Expansion       *bool    `json:"do_query_expansion"`
	AttendExpansion *bool    `json:"attend_to_expansion_tokens"`
	Skiplist        []string `json:"skiplist_words"`
}

// hiddenTokenType marks, in a sequence's type ids, a token that is computed
// but never attended to (PyLate's query expansion with
// attend_to_expansion_tokens false). The graph turns it into a negative
// segment number (arch.Inputs) and type id 0.
const hiddenTokenType = -1

// readPylate reads a ColBERT model's settings the way pylate.models.ColBERT
// does, with PyLate's defaults for missing keys: prefixes "[Q] " / "[D] ",
// query length 32, document length 180, query expansion on, no attention
// to expansion tokens, and Python's string.punctuation as the skiplist.
func readPylate(dir string, m *model) (*pylateConfig, error) {
	var s pylateSettings
	if _, err := readJSON(filepath.Join(dir, "config_sentence_transformers.json"), &s); err != nil {
		return nil, err
	}
	return pylateFrom(dir, m, s)
}

// pylateFrom resolves ColBERT settings against the model's tokenizer.
func pylateFrom(dir string, m *model, s pylateSettings) (*pylateConfig, error) {
	str := func(p *string, def string) string {
		if p == nil {
			return def
		}
		return *p
	}
	c := &pylateConfig{queryLen: s.QueryLength, docLen: s.DocumentLength, expand: true}
	if c.queryLen <= 0 {
		c.queryLen = 32
	}
	if c.docLen <= 0 {
		c.docLen = 180
	}
	if s.Expansion != nil {
		c.expand = *s.Expansion
	}
	c.attendExpansion = c.expand && s.AttendExpansion != nil && *s.AttendExpansion
	marker := func(prefix string) (int32, error) {
		if prefix == "" {
			return -1, nil
		}
		id, ok := m.tok.TokenToID(prefix)
		if !ok {
			return 0, fmt.Errorf("%w: ColBERT prefix %q is not a token of the tokenizer", ErrInvalidModel, prefix)
		}
		return int32(id), nil
	}
	var err error
	if c.queryMarker, err = marker(str(s.QueryPrefix, "[Q] ")); err != nil {
		return nil, err
	}
	if c.docMarker, err = marker(str(s.DocumentPrefix, "[D] ")); err != nil {
		return nil, err
	}
	// The expansion token is the tokenizer's mask token, else its eos token.
	c.expansionID = -1
	for _, n := range []string{"mask_token", "eos_token"} {
		ids, err := specialTokenIDs(dir, m, n)
		if err != nil {
			return nil, err
		}
		for id := range ids {
			c.expansionID = id
		}
		if c.expansionID >= 0 {
			break
		}
	}
	if c.expand && c.expansionID < 0 {
		return nil, fmt.Errorf("%w: ColBERT query expansion needs a mask or eos token", ErrInvalidModel)
	}
	// transformers' convert_tokens_to_ids maps a word outside the
	// vocabulary to the unknown token, so PyLate skips that one then.
	words := s.Skiplist
	if words == nil {
		words = strings.Split(`!"#$%&'()*+,-./:;<=>?@[\]^_`+"`{|}~", "")
	}
	unk, _ := specialTokenIDs(dir, m, "unk_token")
	c.skip = map[int32]bool{}
	for _, w := range words {
		if id, ok := m.tok.TokenToID(w); ok {
			c.skip[int32(id)] = true
		} else {
			for id := range unk {
				c.skip[id] = true
			}
		}
	}
	limit := m.info.MaxPositions
	if limit <= 0 {
		limit = math.MaxInt
	}
	c.queryLen, c.docLen = min(c.queryLen, limit), min(c.docLen, limit)
	trunc := func(l int, marker int32) *tokenizer.Tokenizer {
		if marker >= 0 {
			l-- // PyLate truncates to L − 1 and inserts the marker
		}
		return m.tok.WithTruncation(&tokenizer.Truncation{MaxLength: l, Strategy: "LongestFirst", Direction: "Right"})
	}
	if c.queryLen < 3 || c.docLen < 3 {
		return nil, fmt.Errorf("%w: ColBERT query_length %d / document_length %d leave no room for text", ErrInvalidModel, c.queryLen, c.docLen)
	}
	c.qtok, c.dtok = trunc(c.queryLen, c.queryMarker), trunc(c.docLen, c.docMarker)
	return c, nil
}

// tokenize prepares texts as PyLate does: prompt, strip surrounding
// whitespace, tokenize truncating to L − 1, insert the marker after the
// first token, and expand queries to L with the expansion token.
func (c *pylateConfig) tokenize(m *model, texts []string, cfg *callConfig) ([]sequence, error) {
	tok, marker := c.dtok, c.docMarker
	if cfg.isQuery {
		tok, marker = c.qtok, c.queryMarker
	}
	seqs := make([]sequence, len(texts))
	for i, t := range texts {
		if !utf8.ValidString(t) {
			return nil, fmt.Errorf("%w: text %d is not valid UTF-8", ErrInvalidInput, i)
		}
		prepared, err := m.prompts.apply(t, cfg)
		if err != nil {
			return nil, err
		}
		enc, err := tok.Encode(strings.TrimSpace(prepared), true)
		if err != nil {
			return nil, fmt.Errorf("%w: text %d: %v", ErrInvalidInput, i, err)
		}
		s := toSequence(enc.IDs, make([]int, len(enc.IDs))) // PyLate: every token type is 0
		if marker >= 0 && len(s.ids) > 0 {
			s.ids = append(s.ids[:1], append([]int32{marker}, s.ids[1:]...)...)
			s.types = append(s.types, 0)
		}
		if cfg.isQuery && c.expand {
			typ := int32(hiddenTokenType)
			if c.attendExpansion {
				typ = 0
			}
			for len(s.ids) < c.queryLen {
				s.ids = append(s.ids, c.expansionID)
				s.types = append(s.types, typ)
			}
		}
		seqs[i] = s
	}
	return seqs, nil
}

// hidesTokens reports whether sequences may carry hiddenTokenType.
func (h *multiHead) hidesTokens() bool {
	return h != nil && h.pylate != nil && h.pylate.expand && !h.pylate.attendExpansion
}

// hideTokens turns hiddenTokenType into a negative segment number (a
// query-only token, see arch.Inputs) and type id 0.
func hideTokens(types, segments *graph.Node) (*graph.Node, *graph.Node) {
	g := types.Graph()
	hidden := graph.LessThan(types, graph.ScalarZero(g, types.DType()))
	return graph.Where(hidden, graph.ScalarZero(g, types.DType()), types), graph.Where(hidden, graph.Neg(segments), segments)
}

// graph projects and normalises every token: hidden [B, T, H] → [B, T, dim].
func (h *multiHead) graph(p arch.Params, hidden *graph.Node) *graph.Node {
	return l2Normalize(h.proj.project(p, hidden))
}

// decode copies each sequence's token vectors out of [B, T, dim].
func (h *multiHead) decode(t *tensors.Tensor, b *deviceBatch) ([][][]float32, error) {
	flat, err := tensors.CopyFlatData[float32](t)
	if err != nil {
		return nil, joinKind(ErrBackend, err)
	}
	out := make([][][]float32, len(b.where))
	for i, w := range b.where {
		vecs := make([][]float32, b.seqLen[i])
		for k := range vecs {
			off := (w[0]*b.length + b.start[i] + k) * h.dim
			vecs[k] = append([]float32(nil), flat[off:off+h.dim]...)
		}
		out[i] = vecs
	}
	return out, nil
}

// keep selects the vectors a caller gets from all token vectors of a
// sequence: BGE-M3 drops <s>; PyLate keeps every query vector (expansions
// included) and drops skiplist tokens from documents.
func (h *multiHead) keep(s sequence, vecs [][]float32, isQuery bool) [][]float32 {
	switch {
	case h.dropFirst && len(vecs) > 0:
		return vecs[1:]
	case h.pylate != nil && !isQuery:
		kept := vecs[:0:0]
		for k, v := range vecs {
			if !h.pylate.skip[s.ids[k]] {
				kept = append(kept, v)
			}
		}
		return kept
	}
	return vecs
}

// MaxSim is ColBERT's late-interaction score: the sum over the query
// vectors of the largest inner product with any document vector. A document
// without vectors scores 0.
func MaxSim(query, doc [][]float32) float32 {
	if len(doc) == 0 {
		return 0
	}
	var sum float64
	for _, q := range query {
		best := math.Inf(-1)
		for _, d := range doc {
			best = max(best, dot64(q, d))
		}
		sum += best
	}
	return float32(sum)
}

func dot64(a, b []float32) float64 {
	var s float64
	for i := range min(len(a), len(b)) {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}
