package catalog

import (
	"math"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
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
// the same segment and j is not padding. Masked scores get the lowest
// float32, as upstream eager attention does, so a row with no visible key
// (a padding query) gets uniform weights instead of NaN.
func segmentMask(seg *Node) *Node {
	g := seg.Graph()
	q := InsertAxes(seg, -1) // [B, T, 1]
	k := InsertAxes(seg, 1)  // [B, 1, T]
	visible := LogicalAnd(Equal(q, k), NotEqual(k, ScalarZero(g, seg.DType())))
	zero := ScalarZero(g, dtypes.Float32)
	lowest := Scalar(g, dtypes.Float32, -math.MaxFloat32)
	bias := Where(visible, zero, lowest) // [B, T, T]
	return InsertAxes(bias, 2)           // [B, T, 1, T]
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
