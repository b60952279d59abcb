package sie

import (
	"fmt"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
)

// PoolingMode is how token vectors become one vector per text.
type PoolingMode string

const (
	PoolCLS       PoolingMode = "cls"        // the first token of the sequence
	PoolMean      PoolingMode = "mean"       // the average over real tokens
	PoolMax       PoolingMode = "max"        // the per-dimension maximum over real tokens
	PoolMeanSqrt  PoolingMode = "mean_sqrt"  // the sum over real tokens divided by √(token count)
	PoolLastToken PoolingMode = "last_token" // the last real token (right or left padding alike)
)

// pooling is a sentence-transformers pooling pipeline: one or more modes
// concatenated in sentence-transformers' order, then optionally L2
// normalisation.
type pooling struct {
	modes     []PoolingMode
	normalize bool
}

func (p pooling) String() string {
	var parts []string
	for _, m := range p.modes {
		parts = append(parts, string(m))
	}
	s := strings.Join(parts, "+")
	if p.normalize {
		s += "+normalize"
	}
	return s
}

// stPoolingConfig is sentence-transformers' 1_Pooling/config.json.
type stPoolingConfig struct {
	Dimension    int  `json:"word_embedding_dimension"`
	CLS          bool `json:"pooling_mode_cls_token"`
	Mean         bool `json:"pooling_mode_mean_tokens"`
	Max          bool `json:"pooling_mode_max_tokens"`
	MeanSqrt     bool `json:"pooling_mode_mean_sqrt_len_tokens"`
	WeightedMean bool `json:"pooling_mode_weightedmean_tokens"`
	LastToken    bool `json:"pooling_mode_lasttoken"`
	// IncludePrompt false would exclude the prompt's tokens from pooling.
	IncludePrompt *bool `json:"include_prompt"`
}

// modes lists the enabled modes in the order sentence-transformers
// concatenates them.
func (c stPoolingConfig) modes() ([]PoolingMode, error) {
	if c.WeightedMean {
		return nil, fmt.Errorf("pooling_mode_weightedmean_tokens is not supported")
	}
	if c.IncludePrompt != nil && !*c.IncludePrompt {
		return nil, fmt.Errorf("pooling with include_prompt=false is not supported")
	}
	var m []PoolingMode
	if c.CLS {
		m = append(m, PoolCLS)
	}
	if c.Max {
		m = append(m, PoolMax)
	}
	if c.Mean {
		m = append(m, PoolMean)
	}
	if c.MeanSqrt {
		m = append(m, PoolMeanSqrt)
	}
	if c.LastToken {
		m = append(m, PoolLastToken)
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("no pooling mode enabled")
	}
	return m, nil
}

// pool reduces hidden states to one vector per segment.
//
//	hidden   [B, T, H]
//	segments [B, T]  1-based segment number, 0 on padding
//	first    [B, S]  index of each segment's first token
//	last     [B, S]  index of each segment's last real token
//
// returns [B, S, H·len(modes)]. Slots of S without a segment give zeros.
func (p pooling) pool(hidden, segments, first, last *graph.Node) *graph.Node {
	g := hidden.Graph()
	dims := hidden.Shape().Dimensions
	b, t := dims[0], dims[1]
	s := first.Shape().Dimensions[1]

	// member[b, s, t] = 1 when token t belongs to segment s+1 of row b.
	slot := graph.AddScalar(graph.Iota(g, shapes.Make(dtypes.Int32, 1, s, 1), 1), 1)
	member := graph.ConvertDType(graph.Equal(graph.InsertAxes(segments, 1), slot), dtypes.Float32) // [B, S, T]
	count := graph.ReduceSum(member, -1)                                                           // [B, S]

	// pick[b, s, t] = 1 at one chosen position per segment.
	positions := graph.Iota(g, shapes.Make(dtypes.Int32, 1, 1, t), 2)
	pick := func(at *graph.Node) *graph.Node {
		onehot := graph.ConvertDType(graph.Equal(positions, graph.InsertAxes(at, -1)), dtypes.Float32) // [B, S, T]
		return graph.Einsum("bst,bth->bsh", onehot, hidden)
	}

	var out []*graph.Node
	for _, m := range p.modes {
		switch m {
		case PoolCLS:
			out = append(out, pick(first))
		case PoolLastToken:
			out = append(out, pick(last))
		case PoolMean, PoolMeanSqrt:
			sum := graph.Einsum("bst,bth->bsh", member, hidden)
			var denom *graph.Node
			if m == PoolMean {
				denom = graph.MaxScalar(count, 1e-9) // sentence-transformers clamps at 1e-9
			} else {
				denom = graph.Sqrt(graph.MaxScalar(count, 1e-9))
			}
			out = append(out, graph.Div(sum, graph.InsertAxes(denom, -1)))
		case PoolMax:
			// sentence-transformers sets padding to -1e9 before the max.
			in := graph.InsertAxes(member, -1)                                        // [B, S, T, 1]
			h := graph.BroadcastToDims(graph.InsertAxes(hidden, 1), b, s, t, dims[2]) // [B, S, T, H]
			masked := graph.Where(graph.GreaterThan(in, graph.ScalarZero(g, dtypes.Float32)), h, graph.Scalar(g, dtypes.Float32, -1e9))
			out = append(out, graph.ReduceMax(masked, 2))
		}
	}
	pooled := out[0]
	if len(out) > 1 {
		pooled = graph.Concatenate(out, -1)
	}
	return pooled
}

// l2Normalize is sentence-transformers' Normalize: x / max(‖x‖₂, 1e-12).
func l2Normalize(x *graph.Node) *graph.Node {
	norm := graph.Sqrt(graph.ReduceAndKeep(graph.Square(x), graph.ReduceSum, -1))
	return graph.Div(x, graph.MaxScalar(norm, 1e-12))
}
