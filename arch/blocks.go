package arch

import (
	"math"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/layers/attention"
	"github.com/gomlx/gomlx/ml/nn"
)

// Blocks shared by several architectures.

// linear is torch.nn.Linear: y = x·Wᵀ + b. The weight is stored [out, in]
// and transposed once at load to [in, out].
type linear struct {
	w, b int // indices into Params; b < 0 when the layer has no bias
}

func takeLinear(w *Weights, name string, in, out int, bias bool) linear {
	l := linear{b: -1}
	l.w = w.TakeTransformed(w.Prefix()+name+".weight", []int{out, in}, Transpose2D)
	if bias {
		l.b = w.Take(name+".bias", out)
	}
	return l
}

// apply maps [..., in] to [..., out], optionally followed by an activation.
func (l linear) apply(p Params, x *Node, act ...activation.Type) *Node {
	var b *Node
	if l.b >= 0 {
		b = p[l.b]
	}
	return nn.Dense(x, p[l.w], b, compute.DenseLayoutInputOutputs, act...)
}

// layerNorm is torch.nn.LayerNorm over the last axis.
type layerNorm struct {
	w, b int // b < 0 when the norm has no bias
	eps  float64
}

func takeLayerNorm(w *Weights, name string, size int, eps float64, bias bool) layerNorm {
	n := layerNorm{b: -1, eps: eps}
	n.w = w.Take(name+".weight", size)
	if bias {
		n.b = w.Take(name+".bias", size)
	}
	return n
}

// apply normalises [..., H] over H.
func (n layerNorm) apply(p Params, x *Node) *Node {
	var b *Node
	if n.b >= 0 {
		b = p[n.b]
	}
	return nn.LayerNorm(x, []int{-1}, n.eps, p[n.w], b, nil)
}

// embedding is torch.nn.Embedding: a row lookup in a [V, H] table.
type embedding struct{ w int }

func takeEmbedding(w *Weights, name string, rows, dim int) embedding {
	return embedding{w: w.Take(name+".weight", rows, dim)}
}

// apply maps ids [B, T] to [B, T, H].
func (e embedding) apply(p Params, ids *Node) *Node {
	return Gather(p[e.w], InsertAxes(ids, -1))
}

// segmentMask is the additive attention mask for packed rows, [B, T, 1, T]
// in the BSHD score layout: query i may attend to key j when both belong to
// the same segment and j is not padding (see sameSegment for hidden tokens).
// Masked scores get the lowest float32, as upstream eager attention does, so
// a row with no visible key (a padding query) gets uniform weights instead of
// NaN.
func segmentMask(seg *Node) *Node {
	return additiveMask(sameSegment(seg))
}

// selfAttention runs scaled dot-product attention over heads.
// q, k, v: [B, T, heads, headDim]; mask: [B, T, 1, T] additive. Returns [B, T, heads·headDim].
func selfAttention(q, k, v, mask *Node) *Node {
	out, _ := attention.Core(q, k, v, attention.LayoutBSHD, attention.CoreOptions{AttentionMask: mask})
	dims := out.Shape().Dimensions
	return Reshape(out, dims[0], dims[1], dims[2]*dims[3])
}

// splitHeads reshapes [B, T, heads·d] to [B, T, heads, d].
func splitHeads(x *Node, heads int) *Node {
	dims := x.Shape().Dimensions
	return Reshape(x, dims[0], dims[1], heads, dims[2]/heads)
}

// activationByName maps a Hugging Face hidden_act to GoMLX. Upstream "gelu"
// is the exact erf form; the tanh forms are named gelu_new / gelu_pytorch_tanh.
func activationByName(name string) (activation.Type, bool) {
	switch name {
	case "gelu":
		return activation.TypeGelu, true
	case "relu":
		return activation.TypeRelu, true
	case "silu", "swish":
		return activation.TypeSilu, true
	case "tanh":
		return activation.TypeTanh, true
	}
	return 0, false
}

// ---- Helpers added for the position-bias architectures (MPNet, JinaBert) ----

// selfAttentionBias is selfAttention with an additive score bias (relative
// position buckets, ALiBi): scores = QKᵀ/√d + bias + mask.
// q, k, v: [B, T, heads, headDim]; mask: [B, T, 1, T]; bias: [B, heads, T, T].
// Returns [B, T, heads·headDim].
func selfAttentionBias(q, k, v, mask, bias *Node) *Node {
	out, _ := attention.Core(q, k, v, attention.LayoutBSHD,
		attention.CoreOptions{AttentionMask: mask, AttentionBias: bias})
	dims := out.Shape().Dimensions
	return Reshape(out, dims[0], dims[1], dims[2]*dims[3])
}

// positionDistance is pos_j − pos_i for query i and key j, [B, T, T] int32,
// from the host's position ids [B, T]. Positions restart in every packed
// segment, so within a segment this is the distance upstream computes from
// the row indices of a sequence that sits alone in its row.
func positionDistance(pos *Node) *Node {
	return Sub(InsertAxes(pos, 1), InsertAxes(pos, -1))
}

// ---- Helpers added for XLM-R, ModernBERT, Qwen and the cross-encoder heads ----

// takeLinearExact is takeLinear for a tensor stored outside the model prefix
// (task heads: `classifier.weight` next to `bert.…`).
func takeLinearExact(w *Weights, full string, in, out int, bias bool) linear {
	l := linear{b: -1}
	l.w = w.TakeTransformed(full+".weight", []int{out, in}, Transpose2D)
	if bias {
		l.b = w.TakeExact(full+".bias", out)
	}
	return l
}

// takeLayerNormExact is takeLayerNorm for a tensor outside the model prefix.
func takeLayerNormExact(w *Weights, full string, size int, eps float64, bias bool) layerNorm {
	n := layerNorm{b: -1, eps: eps}
	n.w = w.TakeExact(full+".weight", size)
	if bias {
		n.b = w.TakeExact(full+".bias", size)
	}
	return n
}

// rmsNorm is the LLaMA-family RMSNorm (Qwen2RMSNorm, Qwen3RMSNorm):
// w · x / sqrt(mean(x²) + eps) over the last axis, computed in float32.
type rmsNorm struct {
	w   int
	eps float64
}

func takeRMSNorm(w *Weights, name string, size int, eps float64) rmsNorm {
	return rmsNorm{w: w.Take(name+".weight", size), eps: eps}
}

// apply normalises [..., D] over D.
func (n rmsNorm) apply(p Params, x *Node) *Node {
	variance := ReduceAndKeep(Square(x), ReduceMean, -1)
	// x / √(mean(x²) + eps): Div and Sqrt rather than Rsqrt, which the ONNX
	// Runtime backend lacks.
	x = Div(x, Sqrt(AddScalar(variance, n.eps)))
	return Mul(x, ExpandLeftToRank(p[n.w], x.Rank()))
}

// additiveMask turns a visibility matrix [B, T, T] (query, key) into the
// additive mask [B, T, 1, T] selfAttention takes, with the lowest float32 on
// hidden keys as in segmentMask.
func additiveMask(visible *Node) *Node {
	g := visible.Graph()
	bias := Where(visible, ScalarZero(g, dtypes.Float32), Scalar(g, dtypes.Float32, -math.MaxFloat32))
	return InsertAxes(bias, 2)
}

// sameSegment is the visibility of segmentMask: key j is in query i's
// segment and is not padding. A token numbered −s (see Inputs.Segments) is a
// query of segment s but no key: it reads its segment, nothing reads it.
// [B, T] → [B, T, T].
func sameSegment(seg *Node) *Node {
	k := InsertAxes(seg, 1) // [B, 1, T]
	return LogicalAnd(Equal(Abs(InsertAxes(seg, -1)), k), GreaterThan(k, ScalarZero(seg.Graph(), seg.DType())))
}

// rowIndexDistance is j − i for query row index i and key index j, [1, T, T]
// int32. Packed segments are contiguous, so inside a segment this is the
// distance upstream computes for a sequence alone in its row.
func rowIndexDistance(g *Graph, t int) *Node {
	i := Iota(g, shapes.Make(dtypes.Int32, 1, t, t), 1)
	j := Iota(g, shapes.Make(dtypes.Int32, 1, t, t), 2)
	return Sub(j, i)
}

// causalSegmentMask is segmentMask for decoders: query i sees key j of its
// own segment only when j ≤ i. [B, T] → [B, T, 1, T].
func causalSegmentMask(seg *Node) *Node {
	dist := rowIndexDistance(seg.Graph(), seg.Shape().Dimensions[1])
	return additiveMask(LogicalAnd(sameSegment(seg), LessOrEqual(dist, ScalarZero(seg.Graph(), dtypes.Int32))))
}

// windowSegmentMask is segmentMask restricted to a symmetric sliding window:
// |j − i| ≤ half (ModernBERT's local layers). [B, T] → [B, T, 1, T].
func windowSegmentMask(seg *Node, half int) *Node {
	dist := Abs(rowIndexDistance(seg.Graph(), seg.Shape().Dimensions[1]))
	return additiveMask(LogicalAnd(sameSegment(seg), LessOrEqual(dist, Scalar(seg.Graph(), dtypes.Int32, half))))
}

// segmentTokens picks one token per packed segment: hidden [B, T, H] and
// index [B, S] int32 (a row position per segment) → [B, S, H].
func segmentTokens(hidden, index *Node) *Node {
	g := hidden.Graph()
	dims := index.Shape().Dimensions
	rows := Iota(g, shapes.Make(dtypes.Int32, dims[0], dims[1], 1), 0)                       // [B, S, 1]
	idx := Concatenate([]*Node{rows, InsertAxes(ConvertDType(index, dtypes.Int32), -1)}, -1) // [B, S, 2]
	return Gather(hidden, idx)
}

// segmentMean averages hidden [B, T, H] over the tokens of each of S packed
// segments (numbered 1..S in seg [B, T]) → [B, S, H]; an empty segment gives 0.
func segmentMean(hidden, seg *Node, numSegments int) *Node {
	g := hidden.Graph()
	b, t := seg.Shape().Dimensions[0], seg.Shape().Dimensions[1]
	ids := AddScalar(Iota(g, shapes.Make(seg.DType(), 1, numSegments, 1), 1), 1) // [1, S, 1]: 1..S
	member := ConvertDType(Equal(BroadcastToDims(InsertAxes(seg, 1), b, numSegments, t), BroadcastToDims(ids, b, numSegments, t)), hidden.DType())
	sum := Einsum("bst,bth->bsh", member, hidden)               // [B, S, H]
	count := MaxScalar(ReduceAndKeep(member, ReduceSum, -1), 1) // [B, S, 1]
	return Div(sum, count)
}

// ---- post-norm transformer blocks (BERT, MPNet, JinaBERT) ----

// postNormAttention is BERT-style self-attention with its output projection,
// residual and LayerNorm (BertAttention = BertSelfAttention + BertSelfOutput).
// The architectures differ only in tensor names, given by the caller.
type postNormAttention struct {
	query, key, value, out linear
	norm                   layerNorm
	heads                  int
}

// takePostNormAttention takes q, k, v, o (each with bias) and the norm;
// names lists their prefixes in that order.
func takePostNormAttention(w *Weights, names [5]string, hidden, heads int, eps float64) postNormAttention {
	return postNormAttention{
		query: takeLinear(w, names[0], hidden, hidden, true),
		key:   takeLinear(w, names[1], hidden, hidden, true),
		value: takeLinear(w, names[2], hidden, hidden, true),
		out:   takeLinear(w, names[3], hidden, hidden, true),
		norm:  takeLayerNorm(w, names[4], hidden, eps, true),
		heads: heads,
	}
}

// forward: x [B, T, H], mask [B, T, 1, T], bias [B, heads, T, T] or nil → [B, T, H].
func (a postNormAttention) forward(p Params, x, mask, bias *Node) *Node {
	q := splitHeads(a.query.apply(p, x), a.heads) // [B, T, heads, d]
	k := splitHeads(a.key.apply(p, x), a.heads)
	v := splitHeads(a.value.apply(p, x), a.heads)
	var ctx *Node // [B, T, H]
	if bias == nil {
		ctx = selfAttention(q, k, v, mask)
	} else {
		ctx = selfAttentionBias(q, k, v, mask, bias)
	}
	return a.norm.apply(p, Add(a.out.apply(p, ctx), x))
}

// postNormMLP is BertIntermediate + BertOutput: dense → activation → dense,
// residual, LayerNorm.
type postNormMLP struct {
	intermediate, output linear
	norm                 layerNorm
	act                  activation.Type
}

// takePostNormMLP takes the two dense layers and the norm, named by prefix.
func takePostNormMLP(w *Weights, names [3]string, hidden, inter int, eps float64, act activation.Type) postNormMLP {
	return postNormMLP{
		intermediate: takeLinear(w, names[0], hidden, inter, true),
		output:       takeLinear(w, names[1], inter, hidden, true),
		norm:         takeLayerNorm(w, names[2], hidden, eps, true),
		act:          act,
	}
}

// forward: x [B, T, H] → [B, T, H].
func (m postNormMLP) forward(p Params, x *Node) *Node {
	hidden := m.intermediate.apply(p, x, m.act) // [B, T, I]
	return m.norm.apply(p, Add(m.output.apply(p, hidden), x))
}

// sumEmbeddings is the embedding block of BERT's descendants: word
// embeddings plus, when the model has them, token-type and absolute position
// embeddings, then LayerNorm.
type sumEmbeddings struct {
	word, tokenType, position  embedding
	hasTokenType, hasPositions bool
	norm                       layerNorm
}

// forward: ids, types, positions [B, T] → [B, T, H].
func (e sumEmbeddings) forward(p Params, in Inputs) *Node {
	x := e.word.apply(p, in.IDs)
	if e.hasTokenType {
		x = Add(x, e.tokenType.apply(p, in.TypeIDs))
	}
	if e.hasPositions {
		x = Add(x, e.position.apply(p, in.Positions))
	}
	return e.norm.apply(p, x)
}
