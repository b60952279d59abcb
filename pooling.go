package sie

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"

	"github.com/sie-project/sie/arch"
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
	dense     []stDense // sentence-transformers Dense modules after pooling
	normalize bool

	// Token-level pipelines instead of sentence pooling (modes then empty):
	splade     *spladePooling // sentence-transformers SpladePooling over MLM logits (sparse.go)
	tokenDense []stDense      // PyLate Dense projections of every token, ColBERT (colbert.go)
}

func (p pooling) String() string {
	var parts []string
	for _, m := range p.modes {
		parts = append(parts, string(m))
	}
	for _, d := range p.dense {
		parts = append(parts, fmt.Sprintf("dense(%d→%d)", d.in, d.out))
	}
	if p.splade != nil {
		parts = append(parts, "splade("+p.splade.Strategy+")")
	}
	for _, d := range p.tokenDense {
		parts = append(parts, fmt.Sprintf("token-dense(%d→%d)", d.in, d.out))
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

// stDense is a sentence-transformers Dense module: y = act(W·x + b), stored
// in its own folder (config.json and model.safetensors or pytorch_model.bin).
type stDense struct {
	dir        string
	in, out    int
	bias       bool
	activation string // "identity" or "tanh"
	w, b       int    // indices of the weights among the model's params
}

// readDense reads a Dense module's config.json.
func readDense(dir string) (stDense, error) {
	var c struct {
		In         int    `json:"in_features"`
		Out        int    `json:"out_features"`
		Bias       *bool  `json:"bias"`
		Activation string `json:"activation_function"`
	}
	found, err := readJSON(filepath.Join(dir, "config.json"), &c)
	if err != nil {
		return stDense{}, err
	}
	if !found {
		return stDense{}, fmt.Errorf("%w: %s/config.json is missing", ErrInvalidModel, filepath.Base(dir))
	}
	d := stDense{dir: dir, in: c.In, out: c.Out, bias: c.Bias == nil || *c.Bias}
	switch c.Activation {
	case "", "torch.nn.modules.linear.Identity":
		d.activation = "identity"
	case "torch.nn.modules.activation.Tanh":
		d.activation = "tanh"
	default:
		return d, fmt.Errorf("%w: Dense activation %q is not supported", ErrUnsupportedArchitecture, c.Activation)
	}
	if d.in <= 0 || d.out <= 0 {
		return d, fmt.Errorf("%w: %s/config.json: in_features and out_features must be positive", ErrInvalidModel, filepath.Base(dir))
	}
	return d, nil
}

// takeDense loads the Dense modules' weights (strictly: exactly linear.weight
// and, with bias, linear.bias) and appends them to params.
func (p *pooling) takeDense(params []arch.Param, width int) ([]arch.Param, error) {
	for i := range p.dense {
		d := &p.dense[i]
		if d.in != width {
			return nil, fmt.Errorf("%w: %s expects %d inputs, the pooled vector has %d", ErrInvalidModel, filepath.Base(d.dir), d.in, width)
		}
		tensors, err := readModuleTensors(d.dir)
		if err != nil {
			return nil, err
		}
		w := arch.NewWeights(tensors)
		d.w = len(params)
		wi := w.TakeTransformed("linear.weight", []int{d.out, d.in}, arch.Transpose2D)
		bi := -1
		if d.bias {
			bi = w.Take("linear.bias", d.out)
		}
		if err := w.Check(); err != nil {
			return nil, joinKind(ErrInvalidModel, fmt.Errorf("%s: %w", filepath.Base(d.dir), err))
		}
		taken := w.Params()
		params = append(params, taken[wi])
		if bi >= 0 {
			d.b = len(params)
			params = append(params, taken[bi])
		}
		width = d.out
	}
	return params, nil
}

// project applies the Dense modules to pooled [B, S, width].
func (p pooling) project(params arch.Params, x *graph.Node) *graph.Node {
	for _, d := range p.dense {
		x = graph.Einsum("bsi,io->bso", x, params[d.w])
		if d.bias {
			x = graph.Add(x, graph.ExpandLeftToRank(params[d.b], 3))
		}
		if d.activation == "tanh" {
			x = graph.Tanh(x)
		}
	}
	return x
}

// readTokenDense reads a PyLate Dense module (pylate.models.Dense), which
// projects every token: sentence-transformers' Dense config plus
// use_residual, which is not supported.
func readTokenDense(dir string) (stDense, error) {
	d, err := readDense(dir)
	if err != nil {
		return d, err
	}
	var c struct {
		UseResidual bool `json:"use_residual"`
	}
	if _, err := readJSON(filepath.Join(dir, "config.json"), &c); err != nil {
		return d, err
	}
	if c.UseResidual {
		return d, fmt.Errorf("%w: %s: PyLate Dense with use_residual is not supported", ErrUnsupportedArchitecture, filepath.Base(dir))
	}
	return d, nil
}
