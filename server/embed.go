package server

// Shared by the embedding routes of every dialect: polymorphic inputs,
// truncation policies, Matryoshka dimensions and quantized outputs.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"

	"github.com/sie-project/sie"
)

// inputs is OpenAI's and TEI's "input"/"inputs": a string, an array of
// strings, an array of token ids or an array of arrays of token ids.
type inputs struct {
	texts []string
	ids   [][]int
	set   bool
}

func (in *inputs) UnmarshalJSON(data []byte) error {
	in.set = true
	data = bytes.TrimSpace(data)
	if bytes.Equal(data, []byte("null")) {
		in.set = false
		return nil
	}
	var s string
	if json.Unmarshal(data, &s) == nil {
		in.texts = []string{s}
		return nil
	}
	var ss []string
	if json.Unmarshal(data, &ss) == nil {
		in.texts = ss
		if ss == nil {
			in.texts = []string{}
		}
		return nil
	}
	var ids []int
	if json.Unmarshal(data, &ids) == nil {
		in.ids = [][]int{ids}
		return nil
	}
	var idss [][]int
	if json.Unmarshal(data, &idss) == nil {
		in.ids = idss
		return nil
	}
	return &fieldError{field: "input", msg: "input must be a string, an array of strings, an array of token ids or an array of arrays of token ids"}
}

// truncation says what to do with an input longer than the model's maximum.
type truncation int

const (
	truncRight truncation = iota // drop tokens at the end (sie's and TEI's default)
	truncLeft                    // drop tokens at the start
	truncNone                    // refuse the input
)

// denseRequest is one dense embedding call, whatever the dialect.
type denseRequest struct {
	model    string // backend name
	texts    []string
	ids      [][]int // pre-tokenized inputs instead of texts
	opts     []sie.Option
	trunc    truncation
	dims     int  // 0: full dimension
	renorm   bool // re-normalise after cutting to dims
	limit    int  // tokens per input below the model's maximum (0: the maximum)
	param    string
	tooLongF func(i, n, max int) string // the dialect's message for truncNone
}

// denseResult holds the vectors and the tokens they were computed from.
type denseResult struct {
	vecs   [][]float32
	tokens int
	info   sie.ModelInfo
}

// embedDense tokenizes, applies the truncation policy and embeds. Texts go
// through Tokenize and EmbedIDs, so the tokens counted for usage are the
// tokens embedded; without truncation the result equals Embed's.
func (s *Server) embedDense(ctx context.Context, req denseRequest) (*denseResult, error) {
	info, err := s.b.Info(ctx, req.model)
	if err != nil {
		return nil, err
	}
	if info.Outputs&sie.Dense == 0 {
		return nil, &apiError{kind: kindWrongModel, param: "model", code: codeInvalidInput,
			msg: fmt.Sprintf("the model %q gives no dense embeddings (it is %s); use a rerank route or an embedding model", req.model, describe(info))}
	}
	if req.dims < 0 || req.dims > info.Dims {
		return nil, invalid("dimensions", "dimensions must be between 1 and the model's %d, got %d", info.Dims, req.dims)
	}
	ids := req.ids
	res := &denseResult{info: info}
	if ids == nil {
		toks, err := s.b.Tokenize(ctx, req.model, req.texts, req.opts...)
		if err != nil {
			return nil, err
		}
		maxLen := info.MaxLength
		if req.limit > 0 && req.limit < maxLen {
			maxLen = req.limit
		}
		ids = make([][]int, len(toks))
		for i, t := range toks {
			if len(t) > maxLen {
				switch req.trunc {
				case truncNone:
					msg := fmt.Sprintf("input %d has %d tokens, more than the maximum of %d; shorten it or ask for truncation", i, len(t), maxLen)
					if req.tooLongF != nil {
						msg = req.tooLongF(i, len(t), maxLen)
					}
					return nil, invalid(req.param, "%s", msg)
				default:
					t = truncateTokens(t, maxLen, req.trunc == truncLeft)
				}
			}
			ids[i] = make([]int, len(t))
			for k, tok := range t {
				ids[i][k] = tok.ID
			}
		}
	}
	for _, x := range ids {
		res.tokens += len(x)
	}
	vecs, err := s.b.EmbedIDs(ctx, req.model, ids)
	if err != nil {
		return nil, err
	}
	for i, v := range vecs {
		vecs[i] = cutDims(v, req.dims, req.renorm)
	}
	res.vecs = vecs
	return res, nil
}

// truncateTokens keeps the leading and trailing special tokens and as many
// of the tokens between them as fit, from the start (right truncation) or
// from the end (left truncation).
func truncateTokens(t []sie.Token, max int, left bool) []sie.Token {
	lead := 0
	for lead < len(t) && t[lead].Special {
		lead++
	}
	trail := 0
	for trail < len(t)-lead && t[len(t)-1-trail].Special {
		trail++
	}
	keep := max - lead - trail
	if keep < 0 {
		keep = 0
	}
	body := t[lead : len(t)-trail]
	if left {
		body = body[len(body)-keep:]
	} else {
		body = body[:keep]
	}
	out := make([]sie.Token, 0, max)
	out = append(out, t[:lead]...)
	out = append(out, body...)
	return append(out, t[len(t)-trail:]...)
}

// cutDims keeps the first dims values (all for 0) and, with renorm,
// L2-normalises what is left.
func cutDims(v []float32, dims int, renorm bool) []float32 {
	if dims > 0 && dims < len(v) {
		v = v[:dims:dims]
	}
	if renorm {
		v = l2(v)
	}
	return v
}

// l2 returns v scaled to unit length (as sentence-transformers' Normalize,
// with its 1e-12 floor).
func l2(v []float32) []float32 {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	norm := math.Max(math.Sqrt(ss), 1e-12)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) / norm)
	}
	return out
}

// base64Floats encodes v as little-endian float32 bytes in standard base64,
// as OpenAI's encoding_format "base64" and Cohere's "base64" type.
func base64Floats(v []float32) string {
	buf := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(x))
	}
	return base64.StdEncoding.EncodeToString(buf)
}

// describe names what a model is, for error messages.
func describe(info sie.ModelInfo) string {
	if info.CrossEncoder {
		return "a cross-encoder: " + info.Architecture
	}
	return fmt.Sprintf("%s giving %s", info.Architecture, info.Outputs)
}

// promptOpts are the options of a compatible route: no prompt unless the
// request names one.
func promptOpts(promptName string) []sie.Option {
	if promptName != "" {
		return []sie.Option{sie.NoPrompt(), sie.Prompt(promptName)}
	}
	return []sie.Option{sie.NoPrompt()}
}
