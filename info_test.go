package sie

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/sie-project/sie/internal/golden"
)

// TestInfoTokenizeEmbedIDs checks the serving helpers against upstream's
// recorded token ids and embeddings: Tokenize gives upstream's ids and
// tokens, EmbedIDs on those ids gives upstream's vector, Info the model's
// dimension.
func TestInfoTokenizeEmbedIDs(t *testing.T) {
	e := openEngine(t, Options{})
	ctx := context.Background()
	c, err := golden.Load("bert-mean")
	if err != nil {
		t.Fatal(err)
	}
	var want [][]float32
	if err := c.Output("embedding", &want); err != nil {
		t.Fatal(err)
	}
	info, err := e.Info(ctx, c.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if info.Dims != len(want[0]) || info.CrossEncoder || info.Outputs != Dense || info.MaxLength <= 0 || info.VocabSize <= 0 {
		t.Errorf("info %+v", info)
	}
	checked := 0
	for i, in := range c.Inputs {
		text := in.Text
		if in.RawText != nil {
			if in.Prompt != nil {
				continue
			}
			text = *in.RawText
		}
		toks, err := e.Tokenize(ctx, c.Dir, []string{text})
		if err != nil {
			t.Fatal(err)
		}
		ids := realTokens(in.InputIDs, in.AttentionMask)
		if len(ids) >= info.MaxLength {
			continue // upstream truncated it; Tokenize does not
		}
		got := make([]int32, len(toks[0]))
		gotIDs := make([]int, len(toks[0]))
		for k, tk := range toks[0] {
			got[k], gotIDs[k] = int32(tk.ID), tk.ID
			if in.Tokens != nil && k < len(in.Tokens) && tk.Text != in.Tokens[k] {
				t.Errorf("text %d token %d: %q, want %q", i, k, tk.Text, in.Tokens[k])
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(ids) {
			t.Fatalf("text %d ids:\n got %v\nwant %v", i, got, ids)
		}
		vecs, err := e.EmbedIDs(ctx, c.Dir, [][]int{gotIDs})
		if err != nil {
			t.Fatal(err)
		}
		checkEmbedding(t, i, vecs[0], want[i])
		checked++
	}
	if checked == 0 {
		t.Fatal("no fixture text checked")
	}
	t.Logf("%d of %d texts: upstream ids and vectors", checked, len(c.Inputs))
	for _, bad := range [][][]int{{{}}, {{101, 1 << 30}}, {{-1}}} {
		if _, err := e.EmbedIDs(ctx, c.Dir, bad); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("EmbedIDs(%v): %v, want ErrInvalidInput", bad, err)
		}
	}
	enc, err := e.Encode(ctx, c.Dir, []string{"hello"}, EncodeOptions{DType: Int8})
	if err != nil {
		t.Fatal(err)
	}
	f, err := e.Embed(ctx, c.Dir, []string{"hello"})
	if err != nil {
		t.Fatal(err)
	}
	q, err := Quantize(f[0], Int8)
	if err != nil || string(q.Data) != string(enc[0].Quantized.Data) || q.Scale != enc[0].Quantized.Scale {
		t.Errorf("Quantize differs from Encode's Int8: %v", err)
	}
	if _, err := Quantize(f[0], Float32); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("Quantize to float32: %v", err)
	}
}
