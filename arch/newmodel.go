package arch

// NewModel, the "new" architecture of Alibaba's GTE v1.5 family (Zhang et
// al., 2024, "mGTE: Generalized Long-Context Text Representation and
// Reranking Models for Multilingual Text Retrieval"): a post-norm BERT with
// rotary position embeddings (NTK-scaled), a packed qkv projection and a
// gated-GELU feed-forward. It mirrors the remote code of the hub repository
// Alibaba-NLP/new-impl, modeling.py (read in the copy vendored by
// xuhaike/SparseCL @ 03dd0e1c, gte/modeling.py): NewEmbeddings (with
// RotaryEmbedding / NTKScalingRotaryEmbedding), NewAttention, NewGatedMLP,
// NewLayer, NewEncoder, NewPooler, NewModel. gte-base/large-en-v1.5,
// gte-multilingual-base and stella_en_400M_v5 use it.

import (
	"encoding/json"
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers/activation"
)

// NewModelConfig is the subset of a NewModel config.json the graph depends on.
type NewModelConfig struct {
	VocabSize             int             `json:"vocab_size"`
	HiddenSize            int             `json:"hidden_size"`
	NumHiddenLayers       int             `json:"num_hidden_layers"`
	NumAttentionHeads     int             `json:"num_attention_heads"`
	IntermediateSize      int             `json:"intermediate_size"`
	HiddenAct             string          `json:"hidden_act"`
	MaxPositionEmbeddings int             `json:"max_position_embeddings"`
	TypeVocabSize         int             `json:"type_vocab_size"`
	LayerNormType         string          `json:"layer_norm_type"`
	LayerNormEps          float64         `json:"layer_norm_eps"`
	PositionEmbeddingType string          `json:"position_embedding_type"`
	RopeTheta             float64         `json:"rope_theta"`
	RopeScaling           *newRopeScaling `json:"rope_scaling"`
	PackQKV               bool            `json:"pack_qkv"`
	LognAttentionScale    bool            `json:"logn_attention_scale"`
}

// newRopeScaling is NewConfig.rope_scaling: only "ntk" exists upstream
// (linear and dynamic are commented out there and raise).
type newRopeScaling struct {
	Type   string   `json:"type"`
	Factor float64  `json:"factor"`
	MixedB *float64 `json:"mixed_b"`
}

func (c *NewModelConfig) headDim() int { return c.HiddenSize / c.NumAttentionHeads }

func (c *NewModelConfig) validate() error {
	switch {
	case c.HiddenSize <= 0, c.NumHiddenLayers <= 0, c.NumAttentionHeads <= 0, c.IntermediateSize <= 0:
		return fmt.Errorf("config: hidden_size, num_hidden_layers, num_attention_heads and intermediate_size must be positive")
	case c.HiddenSize%c.NumAttentionHeads != 0:
		return fmt.Errorf("config: hidden_size %d is not a multiple of num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
	case c.MaxPositionEmbeddings <= 0:
		return fmt.Errorf("config: max_position_embeddings must be positive")
	case c.TypeVocabSize < 0:
		return fmt.Errorf("config: type_vocab_size must not be negative")
	case c.LayerNormType != "layer_norm":
		return fmt.Errorf("config: layer_norm_type %q is not supported (only \"layer_norm\")", c.LayerNormType)
	case c.LognAttentionScale:
		return fmt.Errorf("config: logn_attention_scale is not supported")
	}
	switch c.PositionEmbeddingType {
	case "absolute":
	case "rope":
		if c.RopeTheta <= 0 {
			return fmt.Errorf("config: rope_theta must be positive")
		}
		if c.headDim()%2 != 0 {
			return fmt.Errorf("config: rotary needs an even head dimension, got %d", c.headDim())
		}
		if s := c.RopeScaling; s != nil {
			if s.Type != "ntk" {
				return fmt.Errorf("config: rope_scaling type %q is not supported (NewModel only has \"ntk\")", s.Type)
			}
			if s.Factor <= 0 {
				return fmt.Errorf("config: rope_scaling factor %g must be positive", s.Factor)
			}
		}
	default:
		return fmt.Errorf("config: position_embedding_type %q is not supported (rope, absolute)", c.PositionEmbeddingType)
	}
	if _, ok := activationByName(c.HiddenAct); !ok {
		return fmt.Errorf("config: hidden_act %q is not supported", c.HiddenAct)
	}
	return nil
}

func parseNewModelConfig(data []byte) (*NewModelConfig, error) {
	// Defaults of NewConfig.
	c := &NewModelConfig{HiddenAct: "gelu", MaxPositionEmbeddings: 2048, TypeVocabSize: 1, LayerNormType: "layer_norm",
		LayerNormEps: 1e-12, PositionEmbeddingType: "rope", RopeTheta: 10000, PackQKV: true}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	return c, c.validate()
}

// newInvFreq is the inverse-frequency table of NewEmbeddings' rotary
// embedding. NTKScalingRotaryEmbedding builds its cache for
// max_position_embeddings · factor positions at load time, which switches the
// frequencies for every input length when factor > 1:
// inv_freq_k = (theta·f)^(−2k/d) / f^(2/d), or, with mixed_b, theta^(−2k/d)
// divided by exp(a·(k+1)^b) with a = ln f / (d/2)^b.
func newInvFreq(c *NewModelConfig) []float64 {
	d := c.headDim()
	s := c.RopeScaling
	if s == nil || s.Factor <= 1 {
		return ropeInvFreq(d, c.RopeTheta)
	}
	if s.MixedB == nil {
		inv := ropeInvFreq(d, c.RopeTheta*s.Factor)
		div := math.Pow(s.Factor, 2/float64(d))
		for k := range inv {
			inv[k] /= div
		}
		return inv
	}
	inv := ropeInvFreq(d, c.RopeTheta)
	b := *s.MixedB
	a := math.Log(s.Factor) / math.Pow(float64(d)/2, b)
	for k := range inv {
		inv[k] /= math.Exp(a * math.Pow(float64(k+1), b))
	}
	return inv
}

// takeNewEmbeddings builds NewEmbeddings: word (+ token type when type_vocab_size > 0, + absolute
// position for position_embedding_type "absolute"), then LayerNorm.
func takeNewEmbeddings(w *Weights, c *NewModelConfig) sumEmbeddings {
	e := sumEmbeddings{
		word: takeEmbedding(w, "embeddings.word_embeddings", -1, c.HiddenSize),
		norm: takeLayerNorm(w, "embeddings.LayerNorm", c.HiddenSize, c.LayerNormEps, true),
	}
	if c.TypeVocabSize > 0 {
		e.tokenType = takeEmbedding(w, "embeddings.token_type_embeddings", c.TypeVocabSize, c.HiddenSize)
		e.hasTokenType = true
	}
	if c.PositionEmbeddingType == "absolute" {
		e.position = takeEmbedding(w, "embeddings.position_embeddings", c.MaxPositionEmbeddings, c.HiddenSize)
		e.hasPositions = true
	}
	w.Ignore("embeddings.position_ids") // buffer, not a weight
	return e
}

// newLayer is the post-norm NewLayer: h = attn_ln(h + o_proj(attn(h))), then
// h = mlp_ln(h + down_proj(up · act(gate))) where up_gate_proj yields up
// first and gate second.
type newLayer struct {
	qkv, q, k, v, o linear
	packed          bool
	attnNorm        layerNorm
	upGate, down    linear
	mlpNorm         layerNorm
	heads, hidden   int
	inter           int
	act             activation.Type
}

func takeNewLayer(w *Weights, c *NewModelConfig, i int) newLayer {
	pre := fmt.Sprintf("encoder.layer.%d.", i)
	h, in := c.HiddenSize, c.IntermediateSize
	act, _ := activationByName(c.HiddenAct)
	l := newLayer{
		packed:   c.PackQKV,
		o:        takeLinear(w, pre+"attention.o_proj", h, h, true),
		attnNorm: takeLayerNorm(w, pre+"attn_ln", h, c.LayerNormEps, true),
		upGate:   takeLinear(w, pre+"mlp.up_gate_proj", h, 2*in, false),
		down:     takeLinear(w, pre+"mlp.down_proj", in, h, true),
		mlpNorm:  takeLayerNorm(w, pre+"mlp_ln", h, c.LayerNormEps, true),
		heads:    c.NumAttentionHeads,
		hidden:   h,
		inter:    in,
		act:      act,
	}
	if c.PackQKV {
		l.qkv = takeLinear(w, pre+"attention.qkv_proj", h, 3*h, true)
	} else {
		l.q = takeLinear(w, pre+"attention.q_proj", h, h, true)
		l.k = takeLinear(w, pre+"attention.k_proj", h, h, true)
		l.v = takeLinear(w, pre+"attention.v_proj", h, h, true)
	}
	return l
}

// forward: x [B, T, H], mask [B, T, 1, T], rotary cos/sin [B, T, 1, d] (nil
// for absolute positions) → [B, T, H].
func (l newLayer) forward(p Params, x, mask *Node, rope *rotary, cos, sin *Node) *Node {
	var q, k, v *Node
	if l.packed {
		qkv := l.qkv.apply(p, x) // [B, T, 3H]: q, k, v blocks of H
		q = SliceAxis(qkv, -1, AxisRange(0, l.hidden))
		k = SliceAxis(qkv, -1, AxisRange(l.hidden, 2*l.hidden))
		v = SliceAxis(qkv, -1, AxisRange(2*l.hidden, 3*l.hidden))
	} else {
		q, k, v = l.q.apply(p, x), l.k.apply(p, x), l.v.apply(p, x)
	}
	q, k, v = splitHeads(q, l.heads), splitHeads(k, l.heads), splitHeads(v, l.heads) // [B, T, heads, d]
	if rope != nil {
		q, k = rope.apply(q, cos, sin), rope.apply(k, cos, sin)
	}
	ctx := selfAttention(q, k, v, mask) // [B, T, H]
	x = l.attnNorm.apply(p, Add(l.o.apply(p, ctx), x))
	ug := l.upGate.apply(p, x)                                                        // [B, T, 2I]
	up := SliceAxis(ug, -1, AxisRange(0, l.inter))                                    // first half: linear
	gate := activation.Apply(l.act, SliceAxis(ug, -1, AxisRange(l.inter, 2*l.inter))) // second half: activated
	return l.mlpNorm.apply(p, Add(l.down.apply(p, Mul(up, gate)), x))
}

// NewModel is the bare encoder.
type NewModel struct {
	cfg        *NewModelConfig
	embeddings sumEmbeddings
	rope       *rotary // nil for absolute positions
	layers     []newLayer
	pooler     *bertPooler // NewPooler is BertPooler; nil when not stored
	arch       string
}

// NewNewModel takes NewModel's tensors from w (bare names, or under "new."
// for task checkpoints, whose MLM head is ignored).
func NewNewModel(config []byte, w *Weights, arch string) (*NewModel, error) {
	c, err := parseNewModelConfig(config)
	if err != nil {
		return nil, err
	}
	w.ResolvePrefix("embeddings.word_embeddings.weight", "", "new.")
	m := &NewModel{cfg: c, embeddings: takeNewEmbeddings(w, c), arch: arch}
	if c.PositionEmbeddingType == "rope" {
		r := newRotary(newInvFreq(c)) // positions 0..L−1 within each sequence
		m.rope = &r
	}
	for i := 0; i < c.NumHiddenLayers; i++ {
		m.layers = append(m.layers, takeNewLayer(w, c, i))
	}
	if w.Has("pooler.dense.weight") {
		m.pooler = &bertPooler{dense: takeLinear(w, "pooler.dense", c.HiddenSize, c.HiddenSize, true)}
	}
	// NewForMaskedLM's head: not part of the encoder.
	w.IgnoreExact("lm_head.dense.weight", "lm_head.dense.bias", "lm_head.norm.weight", "lm_head.norm.bias",
		"lm_head.decoder.weight", "lm_head.decoder.bias")
	return m, nil
}

// Forward runs NewModel: [B, T] inputs → last hidden states [B, T, H].
func (m *NewModel) Forward(p Params, in Inputs) *Node {
	mask := segmentMask(in.Segments)
	var cos, sin *Node
	if m.rope != nil {
		cos, sin = m.rope.cosSin(in.Positions) // [B, T, 1, d]
	}
	x := m.embeddings.forward(p, in)
	for _, l := range m.layers {
		x = l.forward(p, x, mask, m.rope, cos, sin)
	}
	return x
}

// Pooler returns NewPooler's output [B, H] (dense + tanh on the first
// token), or nil when the checkpoint stores no pooler (NewModel's default).
func (m *NewModel) Pooler(p Params, hidden *Node) *Node {
	return m.pooler.forward(p, hidden)
}

// Info implements Encoder.
func (m *NewModel) Info() Info {
	return Info{
		Architecture:  m.arch,
		HiddenSize:    m.cfg.HiddenSize,
		MaxPositions:  m.cfg.MaxPositionEmbeddings,
		TypeVocabSize: m.cfg.TypeVocabSize,
	}
}

func init() {
	Register(func(config []byte, w *Weights) (Encoder, error) {
		return NewNewModel(config, w, "NewModel")
	}, "NewModel")
	Register(func(config []byte, w *Weights) (Encoder, error) {
		return NewNewForMaskedLM(config, w) // mlm.go
	}, "NewForMaskedLM")
}
