// Package verify checks a migration to sie: it embeds the same texts with sie
// and with the system being replaced (an HTTP endpoint speaking the OpenAI,
// TEI, Cohere or Infinity wire format, or vectors exported to a JSONL file)
// and reports how far the two legs agree.
//
// Two checks are offered. [Compare] is for the same checkpoint on both legs:
// per-item cosine similarity and vector norms, with a hint when the pattern
// of differences points at a cause (a prefix, normalisation, truncation).
// [Retrieval] is for a model change: recall@k, nDCG@10 and MRR@10 of both
// legs on a labelled set in the BEIR layout. The `sie verify` command is a
// thin shell over this package.
package verify

import (
	"context"
	"fmt"

	"github.com/sie-project/sie"
)

// A Leg embeds texts. isQuery says the texts are search queries rather than
// documents, for legs that distinguish the two.
type Leg interface {
	Embed(ctx context.Context, texts []string, isQuery bool) ([][]float32, error)
}

// ServiceLeg embeds with sie: an in-process *sie.Engine or any other
// sie.Service.
type ServiceLeg struct {
	Service sie.Service
	Model   string
	// Options are added to every call (for example sie.NoPrompt()).
	Options []sie.Option
}

// Embed implements Leg; queries get sie.Query().
func (l ServiceLeg) Embed(ctx context.Context, texts []string, isQuery bool) ([][]float32, error) {
	opts := l.Options
	if isQuery {
		opts = append(append([]sie.Option(nil), opts...), sie.Query())
	}
	return l.Service.Embed(ctx, l.Model, texts, opts...)
}

// FileLeg replays vectors exported from another system: Vectors[i] belongs to
// the i-th text the leg is asked about over its whole life, so a FileLeg
// serves one pass over the texts in order.
type FileLeg struct {
	Vectors [][]float32
	next    int
}

// Embed implements Leg by handing out the next len(texts) vectors.
func (l *FileLeg) Embed(_ context.Context, texts []string, _ bool) ([][]float32, error) {
	if l.next+len(texts) > len(l.Vectors) {
		return nil, fmt.Errorf("the vector file has %d vectors, fewer than the %d texts asked for", len(l.Vectors), l.next+len(texts))
	}
	out := l.Vectors[l.next : l.next+len(texts)]
	l.next += len(texts)
	return out, nil
}

// embedAll embeds texts in batches of size batch, calling progress after
// each batch with the number of texts done so far.
func embedAll(ctx context.Context, leg Leg, texts []string, isQuery bool, batch int, progress func(done int)) ([][]float32, error) {
	if batch <= 0 {
		batch = 64
	}
	out := make([][]float32, 0, len(texts))
	for start := 0; start < len(texts); start += batch {
		end := min(start+batch, len(texts))
		vecs, err := leg.Embed(ctx, texts[start:end], isQuery)
		if err != nil {
			return nil, err
		}
		if len(vecs) != end-start {
			return nil, fmt.Errorf("asked for %d vectors, got %d", end-start, len(vecs))
		}
		out = append(out, vecs...)
		if progress != nil {
			progress(end)
		}
	}
	return out, nil
}
