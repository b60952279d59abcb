package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/sie-project/sie"
)

// Client reaches a shared `sie serve` over sie's own routes. It has the
// Engine's method set (it satisfies sie.Service), so moving a Go service
// from an in-process Engine to a shared server is a change of constructor:
//
//	var svc sie.Service = eng                                  // in-process
//	svc = server.NewClient("http://gpu-box:8080", server.ClientOptions{}) // shared
//
// Errors come back as the same sentinels (errors.Is(err,
// sie.ErrInvalidInput), sie.ErrModelNotFound, sie.ErrOverloaded, …) inside
// a *sie.ModelError. A Client is safe for concurrent use.
type Client struct {
	base string
	hc   *http.Client
	key  string
}

var _ sie.Service = (*Client)(nil)

// ClientOptions configures a Client. The zero value uses
// http.DefaultClient and no API key.
type ClientOptions struct {
	// HTTPClient sends the requests; nil means http.DefaultClient. Give it
	// NewTransport's RoundTripper to talk to an in-process server.
	HTTPClient *http.Client
	// APIKey is sent as "Authorization: Bearer <key>" when set.
	APIKey string
}

// NewClient returns a client of the server at baseURL (scheme, host and
// any path prefix the server is mounted under).
func NewClient(baseURL string, opts ClientOptions) *Client {
	hc := opts.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), hc: hc, key: opts.APIKey}
}

// rerankOnly names the Rerank-only options set in c.
func rerankOnly(c sie.CallOptions) []string {
	var names []string
	if c.TopK != 0 {
		names = append(names, "TopK")
	}
	if c.ScoreActivation != "" {
		names = append(names, "ScoreActivation")
	}
	if c.ScoreBy != "" {
		names = append(names, "ScoreBy")
	}
	if c.HybridWeights != nil {
		names = append(names, "HybridWeights")
	}
	return names
}

// Embed returns one dense vector per text, as Engine.Embed does.
func (c *Client) Embed(ctx context.Context, model string, texts []string, opts ...sie.Option) ([][]float32, error) {
	co := sie.ReadOptions(opts...)
	if names := rerankOnly(co); len(names) > 0 {
		return nil, &sie.ModelError{Model: model, Op: "embed", Err: fmt.Errorf("%w: %s applies to Rerank only", sie.ErrInvalidInput, strings.Join(names, ", "))}
	}
	encs, err := c.encode(ctx, "embed", model, texts, EncodeParams{OutputTypes: []string{"dense"}, IsQuery: co.IsQuery,
		Instruction: co.Instruction, PromptName: co.Prompt, NoPrompt: co.NoPrompt})
	if err != nil {
		return nil, err
	}
	vecs := make([][]float32, len(encs))
	for i, e := range encs {
		if e.Dense == nil {
			return nil, &sie.ModelError{Model: model, Op: "embed", Err: fmt.Errorf("%w: item %d has no dense vector", sie.ErrBackend, i)}
		}
		vecs[i] = e.Dense.Values
		if vecs[i] == nil {
			vecs[i] = []float32{}
		}
	}
	return vecs, nil
}

// Encode computes the requested outputs for every item, as Engine.Encode
// does.
func (c *Client) Encode(ctx context.Context, model string, items []string, opts sie.EncodeOptions) ([]sie.Encoding, error) {
	p := EncodeParams{IsQuery: opts.IsQuery, Instruction: opts.Instruction, PromptName: opts.Prompt,
		NoPrompt: opts.NoPrompt, Dims: opts.Dims}
	if opts.Outputs != 0 {
		p.OutputTypes = strings.Split(opts.Outputs.String(), "|")
	}
	if opts.DType != sie.Float32 {
		p.OutputDType = opts.DType.String()
	}
	encs, err := c.encode(ctx, "encode", model, items, p)
	if err != nil {
		return nil, err
	}
	out := make([]sie.Encoding, len(encs))
	for i, e := range encs {
		o := &out[i]
		if d := e.Dense; d != nil {
			if d.DType == "float32" {
				o.Dense = nonNil(d.Values)
			} else {
				q, err := d.quantized()
				if err != nil {
					return nil, &sie.ModelError{Model: model, Op: "encode", Err: err}
				}
				o.Quantized = &q
			}
		}
		o.Sparse = e.Sparse
		if o.Sparse != nil {
			o.Sparse.Indices = nonNil(o.Sparse.Indices)
			o.Sparse.Values = nonNil(o.Sparse.Values)
		}
		if e.Multivector != nil {
			if opts.DType == sie.Float32 {
				o.Multivector = make([][]float32, len(e.Multivector))
				for k, v := range e.Multivector {
					o.Multivector[k] = nonNil(v.Values)
				}
			} else {
				o.QuantizedMultivector = make([]sie.Quantized, len(e.Multivector))
				for k, v := range e.Multivector {
					q, err := v.quantized()
					if err != nil {
						return nil, &sie.ModelError{Model: model, Op: "encode", Err: err}
					}
					o.QuantizedMultivector[k] = q
				}
			}
		}
	}
	return out, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (v Vector) quantized() (sie.Quantized, error) {
	d, err := sie.ParseDType(v.DType)
	if err != nil {
		return sie.Quantized{}, fmt.Errorf("%w: the server sent %v", sie.ErrBackend, err)
	}
	return sie.Quantized{DType: d, Dims: v.Dims, Data: nonNil(v.Data), Scale: v.Scale, Min: v.Min}, nil
}

func (c *Client) encode(ctx context.Context, op, model string, texts []string, p EncodeParams) ([]EncodedItem, error) {
	if err := checkUTF8(model, op, texts...); err != nil {
		return nil, err
	}
	items := make([]Item, len(texts))
	for i, t := range texts {
		items[i] = Item{Text: t}
	}
	var res EncodeResponse
	if err := c.post(ctx, op, model, "/v1/encode/", EncodeRequest{Items: items, Params: p}, &res); err != nil {
		return nil, err
	}
	if len(res.Items) != len(texts) {
		return nil, &sie.ModelError{Model: model, Op: op, Err: fmt.Errorf("%w: the server answered %d items for %d", sie.ErrBackend, len(res.Items), len(texts))}
	}
	return res.Items, nil
}

// Rerank scores docs against query, as Engine.Rerank does.
func (c *Client) Rerank(ctx context.Context, model, query string, docs []string, opts ...sie.Option) ([]sie.Ranked, error) {
	co := sie.ReadOptions(opts...)
	if err := checkUTF8(model, "rerank", append([]string{query}, docs...)...); err != nil {
		return nil, err
	}
	items := make([]Item, len(docs))
	for i, d := range docs {
		items[i] = Item{Text: d}
	}
	req := ScoreRequest{Query: Item{Text: query}, Items: items, Params: ScoreParams{
		Instruction: co.Instruction, PromptName: co.Prompt, NoPrompt: co.NoPrompt, TopK: co.TopK,
		ScoreActivation: co.ScoreActivation, ScoreBy: string(co.ScoreBy), HybridWeights: co.HybridWeights,
	}}
	var res ScoreResponse
	if err := c.post(ctx, "rerank", model, "/v1/score/", req, &res); err != nil {
		return nil, err
	}
	out := make([]sie.Ranked, len(res.Scores))
	for i, s := range res.Scores {
		out[i] = sie.Ranked{Index: s.Index, Score: s.Score}
	}
	return out, nil
}

// post sends body to route+model and decodes the answer into out, mapping
// error answers back to sie's sentinels.
func (c *Client) post(ctx context.Context, op, model, route string, body, out any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := json.Marshal(body)
	if err != nil {
		return &sie.ModelError{Model: model, Op: op, Err: fmt.Errorf("%w: %v", sie.ErrInvalidInput, err)}
	}
	if strings.TrimSpace(model) == "" {
		return &sie.ModelError{Model: model, Op: "load", Err: fmt.Errorf("%w: empty model name", sie.ErrModelNotFound)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+route+url.PathEscape(model), bytes.NewReader(data))
	if err != nil {
		return &sie.ModelError{Model: model, Op: op, Err: fmt.Errorf("%w: %v", sie.ErrBackend, err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &sie.ModelError{Model: model, Op: op, Err: fmt.Errorf("%w: %v", sie.ErrBackend, err)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &sie.ModelError{Model: model, Op: op, Err: fmt.Errorf("%w: reading the answer: %v", sie.ErrBackend, err)}
	}
	if resp.StatusCode != http.StatusOK {
		return c.errorFrom(model, op, resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return &sie.ModelError{Model: model, Op: op, Err: fmt.Errorf("%w: cannot decode the answer: %v", sie.ErrBackend, err)}
	}
	return nil
}

// errorFrom rebuilds the error of a sie route's error answer.
func (c *Client) errorFrom(model, op string, status int, raw []byte) error {
	var env struct {
		Error struct {
			Message string `json:"message"`
			Code    string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(raw, &env)
	// The server's message already names the operation and model.
	msg := modelPrefix.ReplaceAllString(env.Error.Message, "")
	if msg == "" {
		msg = fmt.Sprintf("HTTP %d: %s", status, bytes.TrimSpace(raw))
	}
	var kind error
	for _, sc := range sentinelCodes {
		if sc.code == env.Error.Code {
			kind = sc.err
		}
	}
	switch {
	case kind != nil:
	case env.Error.Code == codeCanceled:
		return context.Canceled
	case env.Error.Code == codeLoading || status == http.StatusServiceUnavailable:
		kind = sie.ErrOverloaded
	case status == http.StatusTooManyRequests:
		kind = sie.ErrOverloaded
	case status == http.StatusNotFound:
		kind = sie.ErrModelNotFound
	case status == http.StatusBadRequest || status == http.StatusUnprocessableEntity || status == http.StatusRequestEntityTooLarge:
		kind = sie.ErrInvalidInput
	default:
		kind = sie.ErrBackend
	}
	return &sie.ModelError{Model: model, Op: op, Err: &remoteError{kind: kind, msg: msg, status: status}}
}

// modelPrefix is what *sie.ModelError puts before its cause.
var modelPrefix = regexp.MustCompile(`^sie: \w+ "(?:[^"\\]|\\.)*": `)

// checkUTF8 refuses invalid UTF-8 as the Engine does (JSON would silently
// replace it).
func checkUTF8(model, op string, texts ...string) error {
	for i, t := range texts {
		if !utf8.ValidString(t) {
			return &sie.ModelError{Model: model, Op: op, Err: fmt.Errorf("%w: text %d is not valid UTF-8", sie.ErrInvalidInput, i)}
		}
	}
	return nil
}

// remoteError is an error answered by the server: it matches its sentinel
// with errors.Is and reads as the server's message.
type remoteError struct {
	kind   error
	msg    string
	status int
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.kind }

// StatusCode returns the HTTP status of a Client error, or 0.
func StatusCode(err error) int {
	var re *remoteError
	if errors.As(err, &re) {
		return re.status
	}
	return 0
}
