package server

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/sie-project/sie"
)

// TestClientMatchesEngine runs the Engine's API cases through sie.Service
// on the Engine itself and on a Client of a loopback server over the same
// Engine: the same vectors, sparse entries, scores and orders, and the same
// sentinel errors.
func TestClientMatchesEngine(t *testing.T) {
	var dirs []string
	for _, d := range testAliases {
		dirs = append(dirs, d)
	}
	// Served under their folder names, so the Client names models exactly
	// as the Engine does.
	s := testServer(t, Options{Models: dirs})
	ts := httptest.NewServer(s)
	defer ts.Close()
	eng := testEngine(t)
	client := NewClient(ts.URL, ClientOptions{})

	dense, prompted, rerank := testAliases["dense"], testAliases["prompted"], testAliases["rerank"]
	splade, colbert := testAliases["splade"], testAliases["colbert"]
	q := "what is the capital of France?"
	type call func(ctx context.Context, svc sie.Service) (any, error)
	embed := func(model string, texts []string, opts ...sie.Option) call {
		return func(ctx context.Context, svc sie.Service) (any, error) { return svc.Embed(ctx, model, texts, opts...) }
	}
	encode := func(model string, texts []string, o sie.EncodeOptions) call {
		return func(ctx context.Context, svc sie.Service) (any, error) { return svc.Encode(ctx, model, texts, o) }
	}
	rr := func(model, q string, docs []string, opts ...sie.Option) call {
		return func(ctx context.Context, svc sie.Service) (any, error) {
			return svc.Rerank(ctx, model, q, docs, opts...)
		}
	}
	cases := []struct {
		name string
		call call
		err  error // the sentinel both must match; nil for success
	}{
		{"embed documents", embed(dense, testTexts), nil},
		{"embed queries", embed(dense, testTexts, sie.Query()), nil},
		{"embed instruction", embed(dense, testTexts, sie.Query(), sie.Instruction("Find: ")), nil},
		{"embed named prompt", embed(dense, testTexts, sie.Prompt("query")), nil},
		{"embed templates", embed(prompted, testTexts, sie.Query()), nil},
		{"embed no prompt", embed(prompted, testTexts, sie.NoPrompt()), nil},
		{"embed empty string", embed(dense, []string{""}), nil},
		{"embed empty list", embed(dense, []string{}), nil},
		{"embed unknown prompt", embed(dense, testTexts, sie.Prompt("nope")), sie.ErrInvalidInput},
		{"embed rerank option", embed(dense, testTexts, sie.TopK(2)), sie.ErrInvalidInput},
		{"embed cross-encoder", embed(rerank, testTexts), sie.ErrInvalidInput},
		{"embed invalid utf-8", embed(dense, []string{"ok", "\xff"}), sie.ErrInvalidInput},
		{"embed unknown model", embed("acme/none", testTexts), sie.ErrModelNotFound},
		{"embed empty model", embed("", testTexts), sie.ErrModelNotFound},
		{"encode sparse", encode(splade, testTexts, sie.EncodeOptions{Outputs: sie.Sparse}), nil},
		{"encode sparse queries", encode(splade, testTexts, sie.EncodeOptions{Outputs: sie.Sparse, IsQuery: true}), nil},
		{"encode multivector", encode(colbert, testTexts, sie.EncodeOptions{Outputs: sie.Multivector, IsQuery: true}), nil},
		{"encode multivector int8", encode(colbert, testTexts, sie.EncodeOptions{Outputs: sie.Multivector, DType: sie.Int8}), nil},
		{"encode dense float16", encode(dense, testTexts, sie.EncodeOptions{DType: sie.Float16}), nil},
		{"encode dense int8", encode(dense, testTexts, sie.EncodeOptions{DType: sie.Int8}), nil},
		{"encode dense uint8", encode(dense, testTexts, sie.EncodeOptions{DType: sie.Uint8}), nil},
		{"encode dense binary", encode(dense, testTexts, sie.EncodeOptions{DType: sie.Binary, Dims: 16}), nil},
		{"encode dims", encode(dense, testTexts, sie.EncodeOptions{Dims: 16}), nil},
		{"encode empty list", encode(dense, nil, sie.EncodeOptions{}), nil},
		{"encode negative dims", encode(dense, testTexts, sie.EncodeOptions{Dims: -1}), sie.ErrInvalidInput},
		{"encode dims too large", encode(dense, testTexts, sie.EncodeOptions{Dims: 100000}), sie.ErrInvalidInput},
		{"encode sparse of a dense model", encode(dense, testTexts, sie.EncodeOptions{Outputs: sie.Sparse}), sie.ErrInvalidInput},
		{"encode unknown dtype", encode(dense, testTexts, sie.EncodeOptions{DType: sie.DType(9)}), sie.ErrInvalidInput},
		{"encode unknown output", encode(dense, testTexts, sie.EncodeOptions{Outputs: sie.Output(0x40)}), sie.ErrInvalidInput},
		{"encode unknown model", encode("acme/none", testTexts, sie.EncodeOptions{}), sie.ErrModelNotFound},
		{"rerank", rr(rerank, q, rerankDocs), nil},
		{"rerank raw", rr(rerank, q, rerankDocs, sie.ScoreActivation(sie.ScoreRaw)), nil},
		{"rerank sigmoid top 2", rr(rerank, q, rerankDocs, sie.ScoreActivation(sie.ScoreSigmoid), sie.TopK(2)), nil},
		{"rerank maxsim", rr(colbert, q, rerankDocs), nil},
		{"rerank by dense", rr(dense, q, rerankDocs, sie.ScoreBy(sie.ScoreDense)), nil},
		{"rerank empty docs", rr(rerank, q, nil), nil},
		{"rerank bad activation", rr(rerank, q, rerankDocs, sie.ScoreActivation("tanh")), sie.ErrInvalidInput},
		{"rerank hybrid on a cross-encoder", rr(rerank, q, rerankDocs, sie.HybridWeights(1, 1, 1)), sie.ErrInvalidInput},
		{"rerank an embedding model", rr(dense, q, rerankDocs), sie.ErrInvalidInput},
		{"rerank unknown model", rr("acme/none", q, rerankDocs), sie.ErrModelNotFound},
	}
	sentinels := []error{sie.ErrInvalidInput, sie.ErrModelNotFound, sie.ErrOverloaded, sie.ErrResourceExhausted, sie.ErrClosed, sie.ErrBackend}
	ctx := ctxT(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want, werr := c.call(ctx, eng)
			got, gerr := c.call(ctx, client)
			if c.err == nil {
				if werr != nil || gerr != nil {
					t.Fatalf("engine: %v; client: %v", werr, gerr)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("client and engine differ:\nclient %s\nengine %s", head(got), head(want))
				}
				return
			}
			if !errors.Is(werr, c.err) {
				t.Fatalf("engine: %v, want %v", werr, c.err)
			}
			for _, s := range sentinels {
				if errors.Is(gerr, s) != errors.Is(werr, s) {
					t.Errorf("client error %q: errors.Is(%v) = %v, engine's %q says %v", gerr, s, errors.Is(gerr, s), werr, errors.Is(werr, s))
				}
			}
			var gme, wme *sie.ModelError
			if errors.As(werr, &wme) && (!errors.As(gerr, &gme) || gme.Model != wme.Model) {
				t.Errorf("client error %#v is not a *sie.ModelError for %q", gerr, wme.Model)
			}
		})
	}

	// A cancelled context gives context.Canceled on both.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	for name, svc := range map[string]sie.Service{"engine": eng, "client": client} {
		if _, err := svc.Embed(cctx, dense, testTexts); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: cancelled context gave %v", name, err)
		}
	}
}

func head(v any) string {
	s := fmt.Sprintf("%+v", v)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
