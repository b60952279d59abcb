package sie

import (
	"context"
	"fmt"

	"github.com/sie-project/sie/tokenizer"
)

// TokenEncoding is one input as the model's tokenizer encodes it, special
// tokens added and truncated to the model's maximum length (the same
// encoding Embed and Rerank feed the model, before any prompt is applied:
// the text is taken as it is). Engine.Tokenize, by contrast, applies the
// call's prompt and does not truncate, for callers that count tokens.
type TokenEncoding struct {
	IDs     []int    `json:"ids"`
	TypeIDs []int    `json:"type_ids"`
	Tokens  []string `json:"tokens"`
	// Offsets are byte offsets [start, end) into the input text the token
	// came from (the first or second text of a pair); [0, 0] for special
	// tokens.
	Offsets [][2]int `json:"offsets"`
}

// EncodeTokens encodes texts with the model's tokenizer and truncation,
// loading the model if needed.
func (e *Engine) EncodeTokens(ctx context.Context, model string, texts []string) ([]TokenEncoding, error) {
	return e.encodeTokens(ctx, model, len(texts), func(t *tokenizer.Tokenizer, i int) (*tokenizer.Encoding, error) {
		return t.Encode(texts[i], true)
	})
}

// EncodeTokenPairs encodes text pairs (such as a query and a document for a
// cross-encoder) with the model's tokenizer and truncation.
func (e *Engine) EncodeTokenPairs(ctx context.Context, model string, pairs [][2]string) ([]TokenEncoding, error) {
	return e.encodeTokens(ctx, model, len(pairs), func(t *tokenizer.Tokenizer, i int) (*tokenizer.Encoding, error) {
		return t.EncodePair(pairs[i][0], pairs[i][1], true)
	})
}

func (e *Engine) encodeTokens(ctx context.Context, model string, n int, enc func(*tokenizer.Tokenizer, int) (*tokenizer.Encoding, error)) ([]TokenEncoding, error) {
	l, err := e.acquire(ctx, model)
	if err != nil {
		return nil, err
	}
	defer e.release(l)
	out := make([]TokenEncoding, n)
	for i := range n {
		en, err := enc(l.m.tok, i)
		if err != nil {
			return nil, modelErr(model, "tokenize", fmt.Errorf("%w: input %d: %v", ErrInvalidInput, i, err))
		}
		out[i] = TokenEncoding{IDs: en.IDs, TypeIDs: en.TypeIDs, Tokens: en.Tokens, Offsets: en.Offsets}
	}
	return out, nil
}
